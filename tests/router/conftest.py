"""Router fixtures: a private real broker, a fresh real database, a dev PKI with ECDSA agencies, a router."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from exchange_helpers import Exchange, Pki, make_pki, open_exchange

from axis.embedded import EmbeddedBroker, EmbeddedPostgres


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest_asyncio.fixture
async def exchange(broker_factory, database_url: str, dev_pki: Pki, tmp_path: Path) -> AsyncIterator[Exchange]:
    """A private exchange: its own broker, database and clock (for tests that move time or restart)."""
    broker = await broker_factory()
    async with open_exchange(broker.bootstrap, database_url, dev_pki, tmp_path) as ex:
        yield ex


@pytest_asyncio.fixture(scope="session")
async def shared_exchange(
    embedded_postgres: EmbeddedPostgres, dev_pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Exchange]:
    """One exchange for the tests that only send and look (unique ids each): saves the group join per test.

    Its broker is private (the session broker's wire topics are shared with other suites)."""
    data_dir = tmp_path_factory.mktemp("shared-exchange")
    database_url = await embedded_postgres.create_database(f"router_shared_{uuid.uuid4().hex[:8]}")
    async with EmbeddedBroker(log_path=data_dir / "tansu.log") as broker:
        async with open_exchange(broker.bootstrap, database_url, dev_pki, data_dir) as ex:
            yield ex
