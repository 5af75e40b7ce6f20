"""`bench/exchange_bench.py --quick --json`: every figure the throughput issue names, from a real run.

Not a timed test: it checks that the bench measures what it says (the exchange as separate processes and both
ceilings, on the same traffic) and that its JSON keeps its keys, whatever this machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("docs_per_s", "p50_ms", "p99_ms", "raw_crypto_docs_per_s", "raw_transport_docs_per_s", "ratio_to_crypto",
        "ratio_to_transport", "cpu_s_per_1000_docs")
OLD_KEYS = ("quiet_latency_ms", "receipt_latency_ms", "load_docs_per_s", "load_latency_ms", "idle_cpu_percent")


def test_quick_bench_reports_the_exchange_against_both_ceilings() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "exchange_bench.py"), "--quick", "--json", "--process-documents", "200"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(KEYS + OLD_KEYS) <= set(figures), sorted(set(KEYS + OLD_KEYS) - set(figures))
    assert all(figures[key] > 0 for key in KEYS), {key: figures[key] for key in KEYS}
    assert figures["p50_ms"] <= figures["p99_ms"]
    assert figures["ratio_to_crypto"] == round(figures["docs_per_s"] / figures["raw_crypto_docs_per_s"], 3)
    assert figures["ratio_to_transport"] == round(figures["docs_per_s"] / figures["raw_transport_docs_per_s"], 3)
    assert "documents/s" in done.stdout and "ceilings:" in done.stdout
