"""The relay: publishes the ledger's outbox (deliveries, notices, facts) and redelivers what is not acked.

Each kind is claimed in its own short transaction (`Ledger.claim()`, `FOR UPDATE SKIP LOCKED`), so any
number of routers relay at once without publishing a row twice; the rows are marked in that transaction
once the broker acknowledged them.

A delivery is (re)published when due: at once when created, then `redelivery_after` later, doubling up to
8x, until the recipient's agent acks it (an `ack` record or a status 01). After `redelivery_limit`
attempts it is marked undeliverable and the sender gets a Notice "undeliverable". Rows are marked
published only after the broker acknowledged the batch; a crash in between republishes (agents drop
duplicates by message id). Inbox topics are created explicitly before the first record goes to them.

Facts go to `edx.events` (their pointers are deleted once the broker acknowledged them, so a crash
republishes: consumers drop repeats by fact id). A dead letter an operator asked to requeue goes back to
`edx.outbound` under a message id derived from its own (so a crash that publishes it twice is a duplicate,
not a second document), with a `requeued-from` header: the router then answers its sender under the
original message id.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Awaitable, Callable

from axis import wire
from axis.ledger import Clock, DueDelivery, Ledger
from axis.transport import OutRecord, Publisher

from ._metrics import RouterMetrics

_log = logging.getLogger(__name__)

EnsureInbox = Callable[[list[str]], Awaitable[None]]


class Relay:
    """One pass of `run_once()` publishes what is due; the router calls it in a supervised loop."""

    def __init__(
        self, ledger: Ledger, publisher: Publisher, *, clock: Clock, redelivery_after: timedelta,
        redelivery_limit: int, batch_max: int, metrics: RouterMetrics, ensure_inboxes: EnsureInbox,
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._clock = clock
        self._after = redelivery_after
        self._limit = redelivery_limit
        self._batch_max = batch_max
        self._metrics = metrics
        self._ensure_inboxes = ensure_inboxes

    def backoff(self, attempt: int) -> timedelta:
        """How long after attempt n (1-based) to try again if no ack arrived."""
        return self._after * min(2 ** (attempt - 1), 8)

    async def run_once(self) -> int:
        """Publish due deliveries, pending notices, facts and requeues; returns how many rows it handled."""
        return await self._deliveries() + await self._notices() + await self._facts() + await self._requeues()

    async def _deliveries(self) -> int:
        now = self._clock()
        async with self._ledger.claim() as claim:
            due = await claim.deliveries(now, self._batch_max)
            if not due:
                return 0
            to_send: list[DueDelivery] = []
            for delivery in due:
                if delivery.attempts >= self._limit:
                    reason = f"not acknowledged by {delivery.recipient} after {delivery.attempts} attempt(s)"
                    if await claim.give_up(delivery, now, reason):
                        self._metrics.undeliverable += 1
                        _log.warning("delivery %s undeliverable: %s", delivery.delivery_id, reason)
                else:
                    to_send.append(delivery)
            if to_send:
                await self._ensure_inboxes(sorted({d.recipient for d in to_send}))
                await self._publisher.publish_many([self._record(d) for d in to_send])
                await claim.mark_published([(d, now + self.backoff(d.attempts + 1)) for d in to_send], now)
            await claim.commit()
        for d in to_send:
            if d.attempts == 0:
                self._metrics.delivered += 1
            else:
                self._metrics.redelivered += 1
        return len(due)

    @staticmethod
    def _record(d: DueDelivery) -> OutRecord:
        headers = wire.RecordHeaders(
            message_id=d.message_id, kind=d.kind, sender=d.sender, body_sha256=d.body_sha256,  # type: ignore[arg-type]
            sent_at_ms=d.sent_at_ms, delivery_id=d.delivery_id, attempt=d.attempts + 1,
        )
        return OutRecord(wire.inbox_topic(d.recipient), d.document.document_id.encode("utf-8"), d.body, headers.encode())

    async def _notices(self) -> int:
        async with self._ledger.claim() as claim:
            pending = await claim.notices(self._batch_max)
            if not pending:
                return 0
            await self._ensure_inboxes(sorted({n.organ_id for n in pending}))
            records = []
            for n in pending:
                headers = wire.RecordHeaders(
                    message_id=n.message_id, kind="notice", sender="router", body_sha256=wire.sha256_hex(n.body),
                    sent_at_ms=wire.now_ms(),
                )
                records.append(OutRecord(wire.inbox_topic(n.organ_id), n.message_id.encode(), n.body, headers.encode()))
            await self._publisher.publish_many(records)
            await claim.notices_published([n.id for n in pending], self._clock())
            await claim.commit()
        self._metrics.notices += len(pending)
        return len(pending)

    async def _facts(self) -> int:
        async with self._ledger.claim() as claim:
            pending = await claim.facts(self._batch_max)
            if not pending:
                await claim.commit()  # pointers of facts whose rows are gone were dropped
                return 0
            await self._publisher.publish_many([OutRecord(wire.EVENTS, f.key, f.encode()) for _, f in pending])
            await claim.facts_published([pointer for pointer, _ in pending])
            await claim.commit()
        self._metrics.facts += len(pending)
        return len(pending)

    async def _requeues(self) -> int:
        async with self._ledger.claim() as claim:
            due = await claim.requeues(self._batch_max)
            for letter in due:
                new_id = requeue_message_id(letter.message_id)
                headers = {**letter.headers, "message-id": new_id, "requeued-from": letter.message_id}
                record = OutRecord(wire.OUTBOUND, letter.key or None, letter.body,
                                   [(k, v.encode("utf-8")) for k, v in headers.items()])
                await self._publisher.publish(record)
                await claim.requeued(letter.message_id, new_id, self._clock())
                self._metrics.requeued += 1
                _log.info("dead letter %s requeued as %s", letter.message_id, new_id)
            await claim.commit()
        return len(due)


def requeue_message_id(message_id: str) -> str:
    """The message id a requeued dead letter travels under: derived, so publishing it twice is a duplicate."""
    return wire.sha256_hex(f"requeue:{message_id}".encode())[:32]
