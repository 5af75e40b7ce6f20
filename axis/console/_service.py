"""`Console`: the console served on a port, with the background task that keeps its receipts projection up
to date; `open_console` builds one with a ledger of its own.

Lifecycle like the other components: `start()` / idempotent `stop()` / `async with`. The follower task is
kept and supervised: a failing round (the ledger briefly away) is logged and retried; a follower that died
is logged and makes the console's `/health` say `degraded` (`receipts.last_error`). The console gets its own
connection pool (`open_console`), so a heavy page never takes a connection the router is waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from fastapi import FastAPI

from axis.bootstrap import build_ledger
from axis.ledger import Clock, Ledger, utc_now
from axis.lifecycle import AsyncService, cancel_and_wait
from axis.serving import AsgiServer
from axis.settings import Settings

from ._app import create_console_app
from ._health import Probe
from ._state import ConsoleState

__all__ = ["Console", "open_console"]

_log = logging.getLogger(__name__)
FOLLOW_INTERVAL_S = 2.0


class Console(AsyncService):
    """The console app on `host:port` over a started `ledger` (port 0: a free one, see `.url`)."""

    def __init__(
        self, settings: Settings, ledger: Ledger, *, port: int, host: str = "127.0.0.1",
        probes: Mapping[str, Probe] | None = None, clock: Clock = utc_now, follow_interval_s: float = FOLLOW_INTERVAL_S,
    ) -> None:
        self.app: FastAPI = create_console_app(settings, ledger, probes=probes, clock=clock)
        self._server = AsgiServer(self.app, port, host=host, setting="console_port (AXIS_CONSOLE_PORT, --console-port)")
        self._interval = follow_interval_s
        self._follower: asyncio.Task[None] | None = None

    @property
    def state(self) -> ConsoleState:
        state: ConsoleState = self.app.state.console
        return state

    @property
    def url(self) -> str:
        return self._server.url

    async def start(self) -> None:
        if self._follower is not None:
            return
        self._follower = asyncio.create_task(self.state.receipts.run(self._interval), name="console-receipts")
        self._follower.add_done_callback(self._on_follower_done)
        try:
            await self._server.start()
        except BaseException:
            await self.stop()
            raise

    def _on_follower_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.state.receipts.last_error = f"the follower died: {task.exception()!r}"
            _log.error("console: the receipts follower died; overdue figures stop moving: %r", task.exception())

    async def stop(self) -> None:
        task, self._follower = self._follower, None
        await self._server.stop()
        await cancel_and_wait(task)


@contextlib.asynccontextmanager
async def open_console(
    settings: Settings, *, port: int | None = None, host: str | None = None,
    probes: Mapping[str, Probe] | None = None,
) -> AsyncIterator[Console]:
    """A served console with a ledger (connection pool) of its own; `port` and `host` default to
    `settings.console_port` and `settings.http_host`."""
    chosen = settings.console_port if port is None else port
    async with build_ledger(settings) as ledger, Console(settings, ledger, port=chosen, host=host or settings.http_host,
                                                         probes=probes) as console:
        yield console
