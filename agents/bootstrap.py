"""The agent's composition root: `build_agent(settings, organ_id)` wires the object graph, nothing else does.

Construction does no I/O beyond loading the key and trust store (so a missing key fails at once with a clear
message). `Agent.start()` opens the store and starts what needs no broker (service, drop folder; the HTTP API
runs around it), so a document system can hand documents to the durable outbox while the broker is down.
The broker-dependent parts (epoch watch, publisher, receiver, relay) are brought up by a supervised
background task that retries with capped backoff until the broker answers: the outbox is the durability,
and an agent that refused to start without a broker would defeat it. `stop()` reverses it all, also while
that task is still retrying. Tests pass fakes only for time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from axis import wire
from axis.errors import SettingsError, TransportError
from axis.internal_errors import InternalErrors
from axis.lifecycle import AsyncService, stop_within
from axis.settings import Settings
from axis.transport import Consumer, EpochWatch, Publisher, exchange_topics, kafka_security
from signing import Signer, SigningIdentity, TrustStore, Verifier

from ._task import Supervised, retry_until_done
from .dropfolder import DropFolder
from .errors import AgentUnavailable
from .evidence import EvidenceClient
from .metrics import AgentMetrics
from .receiver import Receiver
from .relay import OutboxRelay
from .service import AgentService
from .store import Store

__all__ = ["Agent", "HealthStatus", "agent_dir", "build_agent"]

_log = logging.getLogger(__name__)

HealthStatus = Literal["ok", "degraded", "unhealthy", "stopped"]


def agent_dir(settings: Settings, organ_id: str) -> Path:
    """`<data_dir>/agents/<organ-id>/`: the store, drop folders, token and SDK clients of one agent."""
    wire.inbox_topic(organ_id)  # refuses organ ids that cannot name a topic (or a folder)
    return settings.data_dir / "agents" / organ_id


def _ensure_token(path: Path) -> str:
    """Read the API token, creating a random one (mode 0600) on first start."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


@dataclass(eq=False)
class Agent(AsyncService):
    """One running agency agent; `start()`/`stop()` are idempotent, `async with` works too."""

    organ_id: str
    settings: Settings
    directory: Path
    store: Store
    service: AgentService
    relay: OutboxRelay
    receiver: Receiver
    dropfolder: DropFolder
    watch: EpochWatch
    publisher: Publisher
    consumer: Consumer
    bootstrap: str
    clock: Callable[[], datetime]
    connect_retry_max_s: float = 30.0
    errors: InternalErrors = field(default_factory=lambda: InternalErrors("agent", _log))
    evidence: EvidenceClient | None = None  # asks the exchange for evidence bundles (`exchange_url`)
    _started: bool = field(default=False, init=False)
    _token: str | None = field(default=None, init=False)
    _link: Supervised = field(init=False)
    _unreachable_since: datetime | None = field(default=None, init=False)
    _connect_error: BaseException | None = field(default=None, init=False)
    _connect_attempts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._link = Supervised(f"broker-link-{self.organ_id}", self._connect, finishes=True)

    @property
    def token_path(self) -> Path:
        return self.directory / "token"

    @property
    def token(self) -> str:
        """The bearer token of the HTTP API: `settings.agent_token`, else the `token` file (created once)."""
        if self._token is None:
            configured = self.settings.agent_token
            self._token = configured.get_secret_value() if configured else _ensure_token(self.token_path)
        return self._token

    @property
    def connected(self) -> bool:
        """The transport-dependent components were brought up (the broker answered at least once)."""
        return self._link.finished

    async def start(self) -> None:
        """Open the store and the drop folder now; connect to the broker in the background."""
        if self._started:
            return
        self._started = True
        try:
            self.token  # noqa: B018 -- created on first start, before anyone asks for it
            await self.store.open()
            await self.dropfolder.start()
        except BaseException:
            await self.stop()
            raise
        self._link.start()
        _log.info("agent %s started in %s; connecting to the broker at %s", self.organ_id, self.directory,
                  self.bootstrap)

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Wait until the broker-dependent parts run: for callers that need a connected agent (tests, benches).

        Raises `TimeoutError` after `timeout_s`, `AgentUnavailable` when the agent stopped (or stops) before
        it connected, and the connection's failure when it gave up (an error that no retry can fix).
        """
        async with asyncio.timeout(timeout_s):
            try:
                await self._link.wait()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # our own cancellation (or the timeout), not the link's
                raise AgentUnavailable(f"agent {self.organ_id} stopped before it connected to the broker") from None

    async def _connect(self) -> None:
        """The supervised start-up of everything that needs the broker, retried until the broker answers."""
        self._unreachable_since, self._connect_error, self._connect_attempts = None, None, 0
        await retry_until_done(self._start_transport, on_failure=self._note_unreachable,
                               max_s=self.connect_retry_max_s)
        if self._connect_attempts:
            _log.warning("agent %s: broker at %s answers after %d failed attempt(s); sending the outbox",
                         self.organ_id, self.bootstrap, self._connect_attempts)
        self._unreachable_since, self._connect_error = None, None
        _log.info("agent %s: connected to the broker at %s (epoch %s)", self.organ_id, self.bootstrap,
                  self.watch.epoch)

    async def _start_transport(self) -> None:
        """Start the broker clients in dependency order; each `start()` is idempotent, so a retry resumes."""
        await self.watch.start()  # topics exist and the epoch is known before any client uses them
        self.consumer.epoch = self.watch.epoch
        await self.publisher.start()
        await self.receiver.start()
        await self.relay.start()

    def _note_unreachable(self, attempt: int, exc: BaseException, delay_s: float) -> None:
        if self._unreachable_since is None:
            self._unreachable_since = self.clock()
        self._connect_error, self._connect_attempts = exc, attempt
        _log.warning("agent %s: broker at %s not reachable (attempt %d: %s); documents are kept in the outbox, "
                     "retrying in %.1f s", self.organ_id, self.bootstrap, attempt, exc, delay_s)

    async def stop(self) -> None:
        """Stop in reverse order; safe to call twice, after a failed start and while still connecting."""
        if not self._started:
            return
        self._started = False
        await self._link.stop()  # first, so it cannot start a component behind our back
        for component in (self.dropfolder, self.relay, self.receiver, self.watch, self.publisher):
            try:
                await stop_within(component.stop(), 10.0, f"agent {self.organ_id}: stopping {type(component).__name__}")
            except Exception:  # keep stopping the rest; nothing here may leave a task behind
                _log.exception("agent %s: stopping %s failed", self.organ_id, type(component).__name__)
        await self.store.close()

    def _broker_state(self) -> tuple[str, bool]:
        """What `/health` says about the broker, and whether that is a degradation (not a failure)."""
        if not self._started:
            return "stopped", False
        if self._link.failure is not None:
            return f"failed: {self._link.failure}", False
        if not self.connected:
            if self._unreachable_since is None:
                return "connecting", True
            since = self._unreachable_since.isoformat(timespec="seconds")
            return (f"unreachable since {since} (attempt {self._connect_attempts}: {self._connect_error})",
                    True)
        if isinstance(self.watch.last_error, TransportError):
            return f"unreachable: {self.watch.last_error}", True
        return "connected", False

    async def _outbox_pending(self) -> int | None:
        try:
            return await self.store.count_pending()
        except AgentUnavailable:  # stopped: the store is closed
            return None

    async def health(self) -> dict[str, Any]:
        """What `/health` reports: `ok` (200) when every part runs and no request is failing; `degraded` (503)
        while the broker is away but documents are still accepted into the outbox, or while requests fail
        with internal errors (`internal_errors` says which, with their ids and counts); `unhealthy` when a
        part died; `stopped`."""
        parts = {"relay": self.relay.failure, "receiver": self.receiver.failure,
                 "dropfolder": self.dropfolder.failure, "broker_link": self._link.failure}
        running = {"relay": self.relay.healthy, "receiver": self.receiver.healthy,
                   "dropfolder": self.dropfolder.healthy, "epoch_watch": self.watch.healthy}
        broker, degraded = self._broker_state()
        failing = self.errors.failing()
        status: HealthStatus
        if not self._started:
            status = "stopped"
        elif any(v is not None for v in parts.values()):
            status = "unhealthy"
        elif degraded:
            status = "degraded" if self.dropfolder.healthy else "unhealthy"
        elif not all(running.values()):
            status = "unhealthy"
        else:
            status = "degraded" if failing else "ok"
        return {
            "status": status,
            "organ_id": self.organ_id,
            "started": self._started,
            "broker": broker,
            "outbox_pending": await self._outbox_pending(),
            "components": running,
            "errors": {k: repr(v) for k, v in parts.items() if v is not None},
            "internal_errors": self.errors.report(),
            "epoch": self.watch.epoch,
            "published": self.relay.published,
            "stored": self.receiver.stored,
        }


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def build_agent(
    settings: Settings,
    organ_id: str,
    *,
    clock: Callable[[], datetime] | None = None,
    signer: Signer | None = None,
    verifier: Verifier | None = None,
    store: Store | None = None,
    poll_interval_s: float = 0.25,
    epoch_interval_s: float = 1.0,
    consumer_options: dict[str, Any] | None = None,
    connect_retry_max_s: float = 30.0,
) -> Agent:
    """Wire one agent from settings; `kafka_bootstrap` comes from the settings or the running exchange's run.json.

    `connect_retry_max_s` caps the backoff between attempts to reach a broker that is down.
    """
    clock = clock or _utcnow
    bootstrap = settings.kafka_bootstrap or settings.resolved(need_database=False).kafka_bootstrap
    if not bootstrap:
        raise SettingsError("no Kafka bootstrap address: set AXIS_KAFKA_BOOTSTRAP or start `axis up`")
    security = kafka_security(settings)  # reads the TLS files now: a bad one stops the start
    folder = agent_dir(settings, organ_id)
    pki = settings.pki_dir
    if signer is None:
        signer = Signer(SigningIdentity.from_files(pki / f"{organ_id}-key.pem", pki / f"{organ_id}.pem"))
    if verifier is None:
        crl = pki / "crl.pem"
        trust = TrustStore.from_files([pki / "ca.pem"], [crl] if crl.exists() else [])
        verifier = Verifier(trust)
    clock_ms: Callable[[], int] = lambda: int(clock().timestamp() * 1000)  # noqa: E731
    store = store or Store(folder / "agent.sqlite", clock=clock_ms)
    publisher = Publisher(bootstrap, security=security)
    consumer = Consumer(bootstrap, [wire.inbox_topic(organ_id), wire.DIRECTORY], group_id=f"agent.{organ_id}",
                        security=security, **(consumer_options or {}))
    relay = OutboxRelay(organ_id, store, publisher, confirm_timeout_s=settings.confirm_timeout_s,
                        batch_max=settings.publish_batch_max, clock_ms=clock_ms)
    service = AgentService(organ_id, store, signer, max_package_bytes=settings.max_package_bytes, clock=clock,
                           local_tz=settings.tz, on_submitted=relay.wake, metrics=AgentMetrics())
    errors = InternalErrors(f"agent {organ_id}", _log)
    dropfolder = DropFolder(folder, service, store, poll_interval_s=poll_interval_s, errors=errors)
    receiver = Receiver(organ_id, store, service, verifier, publisher, consumer, local_tz=settings.tz,
                        on_stored=dropfolder.wake, on_outbox=relay.wake)
    watch = EpochWatch(bootstrap, lambda: exchange_topics(settings, [organ_id]), interval_s=epoch_interval_s,
                       replication_factor=settings.kafka_replication_factor, security=security)
    watch.on_new_epoch(consumer.on_new_epoch)
    watch.on_new_epoch(relay.on_new_epoch)
    exchange_url = settings.exchange_url or (f"http://127.0.0.1:{settings.metrics_port}" if settings.metrics_port
                                             else None)
    evidence = EvidenceClient(organ_id, signer.identity, exchange_url, clock) if exchange_url else None
    return Agent(organ_id, settings, folder, store, service, relay, receiver, dropfolder, watch, publisher, consumer,
                 bootstrap, clock, connect_retry_max_s, errors, evidence)
