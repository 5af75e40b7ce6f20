"""Real traffic end to end: every corpus file posted as it is to its sender's agent API travels through the
real router (broker and PostgreSQL embedded) to its recipients; the one broken file is refused at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from polling import eventually
from realworld_support import ANSWERED, CASES, DIRECTORY, G22, H41, Case

from agents.api import create_app
from agents.bootstrap import Agent, build_agent
from axis.bootstrap import build_ledger, build_router
from axis.settings import Settings, Secret
from signing import DevPki

AUTH = {"Authorization": "Bearer test-token", "Content-Type": "application/xml"}


@pytest_asyncio.fixture
async def exchange(tmp_path: Path, broker_factory: Callable[[], Awaitable[object]],
                   database_url: str) -> AsyncIterator[dict[str, Agent]]:
    """Router, ledger and an agent for every organ of the directory, all on a private broker."""
    pki = DevPki(tmp_path / "pki")
    pki.init(algorithm="ec")
    broker = await broker_factory()
    settings = Settings(data_dir=tmp_path / "data", pki_dir=pki.dir, kafka_bootstrap=broker.bootstrap,  # type: ignore[attr-defined]
                        database_url=Secret(database_url), confirm_timeout_s=2.0, agent_token="test-token",
                        metrics_port=0)
    async with build_ledger(settings) as ledger:
        for organ, name in DIRECTORY.items():
            pki.issue(organ, name, "ec")
            await ledger.directory.add(organ, name, certificates=[pki.cert_path(organ).read_text()],
                                       at=datetime.now(timezone.utc))
        async with build_router(settings, ledger=ledger, poll_s=0.05, directory_poll_s=0.2, epoch_interval_s=0.5):
            agents = {organ: build_agent(settings, organ, poll_interval_s=0.05, epoch_interval_s=0.3,
                                         consumer_options={"session_timeout_ms": 1000, "heartbeat_interval_ms": 250})
                      for organ in DIRECTORY}
            try:
                await asyncio.gather(*(a.start() for a in agents.values()))
                await asyncio.gather(*(a.wait_connected(timeout_s=20) for a in agents.values()))
                await eventually(lambda: _directories_read(agents), timeout=20)
                yield agents
            finally:
                for agent in agents.values():
                    await agent.stop()


async def _directories_read(agents: dict[str, Agent]) -> bool:
    return all(a.store.directory_synced for a in agents.values())


async def _post(agent: Agent, case: Case) -> httpx.Response:
    app = create_app(agent, manage_agent=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as http:
        return await http.post("/documents", content=case.data, headers={**AUTH, "X-Filename": case.name})


async def _received(agent: Agent, document_id: str) -> bool:
    return any(i.document_id == document_id for i in await agent.service.received(kind="edoc"))


@pytest.mark.slow
async def test_every_real_package_travels_through_the_router_and_the_broken_one_is_refused_at_once(
        exchange: dict[str, Agent]) -> None:
    documents = [c for c in CASES if c.accepted and "status" not in c.name]
    statuses = [c for c in CASES if c.accepted and "status" in c.name]
    broken = next(c for c in CASES if not c.accepted)

    answers = {c.name: await _post(exchange[c.sender], c) for c in documents}
    for case in documents:
        answer = answers[case.name]
        assert answer.status_code == 201, (case.name, answer.text)
        assert all(text in "\n".join(answer.json()["warnings"]) for text in case.says)
    for case in documents:
        document_id = answers[case.name].json()["document_id"]
        for organ in case.recipients:
            await eventually(lambda: _received(exchange[organ], document_id), timeout=30)
    for case in statuses:  # 03 then 04, answering H41's document of 01-promulgation-ddmmyyyy
        answer = await _post(exchange[case.sender], case)
        assert answer.status_code == 201, (case.name, answer.text)
        code = "03" if case.name.startswith("06") else "04"
        await eventually(lambda: _last_status(exchange[H41], code), timeout=30)

    refused = await _post(exchange[broken.sender], broken)
    assert refused.status_code == 422 and all(t in refused.json()["detail"] for t in broken.says), refused.text

    sent = [r for agent in exchange.values() for r in await agent.service.sent()]
    assert sent and all(r.state in ("accepted", "delivered") for r in sent), [(r.document_id, r.state, r.reason)
                                                                           for r in sent]


async def _last_status(agent: Agent, code: str) -> bool:
    return any(r.document_id == ANSWERED and r.recipient == G22 and r.last_status_code == code
               for r in await agent.service.sent())
