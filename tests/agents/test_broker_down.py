"""An agent whose broker is down at start: it serves, keeps documents in its outbox, and connects later.

The broker is really absent (a free port with nothing listening) and then really started on that port
(`EmbeddedBroker(port)`); nothing is mocked.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn
from agent_forwarder import Forwarder
from agent_support import AUTH, FIELDS, RECIPIENT, SENDER, AgentFactory, client
from polling import eventually

from agents.api import create_app
from agents.bootstrap import Agent
from agents.errors import AgentUnavailable
from axis.embedded import EmbeddedBroker, free_port
from axis.settings import Settings


def _unreachable_settings(tmp_path: Path, pki_dir: Path) -> Settings:
    """Settings naming a broker port that nothing listens on (yet)."""
    return Settings(data_dir=tmp_path / "data", pki_dir=pki_dir, kafka_bootstrap=f"127.0.0.1:{free_port()}",
                    confirm_timeout_s=2.0, agent_token="test-token")


def _port(settings: Settings) -> int:
    return int((settings.kafka_bootstrap or "").rsplit(":", 1)[1])


async def _failed_attempts(agent: Agent, at_least: int) -> dict[str, object] | None:
    """The health report once it says the broker was tried `at_least` times in vain."""
    health = await agent.health()
    tried = re.match(r"unreachable since \S+ \(attempt (\d+): ", str(health["broker"]))
    return health if tried and int(tried[1]) >= at_least else None


async def test_a_document_submitted_while_the_broker_is_down_is_delivered_once_it_is_up(
        make_agent: AgentFactory, tmp_path: Path, pki_dir: Path) -> None:
    down = _unreachable_settings(tmp_path, pki_dir)
    sender, recipient = await asyncio.gather(
        make_agent(SENDER, settings=down, connected=False, connect_retry_max_s=0.5),
        make_agent(RECIPIENT, settings=down, connected=False, connect_retry_max_s=0.5))
    async with client(sender) as http:
        made = await http.post("/documents", json=FIELDS, headers=AUTH)
        assert made.status_code == 201, made.text
        await eventually(lambda: _failed_attempts(sender, 1))
        health = await http.get("/health")
        report = health.json()
        assert health.status_code == 503 and report["status"] == "degraded"
        assert report["broker"].startswith("unreachable since") and report["outbox_pending"] == 1
        assert report["components"]["dropfolder"] and report["started"]

        async with EmbeddedBroker(_port(down), log_path=tmp_path / "late-broker.log") as broker:
            await asyncio.gather(sender.wait_connected(timeout_s=15), recipient.wait_connected(timeout_s=15))
            async with Forwarder(broker.bootstrap):
                items = await eventually(lambda: recipient.service.received(kind="edoc"), timeout=30)
                assert items[0].message_id == made.json()["message_id"]
                rows = await eventually(lambda: _delivered(sender), timeout=30)
                assert rows[0].last_status_code == "01"
                await eventually(lambda: _nothing_pending(sender, recipient), timeout=30)
            health = await http.get("/health")
            assert health.status_code == 200, health.text
            assert health.json()["broker"] == "connected" and health.json()["outbox_pending"] == 0
            await asyncio.gather(sender.stop(), recipient.stop())  # while the broker still answers


async def test_stopping_an_agent_that_waits_for_the_broker_is_prompt(
        make_agent: AgentFactory, tmp_path: Path, pki_dir: Path) -> None:
    agent = await make_agent(SENDER, settings=_unreachable_settings(tmp_path, pki_dir), connected=False)
    await eventually(lambda: _failed_attempts(agent, 2))  # now sleeping in its backoff (default cap: 30 s)
    waiter = asyncio.create_task(agent.wait_connected())
    loop = asyncio.get_running_loop()
    began = loop.time()
    await agent.stop()
    await agent.stop()  # idempotent
    assert loop.time() - began < 2.0
    assert (await agent.health())["status"] == "stopped"
    with pytest.raises(AgentUnavailable, match="stopped before it connected"):
        await waiter


async def test_the_api_starts_and_answers_over_a_socket_without_a_broker(
        make_agent: AgentFactory, tmp_path: Path, pki_dir: Path) -> None:
    agent = await make_agent(SENDER, settings=_unreachable_settings(tmp_path, pki_dir), start=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(agent), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0.05, server.started))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            made = await http.post("/documents", json=FIELDS, headers=AUTH)
            health = await http.get("/health")
        assert made.status_code == 201, made.text
        assert health.status_code == 503 and health.json()["status"] == "degraded"
    finally:
        server.should_exit = True
        began = asyncio.get_running_loop().time()
        await task
    assert asyncio.get_running_loop().time() - began < 3.0
    assert not (await agent.health())["started"]


async def test_axis_agent_says_the_broker_is_not_reachable_and_keeps_running(
        tmp_path: Path, pki_dir: Path) -> None:
    down = _unreachable_settings(tmp_path, pki_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
    env.update(AXIS_DATA_DIR=str(down.data_dir), AXIS_PKI_DIR=str(pki_dir), AXIS_AGENT_TOKEN="test-token",
               AXIS_KAFKA_BOOTSTRAP=down.kafka_bootstrap or "")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from axis.cli import main; main()", "agent", "--organ-id", SENDER,
        "--port", str(port), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    output: list[str] = []
    try:
        async def said(text: str) -> bool:
            while not any(text in line for line in output):
                output.append((await proc.stdout.readline()).decode())  # type: ignore[union-attr]
                if proc.returncode is not None or output[-1] == "":
                    raise AssertionError("axis agent exited:\n" + "".join(output))
            return True

        await asyncio.wait_for(said("not reachable (attempt 2"), timeout=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            health = await http.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert proc.returncode is None
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stdout.read(), timeout=15)
        code = await proc.wait()
    text = "".join(output) + rest.decode()
    assert "while it is not reachable the agent keeps running" in text
    assert code in (0, -signal.SIGTERM), text  # uvicorn re-raises SIGTERM after a clean shutdown
    assert "Application shutdown complete" in text


async def _delivered(agent: Agent) -> list[object]:
    return [r for r in await agent.service.sent() if r.kind == "edoc" and r.state == "delivered"]


async def _nothing_pending(*agents: Agent) -> bool:
    return all([await a.store.count_pending() == 0 for a in agents])
