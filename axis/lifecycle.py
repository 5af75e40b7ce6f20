"""The lifecycle every long-lived component shares, like aiokafka's: `start()`, `stop()`, `async with`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, Self

__all__ = ["AsyncService", "cancel_and_wait", "stop_within"]

_log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, grace_s: float = 5.0, tries: int = 3) -> None:
    """Cancel a background task and wait until it has really ended (a stopped component leaves no task).

    Client libraries sometimes swallow a cancellation (aiokafka's fetcher turns it into its own errors):
    the task is cancelled again after each `grace_s`, and after `tries` it is reported and left, rather
    than hanging the whole shutdown on it. An error the task ended with is raised, as `await task` would.
    """
    if task is None:
        return
    for _ in range(tries):
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=grace_s)
        if done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
            return
        _log.warning("task %s ignored its cancellation for %.0f s; cancelling again", task.get_name(), grace_s)
    _log.error("task %s did not stop after %d cancellations; leaving it", task.get_name(), tries)


async def stop_within(step: Awaitable[Any], seconds: float, what: str) -> bool:
    """Await one shutdown step for at most `seconds`; a step that hangs is reported, not waited for forever."""
    try:
        await asyncio.wait_for(step, timeout=seconds)
        return True
    except TimeoutError:
        _log.error("%s did not finish within %.0f s; going on with the shutdown", what, seconds)
        return False


class AsyncService:
    """A component with `await start()` and an idempotent `await stop()`; `async with` runs both."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
