"""Deadlines of a received document (Decree 30/2020 art. 21, Decision 28/2018).

01 (arrived) is due `arrival_deadline` after the document was delivered to the recipient's inbox; 03
(accepted) or 02 (refused) by the end of the working day on which it was delivered, or of the next
working day when it was delivered after hours or on a day off. Pure: a calendar and times in, times out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Working days (0 = Monday) and hours in one time zone."""

    tz: tzinfo
    start: time
    end: time
    working_days: tuple[int, ...]

    def end_of_working_day(self, at: datetime) -> datetime:
        """The end of the working day `at` falls in, else the end of the next working day."""
        local = at.astimezone(self.tz)
        day = local.date()
        if day.weekday() in self.working_days and local.time() < self.end:
            return datetime.combine(day, self.end, self.tz)
        for _ in range(14):
            day += timedelta(days=1)
            if day.weekday() in self.working_days:
                return datetime.combine(day, self.end, self.tz)
        raise ValueError("no working day within two weeks; check working_days")


@dataclass(frozen=True, slots=True)
class Overdue:
    """One late status: which (document, recipient), which status, due since when."""

    document_id: str
    sender: str
    recipient: str
    late_status: str  # "01" or "03"
    due_at: datetime
    delivered_at: datetime

    def as_dict(self) -> dict[str, str]:
        return {
            "document_id": self.document_id, "sender": self.sender, "recipient": self.recipient,
            "late_status": self.late_status, "due_at": self.due_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat(),
        }


def late_statuses(
    *, delivered_at: datetime, codes: set[str], now: datetime, calendar: WorkCalendar, arrival_deadline: timedelta,
) -> list[tuple[str, datetime]]:
    """(status, due_at) for each status that should have arrived by `now` and did not."""
    late: list[tuple[str, datetime]] = []
    if not codes:
        due = delivered_at + arrival_deadline
        if now > due:
            late.append(("01", due))
    if not codes & {"02", "03", "04", "05", "06"}:
        due = calendar.end_of_working_day(delivered_at)
        if now > due:
            late.append(("03", due))
    return late
