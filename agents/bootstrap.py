"""The agent's composition root: `build_agent(settings, organ_id)` wires the object graph, nothing else does.

Construction does no I/O beyond loading the key and trust store (so a missing key fails at once with a clear
message); `Agent.start()` opens the store, makes sure the topics and the broker epoch exist, and starts the
background components in dependency order; `stop()` reverses it. Tests pass fakes only for time.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from axis import wire
from axis.errors import SettingsError
from axis.lifecycle import AsyncService
from axis.settings import Settings
from axis.transport import Consumer, EpochWatch, Publisher, exchange_topics
from signing import Signer, SigningIdentity, TrustStore, Verifier

from .dropfolder import DropFolder
from .receiver import Receiver
from .relay import OutboxRelay
from .service import AgentService
from .store import Store

__all__ = ["Agent", "agent_dir", "build_agent"]

_log = logging.getLogger(__name__)


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
    _started: bool = field(default=False, init=False)
    _token: str | None = field(default=None, init=False)

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

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            self.token  # noqa: B018 -- created on first start, before anyone asks for it
            await self.store.open()
            await self.watch.start()  # topics exist and the epoch is known before any client uses them
            self.consumer.epoch = self.watch.epoch
            await self.publisher.start()
            await self.receiver.start()
            await self.relay.start()
            await self.dropfolder.start()
        except BaseException:
            await self.stop()
            raise
        _log.info("agent %s started in %s", self.organ_id, self.directory)

    async def stop(self) -> None:
        """Stop in reverse order; safe to call twice and after a failed start."""
        if not self._started:
            return
        self._started = False
        for component in (self.dropfolder, self.relay, self.receiver, self.watch, self.publisher):
            try:
                await component.stop()
            except Exception:  # keep stopping the rest; nothing here may leave a task behind
                _log.exception("agent %s: stopping %s failed", self.organ_id, type(component).__name__)
        await self.store.close()


    def health(self) -> dict[str, Any]:
        """What `/health` reports: each background component and the broker epoch watch."""
        parts = {
            "relay": self.relay.failure, "receiver": self.receiver.failure, "dropfolder": self.dropfolder.failure,
        }
        running = {"relay": self.relay.healthy, "receiver": self.receiver.healthy,
                   "dropfolder": self.dropfolder.healthy, "epoch_watch": self.watch.healthy}
        ok = self._started and all(running.values())
        return {
            "status": "ok" if ok else "unhealthy",
            "organ_id": self.organ_id,
            "started": self._started,
            "components": running,
            "errors": {k: repr(v) for k, v in parts.items() if v is not None},
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
) -> Agent:
    """Wire one agent from settings; `kafka_bootstrap` comes from the settings or the running exchange's run.json."""
    clock = clock or _utcnow
    bootstrap = settings.kafka_bootstrap or settings.resolved(need_database=False).kafka_bootstrap
    if not bootstrap:
        raise SettingsError("no Kafka bootstrap address: set AXIS_KAFKA_BOOTSTRAP or start `axis up`")
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
    publisher = Publisher(bootstrap)
    consumer = Consumer(bootstrap, [wire.inbox_topic(organ_id), wire.DIRECTORY], group_id=f"agent.{organ_id}",
                        **(consumer_options or {}))
    relay = OutboxRelay(organ_id, store, publisher, confirm_timeout_s=settings.confirm_timeout_s,
                        batch_max=settings.publish_batch_max, clock_ms=clock_ms)
    service = AgentService(organ_id, store, signer, max_package_bytes=settings.max_package_bytes, clock=clock,
                           local_tz=settings.tz, on_submitted=relay.wake)
    dropfolder = DropFolder(folder, service, store, poll_interval_s=poll_interval_s)
    receiver = Receiver(organ_id, store, service, verifier, publisher, consumer, local_tz=settings.tz,
                        on_stored=dropfolder.wake, on_outbox=relay.wake)
    watch = EpochWatch(bootstrap, lambda: exchange_topics(settings, [organ_id]), interval_s=epoch_interval_s)
    watch.on_new_epoch(consumer.on_new_epoch)
    watch.on_new_epoch(relay.on_new_epoch)
    return Agent(organ_id, settings, folder, store, service, relay, receiver, dropfolder, watch, publisher, consumer)
