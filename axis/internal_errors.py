"""Internal errors counted, not repeated: one log line per distinct error, and what `/health` says of them.

A request that fails with an error of ours (not the caller's) is answered 500 with an error id. When the
same fault comes back on every request, as when an agent failed every submission for six minutes while its
`/health` said ok, the component must say `degraded`, with the error and its count, and its log must not
carry a traceback per request. `InternalErrors` is that memory, shared by the agents and the router:

- errors are keyed by where they were raised (exception type and innermost frame), so one fault is one
  entry however its messages vary; each entry has a stable id (`E-` and 8 hex digits, the same in every
  process for the same place in the code), a count, the first and last time, and the last message;
- the first occurrence is logged once with its traceback; repeats are counted and summarised in one line
  at most every `summary_every_s` seconds;
- an operation (an HTTP route, the router's batch) whose last outcome was an internal error less than
  `window_s` seconds ago is failing; its next success clears it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["DistinctError", "InternalErrors"]


@dataclass
class DistinctError:
    """One fault, however many times it happened."""

    error_id: str
    kind: str
    where: str
    message: str
    count: int
    first_at: float
    last_at: float
    logged_count: int
    logged_at: float

    def as_json(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "error": f"{self.kind}: {self.message}", "where": self.where,
                "count": self.count, "first_at": _iso(self.first_at), "last_at": _iso(self.last_at)}


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{frame.filename.rsplit('/site-packages/', 1)[-1]}:{frame.lineno} in {frame.name}"


class InternalErrors:
    """The internal errors of one component (thread-safe: handlers run on the loop and in worker threads)."""

    def __init__(self, component: str, log: logging.Logger, *, window_s: float = 300.0,
                 summary_every_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.component = component
        self._log = log
        self._window_s = window_s
        self._summary_every_s = summary_every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._errors: dict[tuple[str, str], DistinctError] = {}
        self._last: dict[str, tuple[DistinctError | None, float]] = {}  # operation -> (error or None, when)
        self.total = 0

    def record(self, operation: str, exc: BaseException) -> DistinctError:
        """Count an internal error of `operation`; log it the first time, summarise repeats."""
        kind, where = type(exc).__name__, _where(exc)
        now = self._clock()
        with self._lock:
            self.total += 1
            error = self._errors.get((kind, where))
            first = error is None
            if error is None:
                digest = hashlib.sha256(f"{kind}@{where}".encode()).hexdigest()[:8]
                error = DistinctError(f"E-{digest}", kind, where, str(exc)[:500], 0, now, now, 1, now)
                self._errors[(kind, where)] = error
            error.count += 1
            error.last_at, error.message = now, str(exc)[:500]
            self._last[operation] = (error, now)
            repeats = error.count - error.logged_count
            summary = not first and now - error.logged_at >= self._summary_every_s
            if summary:
                error.logged_count, error.logged_at = error.count, now
        if first:
            self._log.error("%s: internal error %s in %s: %s: %s (at %s); repeats are counted, not logged",
                            self.component, error.error_id, operation, kind, error.message, where, exc_info=exc)
        elif summary:
            self._log.error("%s: internal error %s happened %d more time(s), %d in all, last in %s: %s: %s",
                            self.component, error.error_id, repeats, error.count, operation, kind, error.message)
        return error

    def succeeded(self, operation: str) -> None:
        """The operation worked: it is no longer failing."""
        if operation in self._last:
            with self._lock:
                self._last[operation] = (None, self._clock())

    def failing(self) -> dict[str, DistinctError]:
        """Operations whose last outcome was an internal error within the window."""
        horizon = self._clock() - self._window_s
        with self._lock:
            return {op: error for op, (error, at) in self._last.items() if error is not None and at >= horizon}

    def report(self) -> dict[str, Any]:
        """For `/health`: what fails now, and the distinct errors seen (most frequent first, at most 10)."""
        failing = self.failing()
        with self._lock:
            seen = sorted(self._errors.values(), key=lambda e: e.count, reverse=True)[:10]
            return {
                "total": self.total,
                "failing": {op: error.as_json() for op, error in sorted(failing.items())},
                "distinct": [e.as_json() for e in seen],
            }
