"""Fixtures of the SDK facade tests: a registry with the wire's system ids, the facade on a fake or real agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from agents.vdxp import SdkClientRegistry, create_vdxp_app
from vdxp_helpers import H13, SECRET, FakeAgentService, SdkLikeClient


@pytest.fixture
def registry(tmp_path: Path) -> SdkClientRegistry:
    reg = SdkClientRegistry(tmp_path / "agents" / H13 / "sdk-clients.json")
    reg.add(H13, may_send_for=(H13,), secret=SECRET)
    return reg


@pytest.fixture
def fake() -> FakeAgentService:
    return FakeAgentService(H13)


@pytest.fixture
async def http(fake: FakeAgentService, registry: SdkClientRegistry) -> AsyncIterator[httpx.AsyncClient]:
    app = create_vdxp_app(fake, registry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://agent") as client:
        yield client


@pytest.fixture
def sdk(http: httpx.AsyncClient) -> Callable[..., SdkLikeClient]:
    """A factory of SDK-like clients on the facade over the fake agent."""
    return lambda system_id=H13, **kw: SdkLikeClient(http, system_id, **kw)
