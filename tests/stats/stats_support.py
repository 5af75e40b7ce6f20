"""Traffic through a real router, and the stats app's figures held against the ledger's own SQL figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiokafka import TopicPartition
from exchange_helpers import Exchange, Party, document, signed, status

import edxml
from axis import wire
from axis.ledger import delivery_id_for
from axis.stats import ALPHA, FLOOR_SECONDS, WINDOWS, StatsService, ledger_figures, tallies_of
from axis.transport import make_consumer


class Traffic:
    """Agencies sending documents, answering and acknowledging through the wire; each step waits until the
    router recorded it, so the test clock (moved between steps) fixes every duration."""

    def __init__(self, exchange: Exchange) -> None:
        self.ex = exchange
        self.message_ids: dict[str, str] = {}  # document id -> message id

    async def _count(self, sql: str, *args: Any) -> int:
        return int(await self.ex.ledger.pool.fetchval(sql, *args))

    async def _until(self, sql: str, args: Sequence[Any], wanted: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while (have := await self._count(sql, *args)) < wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"the router recorded {have} of {wanted}: {sql} {args}")
            await asyncio.sleep(0.05)

    async def send(self, sender: Party, recipients: list[Party], n: int) -> list[edxml.DocumentPackage]:
        docs = [document(sender, recipients) for _ in range(n)]
        for doc in docs:
            self.message_ids[doc.document_id] = await self.ex.agents.send(
                sender.organ_id, signed(sender, doc), "edoc", key=doc.document_id)
        await self._until("SELECT count(*) FROM deliveries x JOIN documents d ON d.id = x.document"
                          " WHERE d.document_id = ANY($1::text[]) AND x.first_published_at IS NOT NULL",
                          [[d.document_id for d in docs]], n * len(recipients))  # recorded and delivered
        return docs

    async def answer(self, code: str, answers: list[tuple[Party, edxml.DocumentPackage]]) -> None:
        for party, doc in answers:
            await self.ex.agents.send(party.organ_id, signed(party, status(party, doc, code)), "status",
                                      key=doc.document_id)
        for party, doc in answers:
            await self._until("SELECT count(*) FROM events WHERE kind = 'status' AND document_id = $1"
                              " AND recipient = $2 AND status_code = $3", [doc.document_id, party.organ_id, code], 1)

    async def ack(self, party: Party, docs: list[edxml.DocumentPackage]) -> None:
        ids = [delivery_id_for(self.message_ids[d.document_id], party.organ_id) for d in docs]
        await self.ex.agents.ack(party.organ_id, ids)
        await self._until("SELECT count(*) FROM deliveries WHERE delivery_id = ANY($1::text[]) AND state = 'acked'",
                          [ids], len(ids))

    async def refused(self, sender: Party, recipients: list[Party], *, sign: bool) -> None:
        doc = document(sender, recipients)
        body = signed(sender, doc) if sign else edxml.serialize(doc)
        message_id = await self.ex.agents.send(sender.organ_id, body, "edoc", key=doc.document_id)
        await self._until("SELECT count(*) FROM processed_messages WHERE message_id = $1 AND outcome = 'refused'",
                          [message_id], 1)

    def later(self, seconds: float) -> None:
        self.ex.clock.advance(seconds)


def _differences(where: str, got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Counts must be equal; quantiles within the sketch's error (ALPHA relative, or FLOOR_SECONDS)."""
    found = []
    for key, expected in want.items():
        have = got[key]
        if not isinstance(expected, dict):
            if have != expected:
                found.append(f"{where} {key}: stats {have} != ledger {expected}")
            continue
        for part, value in expected.items():
            mine = have[part]
            if part == "count" or value is None or mine is None:
                close = mine == value
            else:
                close = abs(mine - value) <= ALPHA * abs(value) * (1 + 1e-9) + FLOOR_SECONDS
            if not close:
                found.append(f"{where} {key}.{part}: stats {mine} != ledger {value}")
    return found


async def figure_problems(service: StatsService, since: datetime) -> list[str]:
    """Every difference between the stats tables and `ledger_figures`, for every window with facts since `since`."""
    engine = service.engine
    if engine is None or not engine.ready:
        return [f"the stats app is not ready: {service.health()}"]
    problems: list[str] = []
    for window in WINDOWS:
        expected = await ledger_figures(service.ledger.pool, window, service.settings.tz, since)
        if not expected:
            problems.append(f"no {window.name} figures in the ledger since {since}: no traffic to compare")
        for start in sorted({start for _, start in expected}):
            got = {agency: f.report() for agency, f in engine.figures(window, start).items()}
            want = {agency: r for (agency, s), r in expected.items() if s == start}
            if set(got) != set(want):
                problems.append(f"{window.name} {start}: stats agencies {sorted(got)} != ledger {sorted(want)}")
            for agency in sorted(set(got) & set(want)):
                problems += _differences(f"{window.name} {start:%H:%M} {agency}", got[agency], want[agency])
    return problems


async def until_figures_match(service: StatsService, since: datetime, timeout: float = 60.0) -> float:
    """Wait until the stats app's figures equal the ledger's; returns how long it took."""
    began = time.monotonic()
    while problems := await figure_problems(service, since):
        if time.monotonic() - began > timeout:
            raise AssertionError(f"stats differ from the ledger after {timeout:.0f} s:\n" + "\n".join(problems[:30]))
        await asyncio.sleep(0.2)
    return time.monotonic() - began


async def published_tallies(bootstrap: str, partitions: int, wanted: set[str],
                            timeout: float = 20.0) -> dict[str, dict[str, Any]]:
    """The tallies (by `once`) of the facts the router published on `edx.events`, once `wanted` are all there."""
    consumer = make_consumer(bootstrap, group_id=None, fetch_max_wait_ms=50)
    tps = [TopicPartition(wire.EVENTS, p) for p in range(partitions)]
    found: dict[str, dict[str, Any]] = {}
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while not wanted <= set(found):
            if time.monotonic() > deadline:
                raise AssertionError(f"never published: {sorted(wanted - set(found))[:20]}")
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for record in records:
                    for tally in tallies_of(wire.LedgerFact.decode(record.value)):
                        found.setdefault(tally.once, tally.asdict())
    finally:
        await consumer.stop()
    return found
