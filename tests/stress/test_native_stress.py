"""lxml and python-xmlsec under threads: cold processes survive concurrent validation, signing and parsing.

Two faults, both only under threads (the agent and the router run parsing, validation and signing in
`asyncio.to_thread` workers):

- libxml2 2.14's `xmlSchemaInitTypes` is an unlocked lazy init run by the first `xmlSchemaParse`; two
  threads building the first `XMLSchema` at once free the built-in type table under each other, and the
  process answers `XMLSchemaParseError` (or crashes) from then on;
- an lxml `XMLSchema` has one `error_log`, cleared and filled by every `validate()`: read after a
  concurrent validation, it holds another package's errors, or none at all.

`bench/native_stress.py` runs cold processes that do it all at once; this test runs it small.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import edxml

ROOT = Path(__file__).resolve().parents[2]
SENDER, RECIPIENT = "000.00.00.G22", "000.00.00.H41"


@pytest.mark.slow
def test_cold_processes_survive_concurrent_schema_building_validation_signing_and_parsing() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "native_stress.py"), "--runs", "8", "--forks", "20", "--json"],
        check=False, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["failed"] == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_concurrent_strict_validations_each_report_their_own_errors() -> None:
    doc = edxml.serialize(edxml.build_document(
        sender=edxml.Organization(SENDER, "Văn phòng Chính phủ", organ_add="Hà Nội"),
        recipients=[edxml.Organization(RECIPIENT, "UBND Tỉnh Nghệ An", organ_add="Vinh")],
        code=edxml.Code("7816", "VPCP-TTĐT"), subject="Về việc triển khai trục liên thông văn bản"))
    bad = {
        "Subjekt": doc.replace(b"<Subject>", b"<Subjekt>").replace(b"</Subject>", b"</Subjekt>"),
        "Zusatz": doc.replace(b"</Subject>", b"</Subject><Zusatz>x</Zusatz>"),
    }
    wrong: list[str] = []
    barrier = threading.Barrier(6)

    def work(marker: str | None) -> None:
        barrier.wait()
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and len(wrong) < 20:
            report = edxml.validate(doc if marker is None else bad[marker], profile="strict")
            messages = [e.message for e in report.errors]
            if marker is None:
                if not report.ok:
                    wrong.append(f"valid package rejected: {messages[:2]}")
            else:
                other = "Zusatz" if marker == "Subjekt" else "Subjekt"
                if report.ok or not any(marker in m for m in messages) or any(other in m for m in messages):
                    wrong.append(f"{marker}: ok={report.ok} {messages[:2]}")

    threads = [threading.Thread(target=work, args=(m,)) for m in ("Subjekt", "Zusatz", None) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, wrong[:5]
