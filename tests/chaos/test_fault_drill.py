"""The fault drill in small: router, agent and broker faults while 60 documents flow; nothing lost or doubled.

The same code as `bench/fault_drill.py` (issue 5's "Must show"), imported and awaited in this test's loop.
The drill owns its broker (it must restart it with the data gone) and its PostgreSQL, and runs the router
and the agents as separate processes, so the session fixtures are not used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _drill_procs import DrillError  # noqa: E402
from fault_drill import DrillOptions, run_drill  # noqa: E402

pytestmark = pytest.mark.chaos


async def test_no_document_or_receipt_is_lost_or_doubled_through_three_faults() -> None:
    lines: list[str] = []
    report = await run_drill(DrillOptions(documents=60, concurrency=8, converge_timeout_s=90.0,
                                          log=lines.append))

    detail = "\n".join(lines + [str(report.as_json())])
    faults = [f["fault"] for f in report.faults]
    assert len(faults) == 3, detail
    assert faults[0].startswith("kill -9 router") and faults[1].startswith("kill -9 agent"), detail
    assert faults[2].startswith("restart broker"), detail
    assert report.documents == 60, detail
    assert report.delivered == report.expected_deliveries > 0, detail
    assert (report.lost, report.duplicated, report.receipts_missing, report.receipts_duplicated) == (0, 0, 0, 0), detail


async def test_a_drill_with_a_hung_agent_fails_within_its_stall_limit_and_says_which_component() -> None:
    lines: list[str] = []
    with pytest.raises(DrillError) as stalled:
        await run_drill(DrillOptions(documents=40, concurrency=8, stall_s=6.0, progress_every_s=2.0,
                                     freeze_agent=True, log=lines.append))
    message = str(stalled.value)
    frozen = next(line for line in lines if line.startswith("freezing agent")).split()[2]
    assert message.startswith("stalled: no document accepted for"), message
    assert f"agent {frozen}: /health did not answer" in message, message
    assert "router: ok" in message, message
    assert any(" progress: " in line for line in lines), lines
