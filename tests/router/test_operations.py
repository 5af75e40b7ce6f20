"""What the router gives the operators' surfaces: every committed fact on `edx.events` (again after the broker
lost its data), refused packages kept as dead letters with their bytes, and an operator's requeue that
judges a dead letter again and answers its sender under the original message id."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from exchange_helpers import Exchange, Pki, document, open_exchange, signed, status

import edxml
from axis import wire
from axis.router._relay import requeue_message_id
from axis.transport import make_consumer


class FactReader:
    """Every fact on `edx.events` (all partitions), from the beginning."""

    def __init__(self, bootstrap: str, partitions: int) -> None:
        self._consumer: AIOKafkaConsumer = make_consumer(bootstrap, group_id=None, fetch_max_wait_ms=50)
        self._tps = [TopicPartition(wire.EVENTS, p) for p in range(partitions)]
        self.facts: list[wire.LedgerFact] = []

    async def __aenter__(self) -> "FactReader":
        await self._consumer.start()
        self._consumer.assign(self._tps)
        await self._consumer.seek_to_beginning(*self._tps)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def until(self, wanted: Any, timeout: float = 15.0) -> list[wire.LedgerFact]:
        deadline = time.monotonic() + timeout
        while not wanted(self.facts):
            if time.monotonic() > deadline:
                raise AssertionError(f"facts not seen; have {[(f.id, f.kind) for f in self.facts][-20:]}")
            for records in (await self._consumer.getmany(timeout_ms=100)).values():
                self.facts += [wire.LedgerFact.decode(r.value) for r in records]
        return self.facts


def _kinds(facts: list[wire.LedgerFact], document_id: str) -> list[str]:
    return [f.kind for f in facts if f.document_id == document_id]


async def test_every_committed_fact_is_published_once_with_what_the_stats_need(exchange: Exchange) -> None:
    vpcp, nghean = exchange.vpcp, exchange.nghean
    doc = document(vpcp, [nghean])
    await exchange.agents.send(vpcp.organ_id, signed(vpcp, doc), "edoc", key=doc.document_id)
    inbox = await exchange.agents.inbox(nghean.organ_id)
    await inbox.wait_for(lambda r: bool(r.deliveries()))
    exchange.clock.advance(60)
    await exchange.agents.send(nghean.organ_id, signed(nghean, status(nghean, doc, "01")), "status",
                               key=doc.document_id)
    refused = await exchange.agents.send(vpcp.organ_id, edxml.serialize(document(vpcp, [nghean])), "edoc")
    async with FactReader(exchange.bootstrap, exchange.settings.outbound_partitions) as reader:
        facts = await reader.until(lambda fs: "status" in _kinds(fs, doc.document_id)
                                   and any(f.kind == "refused" for f in fs))
    kinds = _kinds(facts, doc.document_id)
    assert kinds[:2] == ["received", "published"] and {"delivered", "status"} <= set(kinds), kinds
    received = next(f for f in facts if f.kind == "received")
    answered = next(f for f in facts if f.kind == "status")
    assert received.sender == vpcp.organ_id and received.accepted_at == received.at
    assert (answered.status_code, answered.actor, answered.accepted_at) == ("01", nghean.organ_id, received.at)
    assert (answered.at - answered.accepted_at).total_seconds() == 60
    refusal = next(f for f in facts if f.kind == "refused")
    assert refusal.message_id == refused and refusal.reason.startswith("unsigned:") and refusal.package_kind == "edoc"
    assert len({f.id for f in facts}) == len(facts)
    assert await exchange.ledger.pool.fetchval("SELECT count(*) FROM event_outbox") == 0


async def test_after_the_broker_lost_its_data_the_days_facts_are_published_again(
        broker_factory, database_url: str, dev_pki: Pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broker = await broker_factory()
    async with open_exchange(broker.bootstrap, database_url, dev_pki, tmp_path) as exchange:
        vpcp, nghean = exchange.vpcp, exchange.nghean
        doc = document(vpcp, [nghean])
        await exchange.agents.send(vpcp.organ_id, signed(vpcp, doc), "edoc", key=doc.document_id)
        async with FactReader(exchange.bootstrap, exchange.settings.outbound_partitions) as reader:
            before = {f.id for f in await reader.until(lambda fs: "published" in _kinds(fs, doc.document_id))}
        await broker.restart()  # every topic and record gone: the router sees a new epoch
        async with FactReader(exchange.bootstrap, exchange.settings.outbound_partitions) as reader:
            again = await reader.until(lambda fs: before <= {f.id for f in fs}, timeout=30)
    assert before <= {f.id for f in again}  # the same facts, under the same ids, after the loss


async def test_a_refused_package_is_kept_and_an_operators_requeue_judges_it_again(exchange: Exchange) -> None:
    rogue, vpcp = exchange.rogue, exchange.vpcp
    doc = document(rogue, [vpcp])
    body = signed(rogue, doc)
    message_id = await exchange.agents.send(rogue.organ_id, body, "edoc", key=doc.document_id)
    rogue_inbox = await exchange.agents.inbox(rogue.organ_id)
    first = await rogue_inbox.notice_for(message_id)
    assert first.outcome == "refused" and first.reason.startswith("unregistered-certificate")

    [letter] = [d for d in await exchange.ledger.dead_letters() if d.message_id == message_id]
    assert (letter.sender, letter.document_id, letter.reason_code) == (rogue.organ_id, doc.document_id,
                                                                      "unregistered-certificate")
    assert await exchange.ledger.pool.fetchval("SELECT body FROM dead_letters WHERE message_id = $1", message_id) == body

    await exchange.ledger.directory.add(rogue.organ_id, rogue.name, certificates=[rogue.pem], at=exchange.clock())
    assert await exchange.ledger.request_requeue(message_id, "operator-an")
    assert not await exchange.ledger.request_requeue(message_id, "operator-an")  # once
    await rogue_inbox.wait_for(lambda r: any(n.requeued for n in r.notices(message_id)), timeout=15)
    answer = next(n for n in rogue_inbox.notices(message_id) if n.requeued)
    assert answer.outcome == "accepted" and answer.recipients == (vpcp.organ_id,)
    vpcp_inbox = await exchange.agents.inbox(vpcp.organ_id)
    await vpcp_inbox.wait_for(lambda r: bool(r.deliveries(requeue_message_id(message_id))))
    [again] = [d for d in await exchange.ledger.dead_letters() if d.message_id == message_id]
    assert again.requeued_by == "operator-an" and again.requeue_message_id == requeue_message_id(message_id)
    actions = await exchange.ledger.operator_actions()
    assert [(a["operator"], a["action"], a["target"]) for a in actions] == [("operator-an", "requeue", message_id)]


async def test_dead_letters_page_by_keyset(exchange: Exchange) -> None:
    vpcp, nghean = exchange.vpcp, exchange.nghean
    sent = []
    for _ in range(5):
        sent.append(await exchange.agents.send(vpcp.organ_id, edxml.serialize(document(vpcp, [nghean])), "edoc"))
        exchange.clock.advance(1)
    inbox = await exchange.agents.inbox(vpcp.organ_id)
    for message_id in sent:
        await inbox.notice_for(message_id)
    everything = await exchange.ledger.dead_letters(limit=10)
    first = await exchange.ledger.dead_letters(limit=3)
    rest = await exchange.ledger.dead_letters(limit=3, after=first[-1].token)
    assert sorted(d.message_id for d in everything) == sorted(sent)
    assert [d.message_id for d in first + rest] == [d.message_id for d in everything]  # newest first, no overlap
    assert [(d.refused_at, d.message_id) for d in everything] == sorted(
        ((d.refused_at, d.message_id) for d in everything), reverse=True)
