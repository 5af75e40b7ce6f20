"""Shared names and helpers of the agent tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from agents.api import create_app
from agents.bootstrap import Agent

SENDER = "000.00.00.G22"
RECIPIENT = "000.00.00.H41"
STRANGER = "000.00.00.H29"  # has a certificate from another CA

AgentFactory = Callable[..., Awaitable[Agent]]
T = TypeVar("T")
AUTH = {"Authorization": "Bearer test-token"}
FIELDS = {"to": [RECIPIENT], "subject": "Về việc họp", "code_number": "7", "code_notation": "VPCP-TH"}


def client(agent: Agent) -> httpx.AsyncClient:
    """The agent's API in process (the test starts and stops the agent itself)."""
    app = create_app(agent, manage_agent=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """Poll `probe` until it returns something truthy; the broker and the loops are asynchronous."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout} s (last value {value!r})")
        await asyncio.sleep(0.05)
