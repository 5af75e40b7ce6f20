"""Shared names and helpers of the agent tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from agents.api import create_app
from agents.bootstrap import Agent

SENDER = "000.00.00.G22"
RECIPIENT = "000.00.00.H41"
STRANGER = "000.00.00.H29"  # has a certificate from another CA

AgentFactory = Callable[..., Awaitable[Agent]]
AUTH = {"Authorization": "Bearer test-token"}
FIELDS = {"to": [RECIPIENT], "subject": "Về việc họp", "code_number": "7", "code_notation": "VPCP-TH"}


def client(agent: Agent) -> httpx.AsyncClient:
    """The agent's API in process (the test starts and stops the agent itself)."""
    app = create_app(agent, manage_agent=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")


