"""Fixtures for the agent tests: a dev PKI with EC keys (fast), settings on a private broker, agent factory.

Every agent runs against a REAL embedded broker; tests that need a clean exchange take a private broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from agent_support import RECIPIENT, SENDER, STRANGER

from agents.bootstrap import Agent, build_agent
from axis.settings import Settings
from signing import DevPki


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pki = DevPki(tmp_path_factory.mktemp("pki"))
    pki.init(algorithm="ec")
    for organ, name in ((SENDER, "Văn phòng Chính phủ"), (RECIPIENT, "UBND Tỉnh Nghệ An")):
        pki.issue(organ, name, algorithm="ec")
    other = DevPki(pki.dir / "other-ca")
    other.init(algorithm="ec")
    other.issue(STRANGER, "Impostor", algorithm="ec")
    return pki.dir


@pytest_asyncio.fixture
async def private_bootstrap(broker_factory: Callable[[], Awaitable[object]]) -> str:
    broker = await broker_factory()
    return broker.bootstrap  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def settings(tmp_path: Path, pki_dir: Path, private_bootstrap: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", pki_dir=pki_dir, kafka_bootstrap=private_bootstrap,
                    confirm_timeout_s=2.0, agent_token="test-token")


@pytest_asyncio.fixture
async def make_agent(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[Agent]]]:
    """Build and start agents on the test's private broker; all stopped at the end."""
    agents: list[Agent] = []

    async def make(organ_id: str = SENDER, *, start: bool = True, connected: bool = True, **kw: object) -> Agent:
        """`connected`: wait until the agent reached the broker (set False when the broker is meant to be down)."""
        kw.setdefault("poll_interval_s", 0.05)
        kw.setdefault("epoch_interval_s", 0.3)
        kw.setdefault("consumer_options", {"session_timeout_ms": 1000, "heartbeat_interval_ms": 250})
        agent = build_agent(kw.pop("settings", settings), organ_id, **kw)  # type: ignore[arg-type]
        agents.append(agent)
        if start:
            await agent.start()
            if connected:
                await agent.wait_connected(timeout_s=15)
        return agent

    yield make
    for agent in reversed(agents):
        await agent.stop()
