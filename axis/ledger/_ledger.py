"""`Ledger`: the PostgreSQL side of the exchange behind one object with a lifecycle.

Opens its pool in `start()` (never at import or construction, so it binds to the running loop),
migrates the schema, and hands out the directory, units of work, the relay's outbox and the reports.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import asyncpg

from axis.errors import LedgerError
from axis.lifecycle import AsyncService, stop_within

from ._deadlines import Overdue, WorkCalendar
from ._directory import Directory
from ._leader import Leadership
from ._migrate import migrate
from ._ops import Operations
from ._outbox import Claim, Outbox
from ._pg import create_pool, mapped
from ._proofs import Proofs
from ._refs import DeadLetter
from ._reports import overdue, trail
from ._uow import UnitOfWork

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Ledger(AsyncService):
    """Directory, ledger and outbox in PostgreSQL. `start()`/`stop()` are idempotent; `async with` works."""

    def __init__(
        self, dsn: str, *, calendar: WorkCalendar, arrival_deadline: timedelta, clock: Clock = utc_now,
        pool_size: int = 5,
    ) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self.calendar = calendar
        self.arrival_deadline = arrival_deadline
        self.clock = clock
        self._pool: asyncpg.Pool | None = None
        self._closed = False

    async def start(self) -> None:
        if self._closed:
            raise LedgerError("this Ledger was stopped; build a new one")
        if self._pool is not None:
            return
        pool = await create_pool(self._dsn, max_size=self._pool_size)
        try:
            await migrate(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def stop(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None and not await stop_within(pool.close(), 10.0, "closing the ledger's connections"):
            pool.terminate()  # a connection never released (a task cancelled mid-query) must not hang the stop


    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise LedgerError("the Ledger is not started")
        return self._pool

    @property
    def directory(self) -> Directory:
        return Directory(self.pool)

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.pool)

    def leadership(self) -> Leadership:
        """A claim on leading the routers (one at a time; `close()` it when stopping)."""
        return Leadership(self._dsn)

    def claim(self) -> Claim:
        """One relay pass's transaction, taking due rows no other router holds (`async with`)."""
        return Claim(self.pool)

    @property
    def proofs(self) -> Proofs:
        """Batches and checkpoints: what the proof of delivery reads and writes (`axis.proof`)."""
        return Proofs(self.pool)

    @property
    def ops(self) -> Operations:
        """Facts to publish, dead letters, operator actions (docs/ARCHITECTURE.md, the operators' contracts)."""
        return Operations(self.pool)

    async def dead_letters(self, *, limit: int = 100, after: str | None = None) -> list[DeadLetter]:
        """Refused packages, newest first; `after` is the previous page's last `DeadLetter.token`."""
        return await self.ops.dead_letters(limit=limit, after=after)

    async def request_requeue(self, message_id: str, operator: str) -> bool:
        """Ask the router to judge a dead letter again (recorded as the operator's action)."""
        return await self.ops.request_requeue(message_id, operator, self.clock())

    async def record_operator_action(self, operator: str, action: str, target: str, detail: dict[str, Any]) -> None:
        """Record what an operator did: an `operator` event (proved like the others, published as a fact)."""
        await self.ops.record_operator_action(operator, action, target, detail, self.clock())

    async def operator_actions(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The latest operators' actions, newest first (`at`, `operator`, `action`, `target`, `detail`)."""
        with mapped():
            rows = await self.pool.fetch(
                "(SELECT at, actor AS operator, detail->>'action' AS action, detail->>'target' AS target, detail"
                "  FROM events WHERE kind = 'operator' ORDER BY seq DESC LIMIT $1)"
                " UNION ALL (SELECT at, operator, action, target, detail FROM operator_actions"  # before 0005
                "  ORDER BY id DESC LIMIT $1) ORDER BY at DESC LIMIT $1", limit)
        return [dict(r) for r in rows]

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.pool)

    async def trail(self, document_id: str, sender: str | None = None) -> dict[str, Any] | None:
        """Per recipient: events in order and the current state (see `axis status`)."""
        return await trail(self.pool, document_id, sender)

    async def overdue(self, now: datetime | None = None) -> list[Overdue]:
        """Late 01 and 03/02 statuses at `now` (default: the ledger's clock)."""
        return await overdue(
            self.pool, now=now or self.clock(), calendar=self.calendar, arrival_deadline=self.arrival_deadline
        )

    async def overdue_count(self) -> int:
        """For metrics: how many statuses are late right now."""
        return len(await self.overdue())
