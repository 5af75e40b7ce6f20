"""`AxisChild`: an `axis` command run by `axis up` as a child process (router replicas, the stats app).

Why children: each uses a core of its own instead of sharing the first router's event loop, and a fault in
one cannot stop the others. Each is the same command an operator runs beside a production exchange; it finds
the exchange through `<data_dir>/run.json` or the same configuration as its parent. It runs in its own
session (a terminal's Ctrl-C reaches `axis up` only, which stops it first), and dies with its parent even
when the parent is killed. `start()` returns once the child's HTTP port answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from axis.embedded import die_with_parent
from axis.errors import EmbeddedServiceError
from axis.lifecycle import AsyncService

__all__ = ["AxisChild"]

_log = logging.getLogger(__name__)


class AxisChild(AsyncService):
    """`axis <args>` as a child answering on 127.0.0.1:`port`; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, args: Sequence[str], port: int, *, env: Mapping[str, str] | None = None,
                 start_timeout_s: float = 30.0, stop_timeout_s: float = 6.0) -> None:
        self.name = name
        self.port = port
        self._argv = [sys.executable, "-c", "from axis.cli import main; main()", *args]
        self._env = {**os.environ, **env} if env else None
        self._start_timeout_s = start_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        if self._proc is not None:
            return
        self._proc = subprocess.Popen(self._argv, env=self._env, stdin=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=die_with_parent)
        try:
            await self._wait_answering()
        except BaseException:
            await self.stop()
            raise

    async def _wait_answering(self) -> None:
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                raise EmbeddedServiceError(f"{self.name} exited with code {code} while starting")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.1)
        raise EmbeddedServiceError(f"{self.name} did not answer on {self.url} within {self._start_timeout_s:.0f} s")

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after the stop timeout (`axis up` promises to stop within 10 s)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, self._stop_timeout_s)
        except subprocess.TimeoutExpired:
            _log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", self.name, proc.pid, self._stop_timeout_s)
            proc.kill()
            await asyncio.to_thread(proc.wait)
