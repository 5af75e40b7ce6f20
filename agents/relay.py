"""`OutboxRelay`: moves pending outbox rows to `edx.outbound` until the router answers each one.

The outbox, not the broker, is the durability: Tansu keeps records in memory and may lose them all, and it
even acknowledges produce requests for topics it lost. So a broker ack only schedules the next resend
(`confirm_timeout_s`, doubling, capped); a row leaves `pending` only on the router's notice (applied by the
receiver). A new broker epoch makes every pending row due at once. Under load the relay drains up to
`batch_max` rows per publish; when quiet it sleeps on an `asyncio.Event` that a submission sets, so a
single document goes out immediately rather than at the next poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from axis.errors import TransportError
from axis.transport import OutRecord, Publisher
from axis.wire import OUTBOUND, RecordHeaders, now_ms

from ._task import LoopService, Supervised
from .store import PendingRow, Store

__all__ = ["OutboxRelay", "outbound_record"]

_log = logging.getLogger(__name__)


def outbound_record(organ_id: str, row: PendingRow, sent_at_ms: int) -> OutRecord:
    """The `edx.outbound` record of an outbox row, as the router will read it (docs/ARCHITECTURE.md, the wire)."""
    headers = RecordHeaders(row.message_id, row.kind, organ_id, row.body_sha256, sent_at_ms)
    return OutRecord(OUTBOUND, row.document_id.encode("utf-8"), row.body, headers.encode())


class OutboxRelay(LoopService):
    """Publishes and resends one agent's outbox. `start()`/`stop()` (idempotent) or `async with`."""

    def __init__(
        self,
        organ_id: str,
        store: Store,
        publisher: Publisher,
        *,
        confirm_timeout_s: float = 30.0,
        batch_max: int = 500,
        max_backoff_s: float = 600.0,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.organ_id = organ_id
        self._store = store
        self._publisher = publisher
        self._confirm_ms = int(confirm_timeout_s * 1000)
        self._max_backoff_ms = int(max(max_backoff_s, confirm_timeout_s) * 1000)
        self._batch_max = batch_max
        self._clock = clock_ms
        self._wake = asyncio.Event()
        self._task = Supervised(f"outbox-relay-{organ_id}", self._run)
        self.published = 0
        self.publish_failures = 0
        self.last_error: BaseException | None = None

    def wake(self) -> None:
        """Something became due (a submission, a resend request): publish without waiting for the timer."""
        self._wake.set()

    async def on_new_epoch(self, epoch: str) -> None:
        """The broker lost its data: resend everything unconfirmed, now."""
        count = await self._store.resend_all_pending()
        _log.warning("agent %s: broker epoch %s, resending %d unconfirmed package(s)", self.organ_id, epoch, count)
        self.wake()


    def _backoff_ms(self, attempts: int) -> int:
        return min(self._confirm_ms * 2 ** min(attempts, 16), self._max_backoff_ms)

    async def publish_due(self) -> int:
        """Publish one batch of due rows; returns how many went out (raises TransportError on failure)."""
        rows = await self._store.due(self._batch_max)
        if not rows:
            return 0
        now = self._clock()
        sent_at = {r.message_id: r.first_sent_at_ms or now for r in rows}
        await self._publisher.publish_many([outbound_record(self.organ_id, r, sent_at[r.message_id]) for r in rows])
        await self._store.mark_published(
            [(r.message_id, sent_at[r.message_id], self._clock() + self._backoff_ms(r.attempts)) for r in rows])
        self.published += len(rows)
        return len(rows)

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                sent = await self.publish_due()
                failures, self.last_error = 0, None
            except TransportError as exc:
                # The broker is away or restarting: rows stay due, try again soon (EpochWatch covers data loss).
                failures += 1
                self.publish_failures += 1
                self.last_error = exc
                _log.info("agent %s: publish failed (%s), retrying", self.organ_id, exc)
                await asyncio.sleep(min(0.2 * 2 ** failures, 5.0))
                continue
            if sent >= self._batch_max:
                continue  # under load: drain the next batch straight away
            next_due = await self._store.next_due_ms()
            timeout = None if next_due is None else max(0.0, (next_due - self._clock()) / 1000)
            if timeout == 0.0:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
