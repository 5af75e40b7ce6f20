"""One event loop in a background thread for the whole test session, so the plugin's fixtures are plain
(synchronous) pytest fixtures: an agency developer's tests need no asyncio plugin, and a project that has
one (any loop scope) cannot collide with the loop the exchange runs on.

The embedded broker is killed when the thread that started it ends (a parent-death signal), so every
service is started on this thread and the thread lives until the session ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """`run(coro)` runs a coroutine on the background loop and returns its result (or raises its error)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="axis-testing-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def close(self) -> None:
        """Cancel what is left, stop the loop and the thread, close the loop."""
        if self._loop.is_closed():
            return
        self.run(_cancel_others(), 30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


async def _cancel_others() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
