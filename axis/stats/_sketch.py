"""Quantiles of durations in bounded space: a log-bucket sketch (the idea of DDSketch), mergeable and exact in rank.

Why a sketch: a table value is written whole to its changelog on every update, so a window's value must stay
small however busy the agency is. Exact quantiles need every sample; this keeps one counter per bucket
`(γ^(i-1), γ^i]` with γ = (1 + α) / (1 - α), at most about a thousand buckets from a millisecond to a month.

The contract: `quantile(q)` picks the sample of rank ⌈q·n⌉ (PostgreSQL's `percentile_disc(q)`) exactly and
answers the middle of its bucket, so the answer is within a relative error `ALPHA` (1 %) of the exact
`percentile_disc`, or within `FLOOR_SECONDS` for samples at or below that floor (answered as 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["ALPHA", "FLOOR_SECONDS", "Sketch"]

ALPHA = 0.01
FLOOR_SECONDS = 0.001
_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)


def _bucket(seconds: float) -> int:
    return math.ceil(math.log(seconds) / _LOG_GAMMA)


def _middle(bucket: int) -> float:
    """The value whose relative distance to every point of (γ^(i-1), γ^i] is at most ALPHA."""
    return 2 * _GAMMA**bucket / (_GAMMA + 1)


class Sketch:
    """Counts of durations (seconds) per log bucket; `add`, `merge`, `quantile`, and a JSON form for tables."""

    __slots__ = ("buckets", "count", "floor")

    def __init__(self, buckets: Mapping[int, int] | None = None, *, floor: int = 0) -> None:
        self.buckets: dict[int, int] = dict(buckets or {})
        self.floor = floor  # samples at or below FLOOR_SECONDS (a clock step, or the same instant)
        self.count = floor + sum(self.buckets.values())

    def add(self, seconds: float) -> None:
        if seconds <= FLOOR_SECONDS:
            self.floor += 1
        else:
            index = _bucket(seconds)
            self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1

    def merge(self, other: Sketch) -> None:
        """Add every sample of `other` (sketches of one agency's minutes make its hour, agencies the exchange)."""
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.floor += other.floor
        self.count += other.count

    def quantile(self, q: float) -> float | None:
        """The `percentile_disc(q)` of the samples within ALPHA; None without samples."""
        if not 0 < q <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {q!r}")
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        if rank <= self.floor:
            return 0.0
        seen = self.floor
        for index in sorted(self.buckets):  # rank <= count = floor + every bucket: the loop ends in a bucket
            seen += self.buckets[index]
            if seen >= rank:
                break
        return _middle(index)

    def to_json(self) -> dict[str, Any]:
        return {"floor": self.floor, "buckets": {str(i): n for i, n in self.buckets.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sketch:
        return cls({int(i): int(n) for i, n in data["buckets"].items()}, floor=int(data["floor"]))

    def __repr__(self) -> str:
        return f"Sketch(count={self.count}, p50={self.quantile(0.5)}, p90={self.quantile(0.9)})"
