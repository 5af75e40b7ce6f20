"""The router's outbox as the relay sees it: due deliveries, pending notices, facts, requeues, and their
bookkeeping.

Several routers relay at once: a `Claim` is one transaction that takes what is due with
`FOR UPDATE ... SKIP LOCKED`, so each row is published by one router; the rows are marked in the same
transaction after the broker acknowledged them, so a crash between publishing and committing republishes
(agents drop the duplicate by message id) and never loses a row; marking never overwrites an ack that
arrived meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

import asyncpg

from axis.wire import LedgerFact, Notice, sha256_hex

from ._ops import RequeueDue, facts_of
from ._pg import transaction
from ._uow import DocumentRef, UnitOfWork


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery to (re)publish now, with what its record needs."""

    delivery_id: str
    message_id: str
    recipient: str
    kind: str
    attempts: int
    sender: str
    body_sha256: str
    sent_at_ms: int
    body: bytes
    document: DocumentRef


@dataclass(frozen=True, slots=True)
class PendingNotice:
    id: int
    organ_id: str
    message_id: str
    body: bytes


_DUE = """
SELECT d.delivery_id, d.message_id, d.recipient, d.kind, d.attempts, m.sender, m.body_sha256, m.sent_at_ms,
       COALESCE(s.body, doc.body) AS body, doc.id AS doc_id, doc.document_id, doc.sender AS doc_sender,
       doc.recipients AS doc_recipients, doc.business_type
FROM deliveries d
JOIN processed_messages m ON m.message_id = d.message_id
JOIN documents doc ON doc.id = d.document
LEFT JOIN status_messages s ON s.message_id = d.message_id
WHERE d.state IN ('pending', 'published') AND d.next_attempt_at <= $1
ORDER BY d.next_attempt_at, d.delivery_id
LIMIT $2
FOR UPDATE OF d SKIP LOCKED
"""


class Outbox:
    """What the relay does over all rows at once (after a broker epoch change)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def resend_all(self, now: datetime, notices_since: timedelta) -> tuple[int, int]:
        """After a broker epoch change: every unacked delivery is due now, recent notices go out again."""
        async with transaction(self._pool) as conn:
            deliveries = await conn.fetchval(
                "WITH u AS (UPDATE deliveries SET next_attempt_at = $1 WHERE state IN ('pending', 'published')"
                " RETURNING 1) SELECT count(*) FROM u",
                now,
            )
            notices = await conn.fetchval(
                "WITH u AS (UPDATE notices SET state = 'pending' WHERE state = 'published' AND published_at >= $1"
                " RETURNING 1) SELECT count(*) FROM u",
                now - notices_since,
            )
        return int(deliveries), int(notices)


class Claim:
    """One relay pass's transaction: rows taken here are skipped by every other router until it ends.

    `async with ledger.claim() as claim:` ... `await claim.commit()` (without it, everything is rolled back
    and the rows are due again)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._uow = UnitOfWork(pool)

    async def __aenter__(self) -> Claim:
        await self._uow.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._uow.__aexit__(*exc)

    async def commit(self) -> None:
        await self._uow.commit()

    # -- deliveries ----------------------------------------------------------------------------------

    async def deliveries(self, now: datetime, limit: int) -> list[DueDelivery]:
        """Deliveries due now that no other router holds."""
        rows = await self._uow.fetch(_DUE, now, limit)
        return [
            DueDelivery(
                r["delivery_id"], r["message_id"], r["recipient"], r["kind"], r["attempts"], r["sender"],
                r["body_sha256"], r["sent_at_ms"], bytes(r["body"]),
                DocumentRef(r["doc_id"], r["document_id"], r["doc_sender"], tuple(r["doc_recipients"]), r["business_type"]),
            )
            for r in rows
        ]

    async def mark_published(self, published: Sequence[tuple[DueDelivery, datetime]], now: datetime) -> None:
        """Record attempt n of each delivery and when to try again unless acked first (one UPDATE, one INSERT
        of events: a handful of round trips)."""
        uow = self._uow
        rows = await uow.fetch(
            "UPDATE deliveries d SET state = 'published', attempts = d.attempts + 1, published_at = $2,"
            " first_published_at = COALESCE(d.first_published_at, $2), next_attempt_at = v.next_attempt_at"
            " FROM unnest($1::text[], $3::timestamptz[]) AS v(delivery_id, next_attempt_at)"
            " WHERE d.delivery_id = v.delivery_id AND d.state IN ('pending', 'published')"
            " RETURNING d.delivery_id, d.attempts",
            [d.delivery_id for d, _ in published], now, [at for _, at in published],
        )
        attempts = {r["delivery_id"]: int(r["attempts"]) for r in rows}
        for delivery, _ in published:
            if delivery.kind == "edoc" and delivery.delivery_id in attempts:
                await uow.append_event(
                    delivery.document, at=now, kind="published", actor="router", recipient=delivery.recipient,
                    message_id=delivery.message_id, body_sha256=delivery.body_sha256,
                    detail={"attempt": attempts[delivery.delivery_id], "delivery_id": delivery.delivery_id},
                )

    async def give_up(self, delivery: DueDelivery, now: datetime, reason: str) -> bool:
        """Mark a delivery undeliverable and tell its sender; False if it was acked meanwhile."""
        uow = self._uow
        done = await uow.fetchval(
            "UPDATE deliveries SET state = 'undeliverable', reason = $2 WHERE delivery_id = $1"
            " AND state IN ('pending', 'published') RETURNING delivery_id",
            delivery.delivery_id, reason,
        )
        if done is None:
            return False
        notice = Notice(
            message_id=delivery.message_id, outcome="undeliverable", reason=reason,
            document_id=delivery.document.document_id, recipient=delivery.recipient,
            at_ms=int(now.timestamp() * 1000),
        )
        await uow.add_notice(delivery.sender, notice, now)
        await uow.append_event(
            delivery.document, at=now, kind="undeliverable", actor="router", recipient=delivery.recipient,
            message_id=delivery.message_id, detail={"reason": reason, "attempts": delivery.attempts},
            body_sha256=sha256_hex(notice.encode()),
        )
        return True

    # -- notices -------------------------------------------------------------------------------------

    async def notices(self, limit: int) -> list[PendingNotice]:
        rows = await self._uow.fetch(
            "SELECT id, organ_id, message_id, body FROM notices WHERE state = 'pending' ORDER BY id LIMIT $1"
            " FOR UPDATE SKIP LOCKED", limit)
        return [PendingNotice(r["id"], r["organ_id"], r["message_id"], bytes(r["body"])) for r in rows]

    async def notices_published(self, ids: Sequence[int], now: datetime) -> None:
        await self._uow.fetch(
            "UPDATE notices SET state = 'published', published_at = $2 WHERE id = ANY($1::bigint[])", list(ids), now)

    # -- facts and requeues ----------------------------------------------------------------------------

    async def facts(self, limit: int) -> list[tuple[int, LedgerFact]]:
        """The oldest unpublished facts no other router holds, each with its pointer id (`_ops`)."""
        pointers = [r["id"] for r in await self._uow.fetch(
            "SELECT id FROM event_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", limit)]
        return await facts_of(self._uow, pointers)

    async def facts_published(self, pointers: Sequence[int]) -> None:
        await self._uow.fetch("DELETE FROM event_outbox WHERE id = ANY($1::bigint[])", list(pointers))

    async def requeues(self, limit: int) -> list[RequeueDue]:
        rows = await self._uow.fetch(
            "SELECT message_id, headers, document_id, body FROM dead_letters WHERE requeue_requested_at IS NOT NULL"
            " AND requeued_at IS NULL ORDER BY requeue_requested_at LIMIT $1 FOR UPDATE SKIP LOCKED", limit)
        return [RequeueDue(r["message_id"], dict(r["headers"]), (r["document_id"] or "").encode(), bytes(r["body"]))
                for r in rows]

    async def requeued(self, message_id: str, new_message_id: str, at: datetime) -> None:
        await self._uow.fetch(
            "UPDATE dead_letters SET requeued_at = $2, requeue_message_id = $3 WHERE message_id = $1",
            message_id, at, new_message_id)
