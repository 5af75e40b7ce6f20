"""Serve a small ASGI app (metrics, health, the console) on the running event loop, beside other work.

uvicorn's `Server.serve()` installs its own SIGINT/SIGTERM handlers, which would take the signals away from
`axis up` and `axis router` that own them; `AsgiServer` serves without touching signals, binds before
`start()` returns (a port in use is a `SettingsError` naming the setting), and stops within a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from axis.errors import SettingsError
from axis.lifecycle import AsyncService, cancel_and_wait

__all__ = ["AsgiServer"]

_log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the owner of the process handles signals
        yield


class AsgiServer(AsyncService):
    """`app` on `host:port` (port 0: a free one, see `.port`); `start()`/`stop()` or `async with`."""

    def __init__(self, app: ASGIApp, port: int, *, host: str = "127.0.0.1", setting: str = "port") -> None:
        self._app = app
        self._host = host
        self._port = port
        self._setting = setting
        self._socket: socket.socket | None = None
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1] if self._socket is not None else self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def start(self) -> None:
        if self._task is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise SettingsError(f"{self._setting} {self._port}: cannot listen on {self._host} ({exc.strerror}); "
                                "choose a free port (0 picks one)") from exc
        self._socket = sock
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", access_log=False)
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=f"http-{self._host}:{self.port}")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            await self.stop()
            raise SettingsError(f"{self._setting} {self._port}: the HTTP server did not start")

    async def stop(self) -> None:
        server, task, sock = self._server, self._task, self._socket
        self._server = self._task = self._socket = None
        if server is not None:
            server.should_exit = True
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=5.0)
            except (TimeoutError, Exception):  # noqa: BLE001 -- a server that will not stop is cancelled
                await cancel_and_wait(task)
        if sock is not None:
            sock.close()
