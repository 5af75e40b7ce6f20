"""One batch, one transaction: a record sees what earlier records of the same batch decided.

The intake queues its writes and answers reads from what the unit of work knows, so these tests feed
one hand-made batch through the same steps as `Router._process` (judge off the loop, preload, handle
each record, commit) and check the outcome is what record-by-record handling gives.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from aiokafka.structs import ConsumerRecord
from exchange_helpers import Exchange, document, signed, status

from axis import wire
from axis.bootstrap import build_verifier
from axis.ledger import delivery_id_for
from axis.proof import verify_ledger
from axis.router import BatchEffects, Intake, RouterMetrics

T0 = datetime(2025, 3, 3, 9, 0)


def _record(offset: int, sender: str, body: bytes, kind: str, message_id: str | None = None) -> ConsumerRecord[Any, Any]:
    headers = wire.RecordHeaders(message_id or wire.new_message_id(), kind, sender, wire.sha256_hex(body), wire.now_ms())  # type: ignore[arg-type]
    return ConsumerRecord(wire.OUTBOUND, 0, offset, 0, 0, b"k", body, None, 1, len(body), headers.encode())


async def _run_batch(ex: Exchange, records: list[ConsumerRecord[Any, Any]]) -> tuple[BatchEffects, RouterMetrics]:
    metrics = RouterMetrics()
    intake = Intake(build_verifier(ex.settings), max_package_bytes=ex.settings.max_package_bytes, tz=ex.settings.tz,
                    metrics=metrics)
    effects = BatchEffects(verdicts=await asyncio.to_thread(intake.judge.batch, records))
    async with ex.ledger.unit_of_work() as uow:
        await intake.preload(uow, effects)
        for record in records:
            await intake.handle(uow, record, ex.clock(), effects)
        await uow.commit()
    return effects, metrics


async def test_a_document_its_resend_its_statuses_and_its_ack_in_one_batch(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    doc = document(ex.vpcp, [ex.nghean])
    body = signed(ex.vpcp, doc)
    doc_id = wire.new_message_id()
    records = [
        _record(0, ex.vpcp.organ_id, body, "edoc", doc_id),
        _record(1, ex.vpcp.organ_id, body, "edoc", doc_id),  # the agent resent before the notice came
        _record(2, ex.vpcp.organ_id, signed(ex.vpcp, status(ex.vpcp, doc, "13", to=ex.nghean, at=T0)), "status"),
        _record(3, ex.nghean.organ_id, signed(ex.nghean, status(ex.nghean, doc, "01", at=T0 + timedelta(minutes=1))), "status"),
        _record(4, ex.nghean.organ_id, signed(ex.nghean, status(ex.nghean, doc, "01", at=T0 + timedelta(minutes=2))), "status"),
        _record(5, ex.nghean.organ_id, wire.encode_ack([delivery_id_for(doc_id, ex.nghean.organ_id)]), "ack"),
    ]
    effects, metrics = await _run_batch(ex, records)
    assert (metrics.accepted, metrics.duplicates, metrics.acks) == (3, 1, 1)
    assert metrics.refused == Counter({"status-not-allowed": 1}) and len(effects.dead_letters) == 1
    assert "already recorded" in effects.dead_letters[0].headers[-2][1].decode()
    pool = ex.ledger.pool
    edoc = await pool.fetchrow("SELECT state, acked_at FROM deliveries WHERE message_id = $1", doc_id)
    assert edoc["state"] == "acked" and edoc["acked_at"] == ex.clock()  # by the 01 queued in the same batch
    trail = await ex.ledger.trail(doc.document_id)
    assert trail is not None
    kinds = [(e["kind"], e["status_code"]) for e in trail["recipients"][ex.nghean.organ_id]["events"]]
    assert kinds == [("status", "13"), ("status", "01"), ("delivered", ""), ("status-refused", "01")]
    outcomes = await pool.fetch(
        "SELECT outcome, count(*) AS n FROM notices WHERE message_id = ANY($1::text[]) GROUP BY outcome",
        [doc_id] + [wire.RecordHeaders.decode(r.headers).message_id for r in records[2:5]],
    )
    assert {r["outcome"]: r["n"] for r in outcomes} == {"accepted": 3, "duplicate": 1, "refused": 1}
    assert (await verify_ledger(ex.ledger, trust=[], exchange="")).ok


async def test_a_replayed_batch_changes_nothing_but_answers_duplicate(shared_exchange: Exchange) -> None:
    ex = shared_exchange
    docs = [document(ex.vpcp, [ex.nghean, ex.caobang]) for _ in range(5)]
    records = [_record(i, ex.vpcp.organ_id, signed(ex.vpcp, d), "edoc") for i, d in enumerate(docs)]
    await _run_batch(ex, records)
    events = await ex.ledger.pool.fetchval("SELECT count(*) FROM events")
    _, again = await _run_batch(ex, records)  # the offset commit was lost: the same batch comes back
    assert (again.accepted, again.duplicates) == (0, 5)
    assert await ex.ledger.pool.fetchval("SELECT count(*) FROM events") == events
    ids = [wire.RecordHeaders.decode(r.headers).message_id for r in records]
    assert await ex.ledger.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE message_id = ANY($1::text[])", ids) == 10
    assert (await verify_ledger(ex.ledger, trust=[], exchange="")).ok
