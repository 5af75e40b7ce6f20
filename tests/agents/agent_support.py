"""Shared names and helpers of the agent tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import httpx

from agents.api import create_app
from agents.bootstrap import Agent
from axis.ledger import Ledger
from axis.settings import Settings

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


async def register_both(ledger: Ledger, settings: Settings) -> None:
    """SENDER and RECIPIENT in the exchange's directory, with the certificates of the test PKI."""
    for organ, name in ((SENDER, "Văn phòng Chính phủ"), (RECIPIENT, "UBND Tỉnh Nghệ An")):
        pem = (settings.pki_dir / f"{organ}.pem").read_text()
        await ledger.directory.add(organ, name, certificates=[pem], at=datetime.now(timezone.utc))
