"""The receipts projection gives what `Ledger.overdue()` gives, at any time, from a range read of the events."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from _console_seed import SeedInfo
from hypothesis import given, settings
from hypothesis import strategies as st

from axis.console import OpenReceipts, workday_cutoff
from axis.ledger import Ledger, WorkCalendar, utc_now

CALENDAR = WorkCalendar(ZoneInfo("Asia/Ho_Chi_Minh"), time(8), time(17), (0, 1, 2, 3, 4))
MOMENTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31),
                       timezones=st.just(timezone.utc))


@settings(max_examples=400, deadline=None)
@given(delivered=MOMENTS, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)))
def test_the_working_day_cutoff_says_what_the_end_of_the_working_day_says(delivered: datetime,
                                                                         later: timedelta) -> None:
    now = delivered + later
    assert (delivered < workday_cutoff(CALENDAR, now)) == (CALENDAR.end_of_working_day(delivered) < now)


def _receipts(ledger: Ledger, step: int = 500) -> OpenReceipts:
    return OpenReceipts(ledger.pool, calendar=ledger.calendar, arrival_deadline=ledger.arrival_deadline,
                        clock=utc_now, step=step)


async def _all_pages(receipts: OpenReceipts, now: datetime) -> list[dict[str, str]]:
    found, token = [], None
    while True:
        page, token = await receipts.page(now=now, after=token, limit=7)
        found += [o.as_dict() for o in page]
        if token is None:
            return found


async def test_the_projection_lists_exactly_what_ledger_overdue_lists_at_any_time(ledger: Ledger,
                                                                                   seeded: SeedInfo) -> None:
    receipts = _receipts(ledger)
    await receipts.catch_up(settled=False)
    for later in (timedelta(0), timedelta(minutes=20), timedelta(hours=9), timedelta(days=1), timedelta(days=4)):
        now = seeded.now + later
        expected = [o.as_dict() for o in await ledger.overdue(now)]
        assert sorted(await _all_pages(receipts, now), key=str) == sorted(expected, key=str), later
        count = await receipts.count(now)
        assert (count.arrival, count.acceptance) == (
            sum(o["late_status"] == "01" for o in expected), sum(o["late_status"] == "03" for o in expected))


async def test_consoles_following_at_once_apply_each_event_once(ledger: Ledger, seeded: SeedInfo) -> None:
    await ledger.pool.execute("TRUNCATE console_open_receipts")
    await ledger.pool.execute("UPDATE console_progress SET seq = 0")
    first, second = _receipts(ledger, step=97), _receipts(ledger, step=89)
    moved = await asyncio.gather(first.catch_up(settled=False), second.catch_up(settled=False))
    head = await ledger.pool.fetchval("SELECT max(seq) FROM events")
    assert sum(moved) == head and (await first.lag()).behind == 0
    assert await first.catch_up(settled=False) == 0
    now = seeded.now + timedelta(days=2)
    assert sorted(await _all_pages(first, now), key=str) == sorted((o.as_dict() for o in await ledger.overdue(now)),
                                                                   key=str)


async def test_the_follower_reads_only_seqs_it_saw_a_settling_time_ago(ledger: Ledger, seeded: SeedInfo,
                                                                       monkeypatch: object) -> None:
    """A seq taken by a unit of work still open may commit after larger ones: the follower waits `SETTLE_S`
    after seeing a head before reading up to it, whatever times the events carry."""
    import axis.console._receipts as module

    await ledger.pool.execute("TRUNCATE console_open_receipts")
    await ledger.pool.execute("UPDATE console_progress SET seq = 0")
    monkeypatch.setattr(module, "SETTLE_S", 0.5)  # type: ignore[attr-defined]
    receipts = _receipts(ledger, step=100_000)
    head = await ledger.pool.fetchval("SELECT max(seq) FROM events")
    assert await receipts.catch_up() == 0  # seen just now: not yet
    await asyncio.sleep(0.6)
    assert await receipts.catch_up() == head  # seen 0.6 s ago: read up to it
    assert (await receipts.lag()).behind == 0
