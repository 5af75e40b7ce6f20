"""A supervised background loop, like aiokafka's `Sender`: kept, watched, cancelled and awaited on stop.

A loop that dies must not die silently: the done-callback records the exception, which makes the owning
component (and so the agent's `/health`) report unhealthy instead of quietly no longer sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

_log = logging.getLogger(__name__)


class Supervised:
    """One named background task; `failure` holds the exception it died of, if any."""

    def __init__(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def healthy(self) -> bool:
        return self.running and self.failure is None

    def start(self) -> None:
        if self._task is None:
            self.failure = None
            self._task = asyncio.create_task(self._run(), name=self.name)  # type: ignore[arg-type]
            self._task.add_done_callback(self._done)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        self.failure = exc or RuntimeError(f"{self.name} ended unexpectedly")
        _log.error("%s stopped: %r", self.name, self.failure, exc_info=exc)
