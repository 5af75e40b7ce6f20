"""Supervised background work, like aiokafka's `Sender`: kept, watched, cancelled and awaited on stop.

A loop that dies must not die silently: the done-callback records the exception, which makes the owning
component (and so the agent's `/health`) report unhealthy instead of quietly no longer sending.

`retry_until_done` is the other half: work that needs a peer which may be away (the broker at start)
is retried with capped exponential backoff while the error says it may succeed later (`retriable`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from axis.lifecycle import AsyncService, cancel_and_wait

_log = logging.getLogger(__name__)

RetryHook = Callable[[int, BaseException, float], None]


class Supervised:
    """One named background task; `failure` holds the exception it died of, if any.

    A forever-loop (the default) that returns has failed; with `finishes=True` the task may end by
    returning (a start-up job), and only an exception counts as a failure.
    """

    def __init__(self, name: str, run: Callable[[], Awaitable[None]], *, finishes: bool = False) -> None:
        self.name = name
        self._run = run
        self._finishes = finishes
        self._task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def finished(self) -> bool:
        """The task ran to its end without an exception (only meaningful with `finishes=True`)."""
        return self._task is not None and self._task.done() and self.failure is None

    @property
    def healthy(self) -> bool:
        return self.running and self.failure is None

    def start(self) -> None:
        if self._task is None:
            self.failure = None
            self._task = asyncio.create_task(self._run(), name=self.name)  # type: ignore[arg-type]
            self._task.add_done_callback(self._done)

    async def wait(self) -> None:
        """Wait for the task to end (a `finishes=True` job); raises what it died of.

        `asyncio.CancelledError` when it was stopped (or never started): the caller must tell that apart
        from its own cancellation (`asyncio.current_task().cancelling()`).
        """
        if self._task is None:
            raise asyncio.CancelledError(f"{self.name} is not running")
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    def _done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None and self._finishes:
            return
        self.failure = exc or RuntimeError(f"{self.name} ended unexpectedly")
        _log.error("%s stopped: %r", self.name, self.failure, exc_info=exc)


async def retry_until_done(
    attempt: Callable[[], Awaitable[None]],
    *,
    on_failure: RetryHook,
    initial_s: float = 0.5,
    max_s: float = 30.0,
) -> None:
    """Await `attempt()` until it succeeds; between tries sleep `initial_s`, doubling, at most `max_s`.

    Only errors with a true `retriable` class flag (the convention of every error root here) are retried;
    `on_failure(attempt_number, error, delay_s)` is called once per failed try, before the sleep, so the
    caller can log it and expose it to `/health`. Anything else propagates. A cancellation always wins:
    a driver that turns `CancelledError` into its own error must not make `stop()` wait a whole backoff.
    """
    delay, number = initial_s, 0
    while True:
        number += 1
        try:
            await attempt()
            return
        except Exception as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from exc
            if not getattr(exc, "retriable", False):
                raise
            on_failure(number, exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_s)


class LoopService(AsyncService):
    """A component whose work is one supervised background loop: health and failure come from that loop."""

    _task: Supervised

    @property
    def healthy(self) -> bool:
        return self._task.healthy

    @property
    def failure(self) -> BaseException | None:
        return self._task.failure

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
