"""Fault drill (issue 5): documents keep flowing between agencies while the exchange is hurt three times.

    .venv/bin/python bench/fault_drill.py [--documents 2000] [--routers 1] [--json] [--keep]

Four agencies, each with its agent in its own process and a document system played by this script over
the agent's HTTP API (submit, poll, answer 03, acknowledge). While the documents flow:

1. after about 1/4 of them are submitted, the router (with `--routers N`, the first of N replicas) is killed
   with SIGKILL and restarted 2 s later; `flow_gap_s` is the longest time after it with no delivery recorded
   by any router (with replicas: how long the survivors took to carry on; with one router: its downtime);
2. after about 1/2, one agent is killed with SIGKILL and restarted 2 s later on the same data folder;
3. after about 3/4, the broker is restarted with every topic, record and offset lost (Tansu in memory).

Then it waits (bounded) until every document has reached every recipient's document system and every
receipt (01 arrived, 03 accepted) is back at its sender. It prints progress every 10 s and never hangs: when
no document was accepted for 60 s (`--stall`), or none delivered once all were, it fails with what each
component's `/health` and log say is wrong. Submissions past each threshold wait until the
fault before them has begun, so the faults land while documents flow however fast the machine is.

Redelivery and resend timeouts are lowered (AXIS_REDELIVERY_AFTER_S, AXIS_CONFIRM_TIMEOUT_S) so recovery
takes seconds instead of production's minutes; the summary says which values were used.
Exit status 0 only when nothing was lost or duplicated and no receipt is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import random
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the drill's sibling modules, also when imported

from _drill_docsys import DocumentSystem, PlannedDocument, Tally  # noqa: E402
from _drill_procs import DrillError, DrillExchange  # noqa: E402

import edxml  # noqa: E402
from axis.demo import demo_agencies  # noqa: E402

__all__ = ["DrillOptions", "DrillReport", "run_drill"]


@dataclass(frozen=True, slots=True)
class DrillOptions:
    """What to run. The timeouts are the components' settings, lowered for a drill (see the module doc)."""

    documents: int = 2000
    agencies: int = 4
    concurrency: int = 16
    redelivery_after_s: float = 10.0
    confirm_timeout_s: float = 10.0
    redelivery_limit: int = 50
    fault_pause_s: float = 2.0
    converge_timeout_s: float = 300.0
    quiet_s: float = 8.0  # after convergence: time for a late redelivery to show up as a duplicate
    progress_every_s: float = 10.0
    stall_s: float = 60.0  # nothing accepted (or, once all are, nothing delivered) for this long: the drill fails
    freeze_agent: bool = False  # SIGSTOP one agent once ready (a hung component): the drill must fail, saying so
    routers: int = 1  # router replicas; the first is the one killed
    data_dir: Path | None = None
    keep_data: bool = False
    seed: int = 2026
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))


@dataclass
class DrillReport:
    """The drill's figures; `ok` only when every delivery and receipt arrived exactly once."""

    documents: int = 0
    expected_deliveries: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    receipts_expected: int = 0
    receipts_missing: int = 0
    receipts_duplicated: int = 0
    strays: int = 0
    converged: bool = False
    elapsed_s: float = 0.0
    submit_s: float = 0.0
    throughput_docs_per_s: float = 0.0
    recovery_after_broker_restart_s: float | None = None
    flow_resumed_after_broker_restart_s: float | None = None
    flow_gap_s: float | None = None  # longest time with no delivery recorded, from the router kill to the next fault
    converged_after_last_fault_s: float | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    http_retries: int = 0
    sender_states: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    data_dir: str = ""
    missing_examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.documents > 0 and self.lost == 0 and self.duplicated == 0 and self.receipts_missing == 0
                and self.receipts_duplicated == 0)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def plan_documents(organs: list[str], count: int, seed: int) -> list[PlannedDocument]:
    """Round-robin senders, 1–3 recipients each, a fixed DocumentId (so a lost answer can be checked)."""
    rng = random.Random(seed)
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    planned = []
    for i in range(count):
        sender = organs[i % len(organs)]
        others = [o for o in organs if o != sender]
        recipients = tuple(rng.sample(others, k=min(len(others), 1 + i % 3)))
        number = str(i + 1)
        document_id = edxml.new_document_id(sender, today, number, "DRILL")
        body = (f"Văn bản diễn tập số {number}.\n" * 40).encode("utf-8")
        planned.append(PlannedDocument(i, sender, recipients, document_id, {
            "to": list(recipients), "subject": f"Diễn tập sự cố: công văn số {number}", "code_number": number,
            "code_notation": "DRILL", "promulgation_date": today.isoformat(), "document_id": document_id,
            "type_name": "Công văn", "content": "Đề nghị tiếp nhận và phản hồi.", "signer_name": "Nguyễn Văn A",
            "attachments": [{"name": f"van-ban-{number}.txt", "content_type": "text/plain",
                             "content_base64": base64.b64encode(body).decode("ascii")}],
        }))
    return planned


class _Drill:
    """One run: the exchange, the document systems, the submitters and the fault schedule."""

    def __init__(self, options: DrillOptions, exchange: DrillExchange, systems: dict[str, DocumentSystem],
                 tally: Tally, report: DrillReport) -> None:
        self.options = options
        self.exchange = exchange
        self.systems = systems
        self.tally = tally
        self.report = report
        self.began = time.monotonic()
        n = options.documents
        self.thresholds = [max(1, n // 4), max(2, n // 2), max(3, 3 * n // 4)]
        self.gates = [asyncio.Event() for _ in self.thresholds]
        self.broker_back_at: float | None = None
        self.broker_restart_began: float | None = None
        self.router_killed_at: float | None = None
        self.agent_killed_at: float | None = None
        self.router_killed_wall: datetime | None = None  # the same moments on the ledger's clock
        self.agent_killed_wall: datetime | None = None

    def _at(self) -> float:
        return round(time.monotonic() - self.began, 2)

    async def submit_all(self, planned: list[PlannedDocument]) -> None:
        queue = list(reversed(planned))

        async def worker() -> None:
            while queue:
                doc = queue.pop()
                for threshold, gate in zip(self.thresholds, self.gates):
                    if doc.index >= threshold:
                        await gate.wait()
                await self.systems[doc.sender].submit(doc)

        await asyncio.gather(*(worker() for _ in range(self.options.concurrency)))

    async def _fault(self, label: str, action: Callable[[], Awaitable[None]]) -> None:
        began, accepted = time.monotonic(), len(self.tally.accepted)
        self.options.log(f"[{self._at():7.2f}s] fault: {label} (documents accepted so far: {accepted})")
        await action()
        self.report.faults.append({"fault": label, "at_s": round(began - self.began, 2),
                                   "took_s": round(time.monotonic() - began, 2), "accepted_before": accepted})

    async def inject_faults(self) -> None:
        victim = sorted(self.exchange.agents)[1]
        pause = self.options.fault_pause_s

        async def crash_router() -> None:
            router = self.exchange.routers[0]
            self.router_killed_at, self.router_killed_wall = time.monotonic(), datetime.now(UTC)
            await router.kill()
            await asyncio.sleep(pause)
            router.start()
            await asyncio.sleep(1.0)
            self.exchange.check_alive()

        async def crash_agent() -> None:
            self.agent_killed_at, self.agent_killed_wall = time.monotonic(), datetime.now(UTC)
            agent = self.exchange.agents[victim]
            await agent.kill()
            await asyncio.sleep(pause)
            agent.start()
            await self.exchange.wait_ready([victim])  # faults come one after another, as the issue orders

        async def restart_broker() -> None:
            self.broker_restart_began = time.monotonic()
            await self.exchange.broker.restart()
            self.broker_back_at = time.monotonic()

        faults = [("kill -9 router, restart after %.0f s" % pause, crash_router),
                  (f"kill -9 agent {victim}, restart after {pause:.0f} s (same data folder)", crash_agent),
                  ("restart broker, all its data lost", restart_broker)]
        for threshold, gate, (label, action) in zip(self.thresholds, self.gates, faults):
            while len(self.tally.accepted) < threshold:
                await asyncio.sleep(0.05)
            gate.set()  # the next quarter starts flowing ...
            await asyncio.sleep(0.3)  # ... and is in flight when the fault lands
            await self._fault(label, action)

    async def converge(self) -> bool:
        deadline = time.monotonic() + self.options.converge_timeout_s
        while time.monotonic() < deadline:
            if self.tally.complete():
                return True
            await asyncio.sleep(0.25)
        return self.tally.complete()

    async def flow_gap(self) -> float | None:
        """The longest time with no delivery recorded by a router (a `delivered` event: a recipient's agent
        stored a document and a router recorded its ack) between the router's kill and the next fault. Not the
        document systems' sightings: they drain what agents already hold while no router runs."""
        start, end = self.router_killed_wall, self.agent_killed_wall
        if start is None or end is None:
            return None
        conn = await asyncpg.connect(self.exchange.postgres.database_url)
        try:
            seen = [r["at"] for r in await conn.fetch(
                "SELECT at FROM events WHERE kind = 'delivered' AND at BETWEEN $1 AND $2 ORDER BY at", start, end)]
        finally:
            await conn.close()
        marks = [start, *seen, end]
        return round(max((b - a).total_seconds() for a, b in zip(marks, marks[1:])), 2)

    def flow_resumed_after_broker_restart(self) -> float | None:
        """Broker back -> the first delivery or receipt any document system saw after it."""
        if self.broker_back_at is None:
            return None
        after = [t for t in self.tally.first_seen.values() if t >= self.broker_back_at]
        return round(min(after) - self.broker_back_at, 2) if after else None

    def recovery_after_broker_restart(self) -> float | None:
        """Broker back -> the last delivery/receipt of documents accepted before the restart reached its system."""
        if self.broker_back_at is None or self.broker_restart_began is None:
            return None
        before = {d for d, at in self.tally.accepted_at.items() if at < self.broker_restart_began}
        keys = ([k for k in self.tally.expected_deliveries() if k[2] in before]
                + [k for k in self.tally.expected_receipts() if k[0] in before])
        seen = [self.tally.first_seen.get(k) for k in keys]
        if any(s is None for s in seen):
            return None
        return round(max([0.0, *(s - self.broker_back_at for s in seen if s is not None)]), 2)


async def run_drill(options: DrillOptions) -> DrillReport:
    """Run the whole drill and report; everything it starts is stopped before it returns (or raises)."""
    if options.documents < 4:
        raise ValueError("the drill needs at least 4 documents (one per fault and one more)")
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="axis-drill-"))
    tuning = {"AXIS_REDELIVERY_AFTER_S": str(options.redelivery_after_s),
              "AXIS_CONFIRM_TIMEOUT_S": str(options.confirm_timeout_s),
              "AXIS_REDELIVERY_LIMIT": str(options.redelivery_limit)}
    report = DrillReport(settings={**tuning, "agencies": options.agencies, "concurrency": options.concurrency,
                                   "routers": options.routers},
                         data_dir=str(data_dir))
    agencies = demo_agencies(options.agencies)
    exchange = DrillExchange(data_dir, agencies, tuning, routers=options.routers)
    tally = Tally()
    log = options.log
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(exchange.stop)
        log(f"starting broker, PostgreSQL, router and {len(agencies)} agents in {data_dir} "
            f"(redelivery after {options.redelivery_after_s} s, agent resend after {options.confirm_timeout_s} s)")
        await exchange.start()
        await exchange.wait_ready()
        systems = {a.organ_id: DocumentSystem(a.organ_id, exchange.base_url(a.organ_id),
                                              exchange.token(a.organ_id), tally) for a in agencies}
        for system in systems.values():
            stack.push_async_callback(system.aclose)
            system.deadline = time.monotonic() + options.converge_timeout_s + 600.0
        drill = _Drill(options, exchange, systems, tally, report)
        if options.freeze_agent:
            frozen = sorted(exchange.agents)[0]
            log(f"freezing agent {frozen} (SIGSTOP): the drill must stall and say so")
            exchange.agents[frozen].freeze()
        planned = plan_documents(sorted(systems), options.documents, options.seed)
        log(f"[{drill._at():7.2f}s] ready; submitting {len(planned)} documents, {options.concurrency} at a time")
        stop_polling = asyncio.Event()
        pollers = [asyncio.create_task(s.run_poller(stop_polling), name=f"poller-{o}") for o, s in systems.items()]
        watchdog = Watchdog(drill, len(planned))
        try:
            work = asyncio.gather(drill.submit_all(planned), drill.inject_faults())
            await _watched(work, pollers, exchange, watchdog)
            report.submit_s = round(time.monotonic() - drill.began, 2)
            log(f"[{drill._at():7.2f}s] all {len(tally.accepted)} documents accepted by their agents; waiting for "
                f"every delivery and receipt (at most {options.converge_timeout_s:.0f} s)")
            report.converged = await _watched(drill.converge(), pollers, exchange, watchdog)
            last_fault = drill.broker_back_at or drill.began
            report.converged_after_last_fault_s = round(time.monotonic() - last_fault, 2) if report.converged else None
            report.recovery_after_broker_restart_s = drill.recovery_after_broker_restart()
            report.flow_resumed_after_broker_restart_s = drill.flow_resumed_after_broker_restart()
            report.flow_gap_s = await drill.flow_gap()
            converged_at = time.monotonic()
            log(f"[{drill._at():7.2f}s] {'converged' if report.converged else 'NOT converged'}; "
                f"{options.quiet_s:.0f} s more for late duplicates")
            await _watched(asyncio.sleep(options.quiet_s), pollers, exchange, watchdog)
            for organ_id, system in systems.items():
                for state, count in (await system.sent_states()).items():
                    report.sender_states[state] = report.sender_states.get(state, 0) + count
        finally:
            stop_polling.set()
            for task in pollers:
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
        _fill(report, tally, systems, drill.began, converged_at)
    if report.ok and not options.keep_data:
        exchange.remove_data()
    return report


class Watchdog:
    """Prints progress every `progress_every_s` and fails the drill, with what every component says is wrong,
    when it stalls: no document accepted for `stall_s` while some are still to submit, or (all submitted)
    no new delivery or receipt for `stall_s` while some are missing. A drill never hangs silently."""

    def __init__(self, drill: "_Drill", total: int) -> None:
        self.drill = drill
        self.total = total
        self._last_print = time.monotonic()
        self._moved_at = time.monotonic()
        self._seen = (0, 0)

    async def check(self) -> None:
        tally, options = self.drill.tally, self.drill.options
        accepted, seen = len(tally.accepted), len(tally.sightings) + len(tally.receipts)
        now = time.monotonic()
        if (accepted, seen) != self._seen:
            self._seen, self._moved_at = (accepted, seen), now
        if now - self._last_print >= options.progress_every_s:
            self._last_print = now
            lost, missing = tally.missing()
            retries = sum(s.retries for s in self.drill.systems.values())
            options.log(f"[{self.drill._at():7.2f}s] progress: {accepted}/{self.total} accepted, "
                        f"{len(tally.sightings)} deliveries seen ({len(lost)} outstanding), {len(tally.receipts)} "
                        f"receipts seen ({len(missing)} outstanding), {retries} HTTP retries")
        stalled = now - self._moved_at
        if stalled < options.stall_s or (accepted >= self.total and tally.complete()):
            return
        what = "no document accepted" if accepted < self.total else "no delivery or receipt seen"
        said = await self.drill.exchange.last_errors()
        said += [f"document system {o}: last failed call {s.last_failure}"
                 for o, s in sorted(self.drill.systems.items()) if s.last_failure]
        raise DrillError(f"stalled: {what} for {stalled:.0f} s ({accepted}/{self.total} accepted); what the "
                         "components say:\n" + "\n".join(f"  {line}" for line in said)
                         + f"\n  logs: {self.drill.exchange.data_dir / 'logs'}")


async def _watched(work: Awaitable[Any], pollers: list[asyncio.Task[None]], exchange: DrillExchange,
                   watchdog: Watchdog) -> Any:
    """Await `work`, but fail at once if a document system's poller or a component died by itself, or the
    drill stalled."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait([task, *pollers], timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            for poller in done:
                poller.result()  # raises its error
                raise DrillError(f"{poller.get_name()} ended early")
            exchange.check_alive()
            await watchdog.check()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _fill(report: DrillReport, tally: Tally, systems: dict[str, DocumentSystem], began: float,
          converged_at: float) -> None:
    lost, missing = tally.missing()
    report.documents = len(tally.accepted)
    report.expected_deliveries = len(tally.expected_deliveries())
    report.delivered = report.expected_deliveries - len(lost)
    report.lost = len(lost)
    report.duplicated = tally.duplicated
    report.receipts_expected = len(tally.expected_receipts())
    report.receipts_missing = len(missing)
    report.receipts_duplicated = tally.receipts_duplicated
    report.strays = tally.strays
    report.http_retries = sum(s.retries for s in systems.values())
    report.elapsed_s = round(converged_at - began, 2)  # first submission -> converged (or deadline)
    report.throughput_docs_per_s = round(report.documents / max(report.elapsed_s, 1e-9), 1)
    report.missing_examples = ([f"delivery {r} <- {s}: {d}" for r, s, d in sorted(lost)[:5]]
                               + [f"receipt {c} from {r} for {d}" for d, r, c in sorted(missing)[:5]])


def render(report: DrillReport) -> str:
    """The human summary."""
    s = report.settings
    lines = [
        "Fault drill: router kill -9, agent kill -9, broker restart with data lost, while documents flow",
        f"  settings: {s.get('agencies')} agencies; AXIS_REDELIVERY_AFTER_S={s.get('AXIS_REDELIVERY_AFTER_S')}, "
        f"AXIS_CONFIRM_TIMEOUT_S={s.get('AXIS_CONFIRM_TIMEOUT_S')}, AXIS_REDELIVERY_LIMIT={s.get('AXIS_REDELIVERY_LIMIT')}"
        " (lowered for the drill; production defaults 600 s / 30 s / 6)",
        *(f"  fault at {f['at_s']:7.2f}s: {f['fault']} (took {f['took_s']} s, {f['accepted_before']} documents "
          "accepted before)" for f in report.faults),
        f"  documents accepted by agents: {report.documents}   submitted in {report.submit_s} s",
        f"  deliveries: {report.delivered}/{report.expected_deliveries}   lost: {report.lost}   "
        f"duplicated: {report.duplicated}",
        f"  receipts (01 and 03) at senders: {report.receipts_expected - report.receipts_missing}/"
        f"{report.receipts_expected}   missing: {report.receipts_missing}   duplicated: {report.receipts_duplicated}",
        f"  elapsed: {report.elapsed_s} s   throughput: {report.throughput_docs_per_s} documents/s",
        f"  after the broker restart: flow resumed in {report.flow_resumed_after_broker_restart_s} s; the documents "
        f"accepted before it were all delivered with receipts back {report.recovery_after_broker_restart_s} s later",
        f"  routers: {s.get('routers')}; longest time with no delivery after the router kill: {report.flow_gap_s} s",
        f"  converged {report.converged_after_last_fault_s} s after the broker came back; "
        f"HTTP calls retried while components were down: {report.http_retries}",
        f"  per-recipient states at senders: {report.sender_states}",
        *(f"  missing: {m}" for m in report.missing_examples),
        "RESULT: OK, every document delivered once and every receipt back" if report.ok
        else f"RESULT: FAILED (data kept in {report.data_dir})",
    ]
    return "\n".join(lines)


async def _stoppable(work: Awaitable[DrillReport]) -> DrillReport:
    """SIGTERM cancels the drill like Ctrl-C does, so its cleanup runs (asyncio.run handles only SIGINT)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    defaults = DrillOptions()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object with the figures")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--timeout", type=float, default=defaults.converge_timeout_s,
                        help="seconds to wait for convergence after the last submission")
    parser.add_argument("--keep", action="store_true", help="keep the data folder even when the drill passes")
    parser.add_argument("--stall", type=float, default=defaults.stall_s,
                        help="fail (with every component's errors) when nothing moved for this many seconds")
    parser.add_argument("--routers", type=int, default=1, help="router replicas (the first one is killed)")
    parser.add_argument("--freeze-agent", action="store_true",
                        help="hang one agent with SIGSTOP once ready, to see the drill fail and say why")
    args = parser.parse_args(argv)
    options = DrillOptions(documents=args.documents, concurrency=args.concurrency,
                           converge_timeout_s=args.timeout, keep_data=args.keep, stall_s=args.stall,
                           freeze_agent=args.freeze_agent, routers=args.routers)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # embedded PostgreSQL's platformdirs, harmless
    try:
        report = asyncio.run(_stoppable(run_drill(options)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; everything the drill started was stopped", file=sys.stderr)
        return 130
    except DrillError as exc:
        print(f"drill failed: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False))
        return 2
    print(render(report), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
