"""Proof fixtures: a private exchange (real broker, database and router) with ECDSA agencies, as the router
tests have it (tests/router/exchange_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "router"))

from exchange_helpers import Exchange, Pki, make_pki, open_exchange  # noqa: E402


@pytest.fixture(scope="module")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest_asyncio.fixture
async def exchange(broker_factory, database_url: str, dev_pki: Pki, tmp_path: Path) -> AsyncIterator[Exchange]:  # type: ignore[no-untyped-def]
    broker = await broker_factory()
    async with open_exchange(broker.bootstrap, database_url, dev_pki, tmp_path) as ex:
        ex.clock.now = datetime.now(UTC)  # after the certificates were issued: the proofs check them at event time
        yield ex
