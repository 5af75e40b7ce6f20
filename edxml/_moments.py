"""Dates and timestamps as real document systems write them, read into the standard's values.

The standard writes dates `yyyy/MM/dd` and timestamps `yyyy/MM/dd HH:mm:ss` in Vietnam's local time.
Systems in production write other forms: `dd/MM/yyyy` (a widely deployed re-implementation of the SDK),
ISO 8601 with or without an offset, .NET's culture forms with `AM`/`PM` or Vietnamese `SA`/`CH`, Unix
epoch milliseconds. `read_moment` reads each of them and says which form it read, so the lenient profile
can warn with it; the canonical form reads with no remark. Day-first wins when a date could be read
both ways (`05/06/2020` is 5 June), as Vietnamese writes it, and the remark says it was assumed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

__all__ = ["VIETNAM", "read_moment"]

# Timestamps in packages are local time in Vietnam, which has no daylight saving.
VIETNAM = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

_CANONICAL_DATE = re.compile(r"(\d{4})/(\d{2})/(\d{2})\Z")
_CANONICAL_TIMESTAMP = re.compile(r"(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})\Z")
_YEAR_FIRST = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\Z")
_YEAR_LAST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})\Z")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})\Z")
_TIME = re.compile(
    r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(AM|PM|SA|CH)?\s*(Z|[+-]\d{2}:?\d{2})?\Z", re.IGNORECASE
)
_EPOCH = re.compile(r"\d{10}(\d{3})?\Z")
_AFTERNOON = {"PM", "CH"}  # CH: chiều, SA: sáng in Vietnamese .NET cultures


def read_moment(text: str, *, with_time: bool) -> tuple[date | datetime, str | None]:
    """The date (or naive Vietnam-local datetime) in `text`, and how it was read (None: canonical form).

    Raises ValueError when `text` is no date or time that any form here describes.
    """
    text = " ".join(text.split())
    canonical = (_CANONICAL_TIMESTAMP if with_time else _CANONICAL_DATE).match(text)
    if canonical:
        parts = [int(p) for p in canonical.groups()]
        return (datetime(*parts) if with_time else date(*parts)), None  # type: ignore[arg-type]
    if _EPOCH.match(text):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        moment = datetime.fromtimestamp(seconds, VIETNAM).replace(tzinfo=None, microsecond=0)
        unit = "milliseconds" if len(text) == 13 else "seconds"
        return (moment if with_time else moment.date()), f"Unix epoch {unit}, read as Vietnam time"
    day_part, _, time_part = text.replace("T", " ", 1).partition(" ")
    day, how = _read_day(day_part)
    if not time_part:
        if with_time:
            return datetime(day.year, day.month, day.day), f"{how} with no time of day; 00:00:00 assumed"
        return day, how
    moment, time_how = _read_time(day, time_part)
    if not with_time:
        return moment.date(), f"{how} {time_how}; the time of day is dropped from a date"
    return moment, f"{how} {time_how}"


def _read_day(text: str) -> tuple[date, str]:
    if match := _YEAR_FIRST.match(text):
        y, m, d = (int(p) for p in match.groups())
        sep = text[4]
        return date(y, m, d), f"yyyy{sep}MM{sep}dd"
    if match := _COMPACT.match(text):
        y, m, d = (int(p) for p in match.groups())
        return date(y, m, d), "yyyyMMdd"
    if match := _YEAR_LAST.match(text):
        first, second, year = (int(p) for p in match.groups())
        sep = text[len(match.group(1))]
        if first > 12 or second <= 12:
            assumed = "" if first > 12 or first == second else " (day first assumed)"
            return date(year, second, first), f"dd{sep}MM{sep}yyyy{assumed}"
        return date(year, first, second), f"MM{sep}dd{sep}yyyy"
    raise ValueError(f"no date in {text!r}")


def _read_time(day: date, text: str) -> tuple[datetime, str]:
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"no time of day in {text!r}")
    hour, minute, second, fraction, half, offset = match.groups()
    h = int(hour)
    if half:
        if not 1 <= h <= 12:
            raise ValueError(f"hour {h} with {half}")
        h = h % 12 + (12 if half.upper() in _AFTERNOON else 0)
    moment = datetime(day.year, day.month, day.day, h, int(minute), int(second or 0))
    notes = ["HH:mm" if second is None else "HH:mm:ss"]
    if fraction:
        notes.append("fractions of a second dropped")
    if half:
        notes.append(f"{half.upper()} read as {'afternoon' if half.upper() in _AFTERNOON else 'morning'}")
    if offset:
        zone = timezone.utc if offset.upper() == "Z" else _offset(offset)
        moment = moment.replace(tzinfo=zone).astimezone(VIETNAM).replace(tzinfo=None)
        notes.append(f"offset {offset} converted to Vietnam time")
    return moment, ", ".join(notes)


def _offset(text: str) -> timezone:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
