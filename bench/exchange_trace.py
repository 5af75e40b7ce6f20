"""Where the quiet-time latency goes: timestamps at each step of one document's path, averaged.

    .venv/bin/python bench/exchange_trace.py [--documents 20] [--load 0]

Wraps (in this process only) the methods at each step and records when each message passed:
submit -> outbox commit -> agent publish ack -> router consume -> ledger commit -> router publish ack ->
recipient consume -> verified -> stored, then the 01 back the same way. Prints the median and p90 of each
step's delay after the previous one. Uses exchange_bench's phases; a measuring tool, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exchange_bench  # noqa: E402

from agents.receiver import Receiver  # noqa: E402
from agents.store import UnitOfWork  # noqa: E402
from axis import wire  # noqa: E402
from axis.router._intake import Intake  # noqa: E402
from axis.router._router import Router  # noqa: E402
from axis.transport import Publisher  # noqa: E402

MARKS: dict[str, dict[str, float]] = defaultdict(dict)  # message id -> step -> time.perf_counter()
KIND: dict[str, str] = {}


def _mark(message_id: str, step: str) -> None:
    MARKS[message_id].setdefault(step, time.perf_counter())


def _install() -> None:
    add_outbox, publish_many, handle, process = UnitOfWork.add_outbox, Publisher.publish_many, Intake.handle, Router._process
    r_handle, r_delivery, r_verified = Receiver.handle_batch, Receiver._deliveries, Receiver._verified_entry

    async def _add_outbox(self: UnitOfWork, entry: Any) -> Any:
        submission = await add_outbox(self, entry)
        _mark(submission.message_id, "outbox-commit")  # the commit follows at once
        KIND[submission.message_id] = entry.kind
        return submission

    async def _publish_many(self: Publisher, records: Any) -> None:
        await publish_many(self, records)
        for r in records:
            try:
                mid = wire.RecordHeaders.decode(r.headers).message_id
            except wire.WireFormatError:
                continue
            _mark(mid, "agent-publish-ack" if r.topic == wire.OUTBOUND else "router-publish-ack")

    async def _handle(self: Intake, uow: Any, record: Any, now: Any, effects: Any) -> None:
        _mark(wire.RecordHeaders.decode(record.headers).message_id, "router-consume")
        await handle(self, uow, record, now, effects)

    async def _process(self: Router, batch: Any) -> None:
        await process(self, batch)
        for record in batch.records:
            _mark(wire.RecordHeaders.decode(record.headers).message_id, "ledger-commit")

    async def _r_handle(self: Receiver, records: Any) -> None:
        for record in records:
            if record.topic != wire.DIRECTORY:
                headers = wire.RecordHeaders.decode(record.headers)
                if headers.kind in ("edoc", "status"):
                    _mark(headers.message_id, "recipient-consume")
        await r_handle(self, records)

    async def _r_delivery(self: Receiver, items: Any) -> None:
        await r_delivery(self, items)
        for headers, _ in items:
            _mark(headers.message_id, "stored")

    def _r_verified(self: Receiver, headers: Any, body: bytes) -> Any:
        result = r_verified(self, headers, body)
        _mark(headers.message_id, "verified")
        return result

    UnitOfWork.add_outbox = _add_outbox  # type: ignore[method-assign]
    Publisher.publish_many = _publish_many  # type: ignore[method-assign]
    Intake.handle = _handle  # type: ignore[method-assign]
    Router._process = _process  # type: ignore[method-assign]
    Receiver.handle_batch = _r_handle  # type: ignore[method-assign]
    Receiver._deliveries = _r_delivery  # type: ignore[method-assign]
    Receiver._verified_entry = _r_verified  # type: ignore[method-assign]


STEPS = ("outbox-commit", "agent-publish-ack", "router-consume", "ledger-commit", "router-publish-ack",
         "recipient-consume", "verified", "stored")


def report() -> str:
    lines = [f"{'kind':<7}{'step':<20}{'median ms':>10}{'p90 ms':>9}   (delay after the previous step)"]
    for kind in ("edoc", "status"):
        deltas: dict[str, list[float]] = defaultdict(list)
        totals = []
        for mid, marks in MARKS.items():
            if KIND.get(mid) != kind or not all(s in marks for s in STEPS):
                continue
            for prev, step in zip(STEPS, STEPS[1:]):
                deltas[step].append((marks[step] - marks[prev]) * 1000)
            totals.append((marks["stored"] - marks["outbox-commit"]) * 1000)
        if not totals:
            continue
        for step in STEPS[1:]:
            values = sorted(deltas[step])
            lines.append(f"{kind:<7}{step:<20}{statistics.median(values):>10.1f}{values[int(0.9 * (len(values) - 1))]:>9.1f}")
        lines.append(f"{kind:<7}{'total (n=%d)' % len(totals):<20}{statistics.median(totals):>10.1f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--load", type=int, default=0)
    args = parser.parse_args()
    _install()
    ns = argparse.Namespace(agencies=4, quiet=args.documents, gap_s=0.3, documents=args.load, idle_s=0.5,
                            timeout_s=300.0)
    with tempfile.TemporaryDirectory(prefix="axis-trace-") as tmp:
        result = asyncio.run(exchange_bench.run(ns, Path(tmp) / "exchange"))
    print(exchange_bench.render(result))
    print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
