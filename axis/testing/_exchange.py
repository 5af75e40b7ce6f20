"""An exchange for one test (or module): a router on its own database, agents with their HTTP APIs.

Many exchanges share the session's broker and PostgreSQL server one after another. The wire's topic names
are fixed (`edx.outbound`, ...), so an exchange starts by deleting every `edx.*` topic its predecessor left
(its router then finds a broker without an epoch and creates them anew, and consumer groups are qualified
by the new epoch); it gets a database of its own, dropped when it stops. Its dev PKI uses ECDSA keys, which
are issued in milliseconds.

Like `axis.demo`, this is an entrypoint and may import `agents`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from agents.api import create_app
from agents.bootstrap import Agent, build_agent
from axis.bootstrap import build_ledger, build_router
from axis.embedded import EmbeddedPostgres
from axis.ledger import Ledger, utc_now
from axis.replay import Outcome, play, read_outcome, wait_settled
from axis.router import Router
from axis.serving import AsgiServer
from axis.settings import Settings
from axis.transport import map_kafka_errors
from signing import DevPki


@dataclass(frozen=True, slots=True)
class AgentHandle:
    """How a test reaches one agency's agent: its HTTP API, as the agency's document system would."""

    organ_id: str
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The `Authorization` header the agent's API wants."""
        return {"Authorization": f"Bearer {self.token}"}


async def clear_wire_topics(bootstrap: str) -> None:
    """Delete every `edx.*` topic: the next router starts a new broker epoch on a clean wire."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    with map_kafka_errors(f"clear the wire topics of {bootstrap}"):
        try:
            await admin.start()
            names = [t["topic"] for t in await admin.describe_topics() if t["topic"].startswith("edx.")]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()


@dataclass
class RunningExchange:
    """The async side of a test exchange; `start()` builds it, `stop()` takes everything down again."""

    bootstrap: str
    postgres: EmbeddedPostgres
    data_dir: Path
    agencies: dict[str, str]  # organ id -> name: registered, each with a running agent
    settings: Settings = field(init=False)
    ledger: Ledger = field(init=False)
    router: Router = field(init=False)
    agents: dict[str, tuple[Agent, AsgiServer]] = field(default_factory=dict)
    _database: str = field(default="", init=False)

    async def start(self) -> None:
        await clear_wire_topics(self.bootstrap)
        self._database = f"axis_test_{uuid.uuid4().hex[:12]}"
        database_url = await self.postgres.create_database(self._database)
        self.settings = Settings(
            data_dir=self.data_dir, kafka_bootstrap=self.bootstrap, database_url=database_url, metrics_port=0
        )
        DevPki(self.settings.pki_dir).init(algorithm="ec")
        self.ledger = build_ledger(self.settings)
        await self.ledger.start()
        self.router = build_router(
            self.settings, ledger=self.ledger, poll_s=0.05, directory_poll_s=0.2, epoch_interval_s=0.5
        )
        await self.router.start()
        pki = DevPki(self.settings.pki_dir)
        for organ, name in self.agencies.items():
            _, cert = pki.issue(organ, name, algorithm="ec")
            await self.ledger.directory.add(organ, name, certificates=[cert.read_text()], at=utc_now())
        await self.router.publish_directory()
        await asyncio.gather(*(self._start_agent(organ) for organ in self.agencies))

    async def _start_agent(self, organ: str) -> None:
        agent = build_agent(self.settings, organ, poll_interval_s=0.05, epoch_interval_s=0.5)
        server = AsgiServer(create_app(agent, manage_agent=False), 0, setting=f"agent {organ} port")
        self.agents[organ] = (agent, server)
        await agent.start()
        await agent.wait_connected(60)
        await server.start()

        async def knows_everyone() -> bool:
            return agent.store.directory_synced and len(await agent.store.agencies()) >= len(self.agencies)

        await _until(knows_everyone, 30, f"agent {organ} did not learn the directory")

    async def stop(self) -> None:
        for agent, server in self.agents.values():
            await server.stop()
            await agent.stop()
        self.agents.clear()
        if hasattr(self, "router"):
            await self.router.stop()
            await self.ledger.stop()
        if self._database:
            conn = await asyncpg.connect(self.postgres.database_url)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
            finally:
                await conn.close()
        with contextlib.suppress(Exception):  # the next exchange clears them anyway
            await clear_wire_topics(self.bootstrap)

    def handle(self, organ: str) -> AgentHandle:
        if organ not in self.agents:
            raise KeyError(
                f"no agent for {organ} in this exchange (its agents: {', '.join(self.agents) or 'none'}); "
                "name it with @pytest.mark.axis_agencies(...)"
            )
        agent, server = self.agents[organ]
        return AgentHandle(organ, server.url, agent.token)

    async def settle(self, message_ids: list[str], timeout_s: float) -> None:
        """Agents' outboxes empty, every played package handled, the ledger quiet."""

        async def outboxes_empty() -> bool:
            return all([await agent.store.count_pending() == 0 for agent, _ in self.agents.values()])

        await _until(outboxes_empty, timeout_s, "agents still have packages waiting in their outboxes")
        await wait_settled(self.ledger, message_ids, timeout_s=timeout_s)

    async def play(self, path: Path, options: dict[str, Any], timeout_s: float) -> Outcome:
        report = await play(self.settings, path, **options)
        await self.settle(report.message_ids, timeout_s)
        return await read_outcome(self.ledger)

    async def outcome(self, timeout_s: float) -> Outcome:
        await self.settle([], timeout_s)
        return await read_outcome(self.ledger)


async def _until(probe: Any, timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what} within {timeout_s:.0f} s")
        await asyncio.sleep(0.05)
