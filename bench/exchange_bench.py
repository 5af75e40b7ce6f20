"""Exchange benchmark: latency and throughput in process, then as separate processes against two ceilings.

    .venv/bin/python bench/exchange_bench.py [--quick] [--agencies 4] [--quiet 30] [--documents 1000]
        [--process-documents 2000] [--concurrency 64] [--routers 1] [--crypto-s 10] [--json] [--keep]

Part one (the keys it always had) starts the embedded exchange (Tansu, PostgreSQL, ledger, router) in a
temporary folder through `axis.embedded_exchange`, registers the demo agencies and runs one agent per agency
in this process, then measures:

(a) quiet latency: documents sent one at a time (a pause between them so the exchange is idle), each
    waited for until it is stored at its recipient and the automatic status 01 is stored back at its
    sender. Reported: submit -> stored at recipient, and submit -> 01 stored at sender.
(b) load: `--documents` documents with a 10 KB attachment submitted concurrently (round robin over the
    senders, one recipient each); documents/s from the first submit until every document is stored at
    its recipient and every 01 is back, and the latency of each from its outbox commit (the agent accepted
    it) to stored at the recipient.
(c) idle CPU: CPU used by this process (router and agents) and by the broker while nothing is sent.

Timestamps are those the stores write (received_at of the inbox row, created_at of the outbox row), so
how often this script polls does not change the figures.

Part two is the exchange as production runs it, against what bounds it (`_exchange_limits`,
`_exchange_processes`), on one traffic mix: 10 KB documents, a 100 KB attachment on every fifth, one and three
recipients in turn:
- `raw_crypto_docs_per_s`: the signature work of those documents alone, one process per core;
- `docs_per_s`, `cpu_s_per_1000_docs`: broker, PostgreSQL, `--routers` router(s) and one agent per agency as
  separate processes, `--process-documents` submitted over the agents' HTTP API by `--concurrency` callers,
  until every delivery and every 01 is acknowledged in the ledger (CPU: the exchange's processes);
- `p50_ms`, `p99_ms`: submit call -> stored at each recipient, documents sent at half `docs_per_s`;
- `raw_transport_docs_per_s`: the same records produced and consumed through the same broker, no processing;
- `ratio_to_crypto`, `ratio_to_transport`: `docs_per_s` over each ceiling.
`--quick` gives every key in under two minutes. With `--json` the last line is one JSON object. Every wait has
a deadline (`--timeout-s`) that fails the bench with what it was waiting for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from agents.bootstrap import Agent, build_agent
from agents.model import AttachmentInput, DocumentFields, OrganInput, Submission
from axis.demo import await_directory, demo_agencies
from axis.embedded_exchange import Exchange, open_exchange, register_agencies
from axis.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench's sibling modules

from _exchange_limits import TrafficMix, raw_crypto_docs_per_s, raw_transport_docs_per_s  # noqa: E402
from _exchange_processes import ProcessExchange  # noqa: E402

ATTACHMENT = (b"Noi dung van ban dien tu. " * 394)[:10 * 1024]  # 10 KB


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 1)


def p50_p99(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 0.50), "p99": percentile(values, 0.99)}


def _fields(n: int, recipient: str) -> DocumentFields:
    return DocumentFields(
        to=(OrganInput(recipient),),
        subject=f"Bench document {n}",
        code_number=str(1000 + n),
        code_notation="BENCH",
        promulgation_date=date.today(),
        place="Ha Noi",
        type_name="Cong van",
        content="Benchmark.",
        signer_name="Nguyen Van A",
        signer_position="Chanh Van phong",
    )


async def _submit(agent: Agent, n: int, recipient: str) -> tuple[float, Submission]:
    started = time.time()
    attachment = AttachmentInput(f"bench-{n}.txt", ATTACHMENT, "text/plain", "Toan van")
    return started, await agent.service.submit_document(_fields(n, recipient), [attachment])


async def _poll(predicate: Callable[[], Awaitable[bool]], timeout_s: float, interval_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout_s:.0f} s")
        await asyncio.sleep(interval_s)


async def _stored_at(agent: Agent, kind: str, code: str | None = None) -> dict[str, float]:
    """document id -> epoch seconds when the agent stored it (for statuses: only `code`)."""
    items = await agent.service.received(kind=kind, limit=1_000_000)  # type: ignore[arg-type]
    return {
        i.document_id: i.received_at.timestamp()
        for i in items if i.received_at is not None and (code is None or i.status_code == code)
    }


async def _counts(agents: dict[str, Agent], kind: str) -> int:
    return sum([await a.service.count_received(kind=kind, pending_only=False) for a in agents.values()])  # type: ignore[arg-type]


async def quiet_phase(agents: dict[str, Agent], count: int, gap_s: float, timeout_s: float) -> dict[str, list[float]]:
    organs = list(agents)
    latency, receipt = [], []
    for n in range(count + 1):  # the first one warms up connections and caches; not counted
        sender, recipient = organs[n % len(organs)], organs[(n + 1 + n // len(organs)) % len(organs)]
        if recipient == sender:
            recipient = organs[(organs.index(sender) + 1) % len(organs)]
        docs_before = await agents[recipient].service.count_received(kind="edoc", pending_only=False)
        statuses_before = await agents[sender].service.count_received(kind="status", pending_only=False)
        started, submission = await _submit(agents[sender], n, recipient)

        async def arrived() -> bool:
            return (await agents[recipient].service.count_received(kind="edoc", pending_only=False) > docs_before
                    and await agents[sender].service.count_received(kind="status", pending_only=False) > statuses_before)

        await _poll(arrived, timeout_s, 0.005)
        stored = (await _stored_at(agents[recipient], "edoc"))[submission.document_id]
        answered = (await _stored_at(agents[sender], "status", "01"))[submission.document_id]
        if n:
            latency.append((stored - started) * 1000)
            receipt.append((answered - started) * 1000)
        await asyncio.sleep(gap_s)
    return {"latency": latency, "receipt": receipt}


async def load_phase(agents: dict[str, Agent], count: int, first: int, timeout_s: float) -> dict[str, Any]:
    organs = list(agents)
    docs_before, statuses_before = await _counts(agents, "edoc"), await _counts(agents, "status")
    plan = [(organs[i % len(organs)], organs[(i + 1 + (i // len(organs)) % (len(organs) - 1)) % len(organs)])
            for i in range(count)]
    plan = [(s, r if r != s else organs[(organs.index(s) + 1) % len(organs)]) for s, r in plan]
    started = time.time()
    submissions = await asyncio.gather(*(_submit(agents[s], first + i, r) for i, (s, r) in enumerate(plan)))
    submitted_s = time.time() - started

    async def done() -> bool:
        return (await _counts(agents, "edoc") >= docs_before + count
                and await _counts(agents, "status") >= statuses_before + count)

    await _poll(done, timeout_s, 0.1)
    finished = time.time()
    stored = {organ: await _stored_at(agent, "edoc") for organ, agent in agents.items()}
    latency = [
        (stored[r][sub.document_id] - sub.created_at.timestamp()) * 1000
        for (s, r), (_, sub) in zip(plan, submissions, strict=True)
    ]
    from_call = [
        (stored[r][sub.document_id] - t0) * 1000 for (s, r), (t0, sub) in zip(plan, submissions, strict=True)
    ]
    return {
        "elapsed_s": finished - started, "submitted_s": submitted_s, "latency": latency, "from_call": from_call,
    }


def _cpu_s(pid: int | None) -> float:
    """User+system CPU seconds of a process (this one when `pid` is None)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def idle_phase(exchange: Exchange, seconds: float) -> dict[str, float]:
    broker_pid = exchange.services.broker.pid if exchange.services else None
    before = (_cpu_s(None), _cpu_s(broker_pid) if broker_pid else 0.0, time.monotonic())
    await asyncio.sleep(seconds)
    wall = time.monotonic() - before[2]
    return {
        "python_percent": round((_cpu_s(None) - before[0]) / wall * 100, 1),
        "broker_percent": round(((_cpu_s(broker_pid) if broker_pid else 0.0) - before[1]) / wall * 100, 1),
    }


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    settings = load_settings(data_dir=data_dir, kafka_bootstrap=None, database_url=None)
    chosen = demo_agencies(args.agencies)
    async with open_exchange(settings, write_run_file=False) as exchange:
        await register_agencies(exchange, chosen)
        async with contextlib.AsyncExitStack() as stack:
            agents: dict[str, Agent] = {}
            for agency in chosen:
                agents[agency.organ_id] = await stack.enter_async_context(
                    build_agent(exchange.settings, agency.organ_id))
            await await_directory(agents, len(chosen))
            await asyncio.sleep(1.0)  # let consumer groups settle before measuring
            idle = await idle_phase(exchange, args.idle_s)
            quiet = await quiet_phase(agents, args.quiet, args.gap_s, args.timeout_s)
            load = await load_phase(agents, args.documents, args.quiet + 1, args.timeout_s) if args.documents else None
    result: dict[str, Any] = {
        "agencies": args.agencies,
        "quiet_documents": args.quiet,
        "quiet_latency_ms": p50_p99(quiet["latency"]),
        "receipt_latency_ms": p50_p99(quiet["receipt"]),
        "load_documents": args.documents,
        "load_docs_per_s": round(args.documents / load["elapsed_s"], 1) if load else None,
        "load_latency_ms": p50_p99(load["latency"]) if load else None,
        "load_latency_from_call_ms": p50_p99(load["from_call"]) if load else None,
        "load_elapsed_s": round(load["elapsed_s"], 2) if load else None,
        "load_submit_s": round(load["submitted_s"], 2) if load else None,
        "idle_cpu_percent": idle,
    }
    return result


async def run_processes(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    """Part two: the ceilings and the exchange as separate processes (see the module doc)."""
    mix = TrafficMix()
    crypto = await asyncio.to_thread(raw_crypto_docs_per_s, mix, args.crypto_s)
    async with ProcessExchange(data_dir, demo_agencies(args.agencies), mix, routers=args.routers) as exchange:
        await exchange.saturate(args.concurrency, args.concurrency, args.timeout_s)  # warm-up: connections, caches
        load = await exchange.saturate(args.process_documents, args.concurrency, args.timeout_s)
        rate = load["docs_per_s"] / 2
        latency = await exchange.paced(max(20, int(rate * args.paced_s)), rate, args.timeout_s)
        transport = await raw_transport_docs_per_s(exchange.exchange.broker.bootstrap, mix, args.transport_documents,
                                                   args.timeout_s)
    return {
        "routers": args.routers,
        "process_documents": args.process_documents,
        "docs_per_s": load["docs_per_s"],
        "p50_ms": percentile(latency, 0.50),
        "p99_ms": percentile(latency, 0.99),
        "latency_rate_docs_per_s": round(rate, 1),
        "raw_crypto_docs_per_s": crypto,
        "raw_transport_docs_per_s": transport,
        "ratio_to_crypto": round(load["docs_per_s"] / crypto, 3),
        "ratio_to_transport": round(load["docs_per_s"] / transport, 3),
        "cpu_s_per_1000_docs": load["cpu_s_per_1000_docs"],
    }


def render(r: dict[str, Any]) -> str:
    lines = [
        f"exchange bench: {r['agencies']} agencies, embedded Tansu + PostgreSQL, all in one process "
        f"({os.cpu_count()} cores)",
        f"  quiet ({r['quiet_documents']} documents one at a time)",
        f"    submit -> stored at recipient:   p50 {r['quiet_latency_ms']['p50']} ms   p99 {r['quiet_latency_ms']['p99']} ms",
        f"    submit -> 01 back at sender:     p50 {r['receipt_latency_ms']['p50']} ms   p99 {r['receipt_latency_ms']['p99']} ms",
    ]
    if r["load_documents"]:
        lines += [
            f"  load ({r['load_documents']} documents of 10 KB submitted at once)",
            f"    {r['load_docs_per_s']} documents/s (all delivered and all 01 back in {r['load_elapsed_s']} s; "
            f"submitting took {r['load_submit_s']} s)",
            f"    outbox commit -> stored at recipient:  p50 {r['load_latency_ms']['p50']} ms   "
            f"p99 {r['load_latency_ms']['p99']} ms",
            f"    submit call -> stored at recipient:    p50 {r['load_latency_from_call_ms']['p50']} ms   "
            f"p99 {r['load_latency_from_call_ms']['p99']} ms",
        ]
    idle = r["idle_cpu_percent"]
    lines.append(f"  idle CPU: router+agents {idle['python_percent']} %, broker {idle['broker_percent']} % of one core")
    if "docs_per_s" in r:
        lines += [
            f"  as separate processes ({r['routers']} router(s), {r['agencies']} agents; 10 KB documents, every fifth "
            f"with 100 KB, 1 and 3 recipients)",
            f"    {r['docs_per_s']} documents/s ({r['process_documents']} documents, every delivery and 01 "
            f"acknowledged); {r['cpu_s_per_1000_docs']} CPU s per 1,000 documents",
            f"    at {r['latency_rate_docs_per_s']} documents/s: submit -> stored at recipient p50 {r['p50_ms']} ms, "
            f"p99 {r['p99_ms']} ms",
            f"    ceilings: signatures alone {r['raw_crypto_docs_per_s']} documents/s (ratio {r['ratio_to_crypto']}), "
            f"broker alone {r['raw_transport_docs_per_s']} documents/s (ratio {r['ratio_to_transport']})",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=4)
    parser.add_argument("--quiet", type=int, default=30, help="documents sent one at a time")
    parser.add_argument("--gap-s", type=float, default=0.3, help="pause between quiet documents")
    parser.add_argument("--documents", type=int, default=1000, help="documents submitted at once (0: skip)")
    parser.add_argument("--idle-s", type=float, default=3.0, help="seconds of idle CPU measurement")
    parser.add_argument("--timeout-s", type=float, default=600.0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--process-documents", type=int, default=2000,
                        help="documents through the exchange as separate processes (0: skip part two)")
    parser.add_argument("--concurrency", type=int, default=64, help="callers submitting at once in part two")
    parser.add_argument("--routers", type=int, default=1, help="router replicas in part two")
    parser.add_argument("--paced-s", type=float, default=20.0, help="seconds of paced traffic for p50/p99")
    parser.add_argument("--crypto-s", type=float, default=10.0, help="seconds of raw signature work")
    parser.add_argument("--transport-documents", type=int, default=5000, help="documents' records through the broker")
    parser.add_argument("--quick", action="store_true", help="every key in under two minutes")
    args = parser.parse_args(argv)
    if args.agencies < 2:
        parser.error("--agencies must be at least 2")
    if args.quick:
        args.quiet, args.documents, args.idle_s = 10, 200, 1.0
        args.paced_s, args.crypto_s, args.transport_documents = 8.0, 3.0, 1000
        args.process_documents = min(args.process_documents, 400)
    with contextlib.ExitStack() as stack:
        if args.keep:
            data_dir = Path(tempfile.mkdtemp(prefix="axis-bench-"))
            stack.callback(print, f"data kept in {data_dir}", file=sys.stderr)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="axis-bench-")))
        result = asyncio.run(run(args, data_dir / "exchange"))
        if args.process_documents:
            result.update(asyncio.run(run_processes(args, data_dir / "processes")))
    print(render(result))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
