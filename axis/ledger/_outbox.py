"""The router's outbox as the relay sees it: due deliveries and pending notices, and their bookkeeping.

Rows are marked published only after the broker acknowledged them, so a crash between publishing and
marking republishes (agents drop the duplicate by message id); marking never overwrites an ack that
arrived meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

import asyncpg

from axis.wire import Notice

from ._pg import mapped, transaction
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
"""


class Outbox:
    """Relay-side access to deliveries and notices."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def due_deliveries(self, now: datetime, limit: int) -> list[DueDelivery]:
        with mapped():
            rows = await self._pool.fetch(_DUE, now, limit)
        return [
            DueDelivery(
                r["delivery_id"], r["message_id"], r["recipient"], r["kind"], r["attempts"], r["sender"],
                r["body_sha256"], r["sent_at_ms"], bytes(r["body"]),
                DocumentRef(r["doc_id"], r["document_id"], r["doc_sender"], tuple(r["doc_recipients"]), r["business_type"]),
            )
            for r in rows
        ]

    async def mark_published(self, published: Sequence[tuple[DueDelivery, datetime]], now: datetime) -> None:
        """Record attempt n of each delivery and when to try again unless acked first.

        One UPDATE for the whole batch and one INSERT for its events: this transaction holds the chain
        lock the router's batches wait for, so it stays a handful of round trips long.
        """
        async with self.unit_of_work() as uow:
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
                        message_id=delivery.message_id,
                        detail={"attempt": attempts[delivery.delivery_id], "delivery_id": delivery.delivery_id},
                    )
            await uow.commit()

    async def give_up(self, delivery: DueDelivery, now: datetime, reason: str) -> bool:
        """Mark a delivery undeliverable and tell its sender; False if it was acked meanwhile."""
        async with self.unit_of_work() as uow:
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
            )
            await uow.commit()
        return True

    async def pending_notices(self, limit: int) -> list[PendingNotice]:
        with mapped():
            rows = await self._pool.fetch(
                "SELECT id, organ_id, message_id, body FROM notices WHERE state = 'pending' ORDER BY id LIMIT $1",
                limit,
            )
        return [PendingNotice(r["id"], r["organ_id"], r["message_id"], bytes(r["body"])) for r in rows]

    async def mark_notices_published(self, ids: Sequence[int], now: datetime) -> None:
        async with transaction(self._pool) as conn:
            await conn.execute(
                "UPDATE notices SET state = 'published', published_at = $2 WHERE id = ANY($1::bigint[])",
                list(ids), now,
            )

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

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._pool)
