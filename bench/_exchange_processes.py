"""The exchange as it runs in production, for `exchange_bench`: broker, PostgreSQL, router(s) and one agent per
agency, each its own OS process (the fault drill's `DrillExchange`), fed by document systems over each agent's
HTTP API from this process.

Two phases on the same exchange:
- saturation: `documents` submitted by `concurrency` callers at once; documents/s from the first submission until
  every delivery and every 01 is acknowledged in the ledger;
- latency: documents submitted at a fixed rate (half the saturation rate, as the issue asks), each timed from
  its submit call to stored at each recipient (the recipient agent's `received_at`).
CPU is what the exchange's processes used (router, agents, broker, PostgreSQL and its backends), not this one.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

import edxml
from _drill_procs import DrillError, DrillExchange
from _exchange_limits import TrafficMix
from axis.embedded_exchange import NewAgency

__all__ = ["ProcessExchange"]

_HZ = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds, command line) of every process this user can read."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[int(entry.name)] = (int(stat[1]), (int(stat[11]) + int(stat[12])) / _HZ, cmdline)
    return table


def exchange_cpu_s(pgdata: Path) -> float:
    """CPU seconds used so far by this process's descendants (router, agents, broker) and by the PostgreSQL
    serving `pgdata` with its backends, this process excluded (it plays the document systems)."""
    table = _processes()
    roots = {os.getpid()} | {pid for pid, (_, _, cmd) in table.items() if str(pgdata) in cmd}
    members, grew = set(roots), True
    while grew:
        more = {pid for pid, (parent, _, _) in table.items() if parent in members} - members
        members |= more
        grew = bool(more)
    return sum(table[pid][1] for pid in members - {os.getpid()})


class ProcessExchange:
    """`async with ProcessExchange(...) as ex`: the exchange started, agents ready; `saturate()`, `paced()`."""

    def __init__(self, data_dir: Path, agencies: Sequence[NewAgency], mix: TrafficMix, *, routers: int = 1) -> None:
        self.exchange = DrillExchange(data_dir, agencies, {}, routers=routers)
        self.organs = [a.organ_id for a in agencies]
        self.mix = mix
        self._numbers = 0
        self._today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> ProcessExchange:
        try:
            await self.exchange.start()
            await self.exchange.wait_ready()
        except BaseException:
            await self.exchange.stop()
            raise
        self._client = httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=256))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
        await self.exchange.stop()

    def _sender(self, n: int) -> str:
        return self.organs[n % len(self.organs)]

    def _recipients(self, n: int) -> list[str]:
        others = [o for o in self.organs if o != self._sender(n)]
        return [others[(n + k) % len(others)] for k in range(min(len(others), self.mix.recipient_count(n)))]

    def _expected(self, numbers: range) -> int:
        """Acknowledged deliveries the documents make: each to each recipient, and each recipient's 01 back."""
        return 2 * sum(len(self._recipients(n)) for n in numbers)

    def _payload(self, n: int) -> tuple[str, dict[str, Any]]:
        sender, recipients = self._sender(n), self._recipients(n)
        number = str(n + 1)
        text = (f"Văn bản đo tải số {number}. " * 400).encode("utf-8")[:self.mix.document_bytes * 3 // 4]
        attachments = [{"name": f"van-ban-{number}.txt", "content_type": "text/plain",
                        "content_base64": base64.b64encode(text).decode("ascii")}]
        if self.mix.large(n):
            scan = os.urandom(self.mix.attachment_bytes)
            attachments.append({"name": f"ban-quet-{number}.pdf", "content_type": "application/pdf",
                                "content_base64": base64.b64encode(scan).decode("ascii")})
        return sender, {
            "to": recipients, "subject": f"Đo tải: công văn số {number}", "code_number": number,
            "code_notation": "BENCH", "promulgation_date": self._today.isoformat(),
            "document_id": edxml.new_document_id(sender, self._today, number, "BENCH"), "type_name": "Công văn",
            "content": "Đề nghị tiếp nhận.", "signer_name": "Nguyễn Văn A", "attachments": attachments,
        }

    async def _submit(self, n: int) -> tuple[str, list[str], float]:
        """Submit document `n`; (DocumentId, recipients, when the call began)."""
        assert self._client is not None  # noqa: S101 -- inside `async with`
        sender, payload = self._payload(n)
        began = time.time()
        answer = await self._client.post(f"{self.exchange.base_url(sender)}/documents", json=payload,
                                         headers={"Authorization": f"Bearer {self.exchange.token(sender)}"})
        if answer.status_code not in (200, 201):
            raise DrillError(f"agent {sender} answered {answer.status_code} to document {n}: {answer.text[:300]}")
        return payload["document_id"], payload["to"], began

    async def _acked(self) -> int:
        conn = await asyncpg.connect(self.exchange.postgres.database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'acked'"))
        finally:
            await conn.close()

    async def _settle(self, before: int, expected: int, timeout_s: float) -> None:
        """Until `expected` more deliveries (documents and their 01s) are acknowledged than `before`."""
        deadline = time.monotonic() + timeout_s
        while (acked := await self._acked()) < before + expected:
            self.exchange.check_alive()
            if time.monotonic() > deadline:
                raise DrillError(f"{acked - before} of {expected} deliveries acknowledged after {timeout_s:.0f} s; "
                                 f"see {self.exchange.data_dir / 'logs'}: {await self.exchange.last_errors()}")
            await asyncio.sleep(0.05)

    def _next(self, count: int) -> range:
        first, self._numbers = self._numbers, self._numbers + count
        return range(first, first + count)

    async def saturate(self, documents: int, concurrency: int, timeout_s: float) -> dict[str, float]:
        """`documents` submitted `concurrency` at a time; docs/s and the exchange's CPU per 1,000 documents."""
        numbers = self._next(documents)
        expected = self._expected(numbers)
        before, cpu_before = await self._acked(), exchange_cpu_s(self.exchange.postgres.pgdata)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in numbers:
            queue.put_nowait(n)

        async def caller() -> None:
            while not queue.empty():
                await self._submit(queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        await self._settle(before, expected, timeout_s)
        elapsed = time.perf_counter() - started
        cpu = exchange_cpu_s(self.exchange.postgres.pgdata) - cpu_before
        return {"docs_per_s": round(documents / elapsed, 1), "cpu_s_per_1000_docs": round(cpu / documents * 1000, 1),
                "elapsed_s": round(elapsed, 2)}

    async def paced(self, documents: int, rate: float, timeout_s: float) -> list[float]:
        """`documents` submitted at `rate`/s (open loop); each delivery's ms from submit call to stored."""
        numbers = self._next(documents)
        expected = self._expected(numbers)
        before = await self._acked()
        start, calls = time.perf_counter(), []
        for i, n in enumerate(numbers):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            calls.append(asyncio.ensure_future(self._submit(n)))
        sent = await asyncio.gather(*calls)
        await self._settle(before, expected, timeout_s)
        stored = await self._stored()
        return [(stored[(document_id, organ)] - began) * 1000 for document_id, recipients, began in sent
                for organ in recipients]

    async def _stored(self) -> dict[tuple[str, str], float]:
        """(DocumentId, recipient) -> epoch seconds when the recipient's agent stored it."""
        assert self._client is not None  # noqa: S101
        stored = {}
        for organ in self.organs:
            answer = await self._client.get(f"{self.exchange.base_url(organ)}/received",
                                             params={"kind": "edoc", "limit": 10_000},
                                             headers={"Authorization": f"Bearer {self.exchange.token(organ)}"})
            answer.raise_for_status()
            for item in answer.json():
                stored[(item["document_id"], organ)] = datetime.fromisoformat(item["received_at"]).timestamp()
        return stored
