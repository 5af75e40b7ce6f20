"""Console fixtures: a REAL PostgreSQL ledger seeded with synthetic traffic (bench/_console_seed.py), two
accounts (an operator and a viewer), and the console app in process behind httpx.ASGITransport.

The seeded ledger is shared by a module's tests (seeding costs about a second); tests that change it use
their own targets (their own dead letter, their own agency), so they do not depend on each other.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from console_support import OPERATOR, PASSWORD, VIEWER, ConsoleClient

from axis.bootstrap import build_ledger
from axis.console import ConsoleUsers, create_console_app
from axis.embedded import EmbeddedPostgres
from axis.ledger import Ledger
from axis.settings import Secret, Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _console_seed import SeedInfo, seed_ledger  # noqa: E402

SEED_DOCUMENTS = 600
SEED_DAYS = 3.0


@pytest_asyncio.fixture(scope="module")
async def module_database(embedded_postgres: EmbeddedPostgres) -> AsyncIterator[str]:
    name = f"console_{uuid.uuid4().hex[:12]}"
    url = await embedded_postgres.create_database(name)
    yield url
    conn = await asyncpg.connect(embedded_postgres.database_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def console_settings(module_database: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("console"), database_url=Secret(module_database),
                    console_secret="s" * 40, metrics_port=0, console_port=0)


@pytest_asyncio.fixture(scope="module")
async def ledger(console_settings: Settings) -> AsyncIterator[Ledger]:
    async with build_ledger(console_settings) as ledger:
        yield ledger


@pytest_asyncio.fixture(scope="module")
async def seeded(ledger: Ledger) -> SeedInfo:
    async with ledger.pool.acquire() as conn:
        info = await seed_ledger(conn, documents=SEED_DOCUMENTS, agencies=8, days=SEED_DAYS, batch=250,
                                stuck_03=23, stuck_all=61)
    users = ConsoleUsers(ledger.pool)
    await users.add(OPERATOR, "operator", PASSWORD)
    await users.add(VIEWER, "viewer", PASSWORD)
    return info


@pytest_asyncio.fixture(scope="module")
async def app(console_settings: Settings, ledger: Ledger, seeded: SeedInfo) -> object:
    async def router_ok() -> dict[str, object]:
        return {"status": "ok", "state": "running"}

    app = create_console_app(console_settings, ledger, probes={"router": router_ok}, page_size=20)
    await app.state.console.receipts.catch_up(settled=False)
    return app


@pytest_asyncio.fixture
async def operator_client(app: object) -> AsyncIterator[ConsoleClient]:
    async with ConsoleClient(app) as client:
        await client.sign_in(OPERATOR, PASSWORD)
        yield client


@pytest_asyncio.fixture
async def viewer_client(app: object) -> AsyncIterator[ConsoleClient]:
    async with ConsoleClient(app) as client:
        await client.sign_in(VIEWER, PASSWORD)
        yield client
