"""The fault drill's exchange: services it owns in-process, components it runs as separate OS processes.

Why the split: the broker must be restartable with its data lost (`EmbeddedBroker.restart()`), so the
drill owns it; the router and the agents must die as in a crash, so each is its own process and gets a
real SIGKILL. PostgreSQL (the ledger) and the agents' SQLite files survive, as they would in production:
recovery is what the outboxes and the ledger remember, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from axis.bootstrap import build_ledger
from axis.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from axis.embedded import die_with_parent  # a killed drill leaves no component behind
from axis.embedded_exchange import NewAgency
from axis.ledger import utc_now
from axis.settings import Secret, Settings, load_settings
from signing import DevPki

__all__ = ["ChildProcess", "DrillExchange", "DrillError"]

_STOP_TIMEOUT_S = 15.0


class DrillError(RuntimeError):
    """The drill could not run (a component did not start, an API refused a valid request)."""


def _axis_command() -> list[str]:
    """The `axis` console script of this interpreter's environment (the venv's), else the click group."""
    script = Path(sys.executable).with_name("axis")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from axis.cli import main; main()"]


class ChildProcess:
    """One component in its own process group; `kill()` is the crash, `stop()` the orderly end.

    Output goes to a log file (appended across restarts) so a failed drill can be read afterwards.
    """

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self._argv = list(argv)
        self._env = dict(env)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exited(self) -> bool:
        """It ended by itself (not by `kill()`/`stop()`): a component that gave up."""
        return self._proc is not None and self._proc.poll() is not None

    def start(self) -> None:
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts + 1} at {time.strftime('%H:%M:%S')}: {' '.join(self._argv)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self._argv, env=self._env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=die_with_parent,
            )
        self.starts += 1

    async def kill(self) -> None:
        """SIGKILL now, as a power cut would: no shutdown code runs."""
        await self._end(signal.SIGKILL, 5.0)

    def freeze(self) -> None:
        """SIGSTOP: the process stays, holds its port and answers nothing, as a hung component does."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGSTOP)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; safe to call twice."""
        await self._end(signal.SIGTERM, _STOP_TIMEOUT_S)

    async def _end(self, sig: signal.Signals, grace_s: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
            os.killpg(proc.pid, signal.SIGCONT)  # a frozen process handles its SIGTERM only once continued
        try:
            await asyncio.to_thread(proc.wait, grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the component left in its group


def _error_lines(path: Path, count: int = 3) -> list[str]:
    """The last lines of a log that report an error (a traceback's last line included)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-2000:]
    except OSError:
        return []
    marked = [line.strip()[:300] for line in lines if " ERROR " in line or "Error:" in line or "Exception" in line]
    return marked[-count:]


class DrillExchange:
    """Broker, ledger, dev PKI and directory of the drill, plus the router and one agent per agency.

    `tuning` are extra `AXIS_*` settings for the components (shorter redelivery and resend timeouts, so
    recovery takes seconds rather than the production minutes). `start()`/`stop()`; `stop()` ends every
    process it started, also after a failed start.
    """

    def __init__(self, data_dir: Path, agencies: Sequence[NewAgency], tuning: Mapping[str, str], *,
                 routers: int = 1) -> None:
        self.data_dir = data_dir
        self.agencies = list(agencies)
        self._tuning = dict(tuning)
        self.broker = EmbeddedBroker(log_path=data_dir / "logs" / "broker.log")
        self.postgres = EmbeddedPostgres(data_dir / "pgdata")
        self.router_count = routers
        self.routers: list[ChildProcess] = []
        self.router_ports: list[int] = []  # their /health and /metrics
        self.agents: dict[str, ChildProcess] = {}
        self.ports: dict[str, int] = {}

    @property
    def settings(self) -> Settings:
        return load_settings(
            environ={}, data_dir=self.data_dir, kafka_bootstrap=self.broker.bootstrap,
            database_url=Secret(self.postgres.database_url),
        )

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
        env.update(
            AXIS_DATA_DIR=str(self.data_dir), AXIS_KAFKA_BOOTSTRAP=self.broker.bootstrap,
            AXIS_DATABASE_URL=self.postgres.database_url, AXIS_PKI_DIR=str(self.data_dir / "pki"),
            AXIS_METRICS_PORT="0",  # no Prometheus endpoint: a fixed port would clash with other exchanges here
            PYTHONUNBUFFERED="1", **self._tuning,
        )
        return env

    async def start(self) -> None:
        try:
            await asyncio.gather(self.broker.start(), self.postgres.start())
            await self._register()
            env, axis = self._env(), _axis_command()
            for n in range(self.router_count):
                port = free_port()
                name = "router" if self.router_count == 1 else f"router {n + 1}"
                router = ChildProcess(name, [*axis, "router"], {**env, "AXIS_METRICS_PORT": str(port)},
                                      self.data_dir / "logs" / f"router-{n + 1}.log")
                self.routers.append(router)
                self.router_ports.append(port)
                router.start()
            for agency in self.agencies:
                port = self.ports[agency.organ_id] = free_port()
                argv = [*axis, "agent", "--organ-id", agency.organ_id, "--port", str(port), "--log-level", "warning"]
                child = ChildProcess(f"agent {agency.organ_id}", argv, env,
                                     self.data_dir / "logs" / f"agent-{agency.organ_id}.log")
                self.agents[agency.organ_id] = child
                child.start()
        except BaseException:
            await self.stop()
            raise

    async def _register(self) -> None:
        """Dev PKI and directory, through a short-lived ledger connection (the router has its own)."""
        settings = self.settings
        pki = DevPki(settings.pki_dir)
        await asyncio.to_thread(pki.init)
        async with build_ledger(settings) as ledger:
            for agency in self.agencies:
                if not pki.cert_path(agency.organ_id).exists():
                    await asyncio.to_thread(pki.issue, agency.organ_id, agency.name)
                await ledger.directory.add(
                    agency.organ_id, agency.name, parent_id=agency.parent_id,
                    certificates=[pki.cert_path(agency.organ_id).read_bytes()], at=utc_now(),
                )

    def base_url(self, organ_id: str) -> str:
        return f"http://127.0.0.1:{self.ports[organ_id]}"

    def token(self, organ_id: str) -> str:
        return (self.data_dir / "agents" / organ_id / "token").read_text(encoding="utf-8").strip()

    async def wait_ready(self, organ_ids: Sequence[str] | None = None, timeout_s: float = 60.0) -> None:
        """Agents answer /health and know every agency (so the router has published the directory)."""
        deadline = time.monotonic() + timeout_s
        pending = set(self.agents if organ_ids is None else organ_ids)
        async with httpx.AsyncClient(timeout=2.0) as client:
            while pending:
                for organ_id in sorted(pending):
                    if await self._ready(client, organ_id):
                        pending.discard(organ_id)
                self.check_alive()
                if pending and time.monotonic() > deadline:
                    raise DrillError(f"agents not ready after {timeout_s:.0f}s: {', '.join(sorted(pending))}; "
                                     f"see {self.data_dir / 'logs'}")
                if pending:
                    await asyncio.sleep(0.2)

    async def _ready(self, client: httpx.AsyncClient, organ_id: str) -> bool:
        base = self.base_url(organ_id)
        try:
            if (await client.get(f"{base}/health")).status_code != 200:
                return False
            answer = await client.get(f"{base}/agencies", headers={"Authorization": f"Bearer {self.token(organ_id)}"})
        except (httpx.TransportError, OSError):
            return False
        return answer.status_code == 200 and len(answer.json()) >= len(self.agencies)

    async def last_errors(self) -> list[str]:
        """What each component says is wrong: its `/health` (status, failing requests with their error ids and
        counts, dead parts) and the last error lines of its log; for a drill that must say why it stalled."""
        said = []
        async with httpx.AsyncClient(timeout=3.0) as client:
            targets = [(r.name, f"http://127.0.0.1:{port}", r) for r, port in zip(self.routers, self.router_ports)]
            targets += [(f"agent {o}", self.base_url(o), c) for o, c in sorted(self.agents.items())]
            for name, base, child in targets:
                try:
                    health = (await client.get(f"{base}/health")).json()
                    failing = {op: f"{e['error_id']} x{e['count']}: {e['error']}"
                               for op, e in health.get("internal_errors", {}).get("failing", {}).items()}
                    said.append(f"{name}: {health.get('status')}; broker {health.get('broker')}; failing {failing}; "
                                f"errors {health.get('errors') or health.get('failure')}")
                except (httpx.HTTPError, OSError, ValueError) as exc:
                    said.append(f"{name}: /health did not answer ({exc!r})")
                if child is not None:
                    said += [f"  {name} log: {line}" for line in _error_lines(child.log_path)]
        return said

    def check_alive(self) -> None:
        """Raise if a component ended by itself: the drill would otherwise wait for it until its deadline."""
        for child in [*self.routers, *self.agents.values()]:
            if child is not None and child.exited:
                raise DrillError(f"{child.name} exited by itself; see {child.log_path}")

    async def stop(self) -> None:
        """Agents and router first (orderly, so their stores close), then the broker and PostgreSQL."""
        children = [*self.agents.values(), *self.routers]
        await asyncio.gather(*(c.stop() for c in children), return_exceptions=True)
        await asyncio.gather(self.broker.stop(), self.postgres.stop(), return_exceptions=True)

    def remove_data(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
