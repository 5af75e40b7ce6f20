"""What the stats app counts per agency, and over which windows. Pure: no faust, no database.

Measures of one agency in one window (docs/STATS.md says why each is attributed so):

- `sent`: `received` facts of documents it sent (the router accepted them);
- `received`: `delivered` facts naming it as recipient (documents that reached it);
- `deliveries`: `delivered` facts of documents it sent (one per recipient reached);
- `refusals`: `refused` facts of packages it sent;
- `to_01`, `to_03`: seconds from the router's acceptance of a document to the first status 01 (arrived) or 03
  (accepted) recorded for it, attributed to the recipient that answered.

Windows are tumbling. A fact falls in the window of its `at` (when the ledger recorded it). Minutes and hours
are aligned on UTC, which in a whole-hour time zone such as Vietnam's (UTC+7) are the local minutes and hours;
the day is aligned on local midnight of the exchange's time zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Literal

from ._sketch import Sketch

__all__ = ["COUNTS", "DURATIONS", "QUANTILES", "WINDOWS", "Figures", "Measure", "Window", "window_named"]

Measure = Literal["sent", "received", "deliveries", "refusals", "to_01", "to_03"]
COUNTS: tuple[Measure, ...] = ("sent", "received", "deliveries", "refusals")
DURATIONS: tuple[Measure, ...] = ("to_01", "to_03")
QUANTILES = (0.5, 0.9)
_MAX_UTC_OFFSET_S = 14 * 3600


@dataclass(frozen=True, slots=True)
class Window:
    """A tumbling window size, whether it follows the local calendar, and how long its figures are kept."""

    name: Literal["minute", "hour", "day"]
    seconds: int
    local: bool
    keep_s: float

    def clock(self, utc_seconds: float, tz: tzinfo) -> float:
        """The time line windows are cut on: UTC seconds, or local wall-clock seconds for a local window."""
        if not self.local:
            return utc_seconds
        offset = datetime.fromtimestamp(utc_seconds, timezone.utc).astimezone(tz).utcoffset()
        return utc_seconds + (offset.total_seconds() if offset else 0.0)

    @property
    def expires_s(self) -> float:
        """faust's `expires`: it judges staleness on UTC time, while a local window's clock is off by the offset."""
        return self.keep_s + (_MAX_UTC_OFFSET_S if self.local else 0)

    def bounds(self, at: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
        """The window holding `at`: start (inclusive) and end (exclusive), in `tz`."""
        start = math.floor(self.clock(at.timestamp(), tz) / self.seconds) * self.seconds
        wall = datetime.fromtimestamp(start, timezone.utc).replace(tzinfo=None)
        if self.local:
            return wall.replace(tzinfo=tz), (wall + timedelta(seconds=self.seconds)).replace(tzinfo=tz)
        begin = wall.replace(tzinfo=timezone.utc)
        return begin.astimezone(tz), (begin + timedelta(seconds=self.seconds)).astimezone(tz)


WINDOWS = (
    Window("minute", 60, local=False, keep_s=2 * 3600),
    Window("hour", 3600, local=False, keep_s=2 * 86400),
    Window("day", 86400, local=True, keep_s=2 * 86400),
)


def window_named(name: str) -> Window:
    """The window called `name` (`minute`, `hour`, `day`); ValueError naming the choices otherwise."""
    for window in WINDOWS:
        if window.name == name:
            return window
    raise ValueError(f"unknown window {name!r}; choose one of {', '.join(w.name for w in WINDOWS)}")


@dataclass(slots=True)
class Figures:
    """One agency's figures in one window (or several merged: an agency's day, the whole exchange)."""

    sent: int = 0
    received: int = 0
    deliveries: int = 0
    refusals: int = 0
    to_01: Sketch = field(default_factory=Sketch)
    to_03: Sketch = field(default_factory=Sketch)

    def add(self, measure: Measure, seconds: float = 0.0) -> None:
        """Count one fact: a count measure goes up by one, a duration measure takes `seconds` as a sample."""
        if measure in DURATIONS:
            getattr(self, measure).add(seconds)
        elif measure in COUNTS:
            setattr(self, measure, getattr(self, measure) + 1)
        else:
            raise ValueError(f"unknown measure {measure!r}")

    def merge(self, other: Figures) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in DURATIONS:
            getattr(self, name).merge(getattr(other, name))

    def to_json(self) -> dict[str, Any]:
        """The table value (JSON, written whole to the changelog on each update: small by design)."""
        return {**{n: getattr(self, n) for n in COUNTS}, **{n: getattr(self, n).to_json() for n in DURATIONS}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        figures = cls()
        for name in COUNTS:
            setattr(figures, name, int(data[name]))
        for name in DURATIONS:
            setattr(figures, name, Sketch.from_json(data[name]))
        return figures

    def report(self) -> dict[str, Any]:
        """As the JSON API and the tests read it: counts, and per duration its sample count and quantiles."""
        durations = {
            f"time_{n}_seconds": {"count": (s := getattr(self, n)).count,
                                  **{f"p{round(q * 100)}": s.quantile(q) for q in QUANTILES}}
            for n in DURATIONS
        }
        return {**{n: getattr(self, n) for n in COUNTS}, **durations}
