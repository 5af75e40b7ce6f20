"""The lifecycle every long-lived component shares, like aiokafka's: `start()`, `stop()`, `async with`."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any, Self

__all__ = ["AsyncService", "cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait until it has really ended (a stopped component leaves no task)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


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
