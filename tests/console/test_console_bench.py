"""The console bench in small: it seeds, measures every page and prints one JSON object last (the full run,
1,000,000 documents, is `bench/console_bench.py` itself; its figures are in docs/CONSOLE.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "console_bench.py"


@pytest.mark.slow
def test_the_bench_seeds_measures_each_page_and_reports_json() -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--documents", "2000", "--agencies", "12", "--days", "2",
                             "--requests", "8", "--timeout", "120", "--json"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["documents"] == 2000 and report["events"] > 2000 * 10
    for key in ("overview_p95_ms", "search_p95_ms", "document_p95_ms", "seed_s"):
        assert isinstance(report[key], (int, float)) and report[key] > 0, key
    assert set(report["pages_ms"]) >= {"overview", "document", "search", "agencies", "overdue", "dead_letters"}
    assert report["under_300_ms"] is True


def test_a_bench_that_hangs_fails_naming_its_stage() -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--documents", "2000", "--timeout", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert re.search(r"console bench FAILED: still in stage '[a-zA-Z ,0-9]+' after 1 s", result.stderr), result.stderr
