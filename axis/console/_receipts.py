"""Receipts still owed, and which are overdue, without scanning the ledger's history on each page.

`Ledger.overdue()` joins every delivery with its statuses: right for `axis overdue`, but seconds of work at
millions of documents. The console keeps a projection instead, `console_open_receipts`: one row per
(document, recipient) first published to the recipient's inbox that has no 02..06 status yet, with
`arrived` once any 01..06 came. It is fed from `events` in seq order, a range of seqs per transaction.
Several routers append events at once with no lock (the ledger's batches), so a seq can commit after a
larger one: the follower notes the largest seq it sees on each round and reads only up to one it saw at
least a minute ago (`SETTLE_S`, on its own monotonic clock, not the events' times): every unit of work that
had taken a smaller seq by then has long committed (they last milliseconds to seconds), so it never misses
one; overdue counts are a minute behind, against deadlines of 15 minutes and a working day. Rows leave the
projection when the receipt completes or the delivery is given up (`undeliverable`), so it stays as small
as the receipts outstanding, and overdue is an index range over `delivered_at`.

The rules are `Ledger.overdue()`'s (axis.ledger late_statuses), turned into two cut-offs at `now`:
- 01 is late when no 01..06 came and `delivered_at` < now - arrival_deadline;
- 03 is late when no 02..06 came and the end of the working day of delivery is past. That end is the first
  working-day end after `delivered_at`, so it is past exactly when `delivered_at` is before the last
  working-day end before now (`workday_cutoff`).
Several consoles may follow at once: the progress row is taken `FOR UPDATE SKIP LOCKED`, one works (a caller
asking for everything, `settled=False`, waits for the row instead of leaving the range to the other).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from axis.errors import AxisError, ConsoleError
from axis.ledger import Clock, Overdue, WorkCalendar

from ._db import bounded_count, mapped

__all__ = ["OpenReceipts", "OverdueCount", "ProjectionLag", "workday_cutoff"]

_log = logging.getLogger(__name__)
SETTLE_S = 60.0  # far longer than a unit of work that appends events lasts
STEP = 50_000  # seqs per transaction: about a second of work, so a long catch-up never holds locks long
_NAME = "open_receipts"
_ANSWERED = "('02', '03', '04', '05', '06')"
_APPLY = (
    # first publication of a document to a recipient: a receipt is now owed
    "INSERT INTO console_open_receipts (document, recipient, delivered_at)"
    " SELECT document, recipient, at FROM events WHERE seq > $1 AND seq <= $2 AND kind = 'published'"
    " AND detail->>'attempt' = '1' ON CONFLICT DO NOTHING",
    # any 01..06 from the recipient: 01 is no longer owed
    "UPDATE console_open_receipts o SET arrived = true FROM events e WHERE e.seq > $1 AND e.seq <= $2"
    " AND e.kind = 'status' AND e.status_code IN ('01', '02', '03', '04', '05', '06')"
    " AND o.document = e.document AND o.recipient = e.recipient AND NOT o.arrived",
    # 02..06 completes the receipt; a delivery given up owes none
    "DELETE FROM console_open_receipts o USING events e WHERE e.seq > $1 AND e.seq <= $2"
    f" AND ((e.kind = 'status' AND e.status_code IN {_ANSWERED}) OR e.kind = 'undeliverable')"
    " AND o.document = e.document AND o.recipient = e.recipient",
)
_LATE = (  # $1: 01 cut-off (now - arrival deadline), $2: working-day cut-off
    "o.delivered_at < greatest($1::timestamptz, $2::timestamptz)"
    " AND (o.delivered_at < $2 OR (NOT o.arrived AND o.delivered_at < $1))"
)


def workday_cutoff(calendar: WorkCalendar, now: datetime) -> datetime:
    """The last end of a working day before `now`: 03/02 is late for what was delivered before it."""
    day = now.astimezone(calendar.tz).date()
    for _ in range(15):
        if day.weekday() in calendar.working_days:
            end = datetime.combine(day, calendar.end, calendar.tz)
            if end < now:
                return end
        day -= timedelta(days=1)
    raise ValueError("no working day within two weeks; check working_days")


@dataclass(frozen=True, slots=True)
class OverdueCount:
    """Late 01s and late 03/02s; None where counting gave up (too many to count within its budget)."""

    arrival: int | None
    acceptance: int | None

    @property
    def total(self) -> int | None:
        return None if self.arrival is None or self.acceptance is None else self.arrival + self.acceptance


@dataclass(frozen=True, slots=True)
class ProjectionLag:
    """How far the projection has read: its seq, the ledger's last seq, when it last moved."""

    seq: int
    head: int
    updated_at: datetime

    @property
    def behind(self) -> int:
        return max(0, self.head - self.seq)


class OpenReceipts:
    """The projection of receipts still owed, and the overdue queries over it."""

    def __init__(self, pool: asyncpg.Pool, *, calendar: WorkCalendar, arrival_deadline: timedelta, clock: Clock,
                 step: int = STEP) -> None:
        self._pool = pool
        self._calendar = calendar
        self._deadline = arrival_deadline
        self._clock = clock
        self._step = step
        self.last_error: str | None = None  # why the last round of following failed; None while it works
        self._sightings: deque[tuple[float, int]] = deque()  # (monotonic time, the largest seq seen then)
        self._settled = 0  # the largest seq seen at least SETTLE_S ago

    async def catch_up(self, *, max_steps: int | None = None, settled: bool = True) -> int:
        """Apply the events committed since the last call (all of them unless `max_steps`); returns how many seqs.

        Only seqs seen at least `SETTLE_S` ago are read (see the module doc); a caller that knows every
        writer is done (a test, a bench after its load) passes `settled=False` to read up to the last one,
        waiting for another console's round rather than leaving the range to it."""
        with mapped():
            head = int(await self._pool.fetchval("SELECT coalesce(max(seq), 0) FROM events"))
        upto = head if not settled else self._settle(head)
        moved, steps = 0, 0
        while max_steps is None or steps < max_steps:
            step = await self._step_once(upto, wait=not settled)
            if not step:
                break
            moved, steps = moved + step, steps + 1
        return moved

    def _settle(self, head: int) -> int:
        now = time.monotonic()
        self._sightings.append((now, head))
        while self._sightings and self._sightings[0][0] <= now - SETTLE_S:
            self._settled = max(self._settled, self._sightings.popleft()[1])
        return self._settled

    async def _step_once(self, head: int, *, wait: bool) -> int:
        lock = "FOR UPDATE" if wait else "FOR UPDATE SKIP LOCKED"
        with mapped():
            async with self._pool.acquire() as conn, conn.transaction():
                progress = await conn.fetchval(f"SELECT seq FROM console_progress WHERE name = $1 {lock}", _NAME)
                if progress is None:  # another console is applying this range right now
                    return 0
                done = int(progress)
                upto = min(head, done + self._step)
                if upto <= done:
                    return 0
                for sql in _APPLY:
                    await conn.execute(sql, done, upto)
                await conn.execute(
                    "UPDATE console_progress SET seq = $2, updated_at = now() WHERE name = $1", _NAME, upto)
        return upto - done

    async def run(self, interval_s: float) -> None:
        """Follow the ledger until cancelled; a failing round is logged and tried again next time."""
        while True:
            try:
                await self.catch_up()
                self.last_error = None
            except AxisError as exc:
                self.last_error = str(exc)
                _log.warning("console: following the ledger's receipts failed (will retry): %s", exc)
            await asyncio.sleep(interval_s)

    async def lag(self) -> ProjectionLag:
        with mapped():
            row = await self._pool.fetchrow(
                "SELECT p.seq, p.updated_at, (SELECT coalesce(max(seq), 0) FROM events) AS head"
                " FROM console_progress p WHERE p.name = $1", _NAME)
        return ProjectionLag(int(row["seq"]), int(row["head"]), row["updated_at"])

    def _cutoffs(self, now: datetime | None) -> tuple[datetime, datetime]:
        now = now or self._clock()
        return now - self._deadline, workday_cutoff(self._calendar, now)

    async def count(self, now: datetime | None = None) -> OverdueCount:
        """How many 01s and 03/02s are late at `now` (each counted within the count budget)."""
        arrival, workday = self._cutoffs(now)
        async with self._pool.acquire() as conn:
            late_01 = await bounded_count(
                conn, "SELECT count(*) FROM console_open_receipts WHERE NOT arrived AND delivered_at < $1", arrival)
            late_03 = await bounded_count(
                conn, "SELECT count(*) FROM console_open_receipts WHERE delivered_at < $1", workday)
        return OverdueCount(late_01, late_03)

    async def by_recipient(self, organ_ids: list[str], now: datetime | None = None) -> dict[str, int]:
        """Late statuses per recipient among `organ_ids` (one page of agencies)."""
        arrival, workday = self._cutoffs(now)
        with mapped():
            rows = await self._pool.fetch(
                "SELECT o.recipient, count(*) FILTER (WHERE o.delivered_at < $2)"
                " + count(*) FILTER (WHERE NOT o.arrived AND o.delivered_at < $1) AS late"
                f" FROM console_open_receipts o WHERE {_LATE} AND o.recipient = ANY($3::text[]) GROUP BY o.recipient",
                arrival, workday, organ_ids)
        return {r["recipient"]: int(r["late"]) for r in rows}

    async def page(self, *, now: datetime | None = None, after: str | None = None, limit: int = 100,
                   recipient: str | None = None) -> tuple[list[Overdue], str | None]:
        """Overdue statuses, oldest delivery first, as `Ledger.overdue()` gives them; and the next page's token.

        The token is the last receipt's `delivered_at|document|recipient` (keyset, never OFFSET).
        """
        now = now or self._clock()
        arrival, workday = self._cutoffs(now)
        at, document, organ = _parse_token(after)
        with mapped():
            rows = await self._pool.fetch(
                "SELECT o.document, o.recipient, o.delivered_at, o.arrived, d.document_id, d.sender"
                f" FROM console_open_receipts o JOIN documents d ON d.id = o.document WHERE {_LATE}"
                " AND ($3::text IS NULL OR o.recipient = $3)"
                " AND ($4::timestamptz IS NULL OR (o.delivered_at, o.document, o.recipient) > ($4, $5, $6))"
                " ORDER BY o.delivered_at, o.document, o.recipient LIMIT $7",
                arrival, workday, recipient, at, document, organ, limit + 1)
        late: list[Overdue] = []
        for row in rows[:limit]:
            delivered = row["delivered_at"]
            if not row["arrived"] and delivered < arrival:
                late.append(Overdue(row["document_id"], row["sender"], row["recipient"], "01",
                                    delivered + self._deadline, delivered))
            if delivered < workday:
                late.append(Overdue(row["document_id"], row["sender"], row["recipient"], "03",
                                    self._calendar.end_of_working_day(delivered), delivered))
        last = rows[limit - 1] if len(rows) > limit else None
        token = f"{last['delivered_at'].isoformat()}|{last['document']}|{last['recipient']}" if last else None
        return late, token


def _parse_token(token: str | None) -> tuple[datetime | None, int | None, str | None]:
    """A page token back into its keys."""
    if not token:
        return None, None, None
    try:
        at, document, recipient = token.split("|", 2)
        return datetime.fromisoformat(at), int(document), recipient
    except ValueError:
        raise ConsoleError(f"page token {token!r} was not made by this page; start from its first page") from None
