"""Shared fixtures: a REAL Tansu broker and a REAL PostgreSQL server, started once per session.

Nothing is mocked and nothing skips for want of a server: the embedded ones are started here
(broker ~0.1 s, PostgreSQL ~0.6 s) and stopped at session end, so no process outlives the run.

- `embedded_broker` / `kafka_bootstrap`: the session broker. Topic names of the wire are fixed
  (`edx.outbound`, ...), so tests that need a clean exchange, or that restart/kill the broker, take a
  private one from `broker_factory` instead (starting one costs about 0.1 s).
- `embedded_postgres`: the session server; `database_url` is a fresh database for one test (dropped after
  it); `fresh_database_url()` makes more.
- `service_dir`: a directory for a test's own PostgreSQL data. Not under `tmp_path`: every pytest start
  resets `/tmp/pytest-of-<user>` to mode 0700, and PostgreSQL runs as the user `embedded_postgres`
  when the tests run as root, so a concurrent pytest run would lock the server out of its own pgdata.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest
import pytest_asyncio

from axis.embedded import EmbeddedBroker, EmbeddedPostgres

BrokerFactory = Callable[[], Awaitable[EmbeddedBroker]]
DatabaseFactory = Callable[[], Awaitable[str]]


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each test so a ResourceWarning from an unclosed resource names the test that leaked it."""
    yield
    gc.collect()


@pytest_asyncio.fixture(scope="session")
async def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    async with EmbeddedBroker(log_path=log) as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_broker: EmbeddedBroker) -> str:
    return embedded_broker.bootstrap


@pytest_asyncio.fixture
async def broker_factory(tmp_path: Path) -> AsyncIterator[BrokerFactory]:
    """Start private brokers for one test (clean topics, safe to restart or kill); all stopped after it."""
    brokers: list[EmbeddedBroker] = []

    async def start() -> EmbeddedBroker:
        broker = EmbeddedBroker(log_path=tmp_path / f"tansu-{len(brokers)}.log")
        brokers.append(broker)
        await broker.start()
        return broker

    yield start
    for broker in brokers:
        await broker.stop()


def _service_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="axis-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


service_dir = pytest.fixture(_service_dir)
_session_service_dir = pytest.fixture(scope="session")(_service_dir)


@pytest_asyncio.fixture(scope="session")
async def embedded_postgres(_session_service_dir: Path) -> AsyncIterator[EmbeddedPostgres]:
    async with EmbeddedPostgres(_session_service_dir / "pgdata") as server:
        yield server


@pytest_asyncio.fixture
async def fresh_database_url(embedded_postgres: EmbeddedPostgres) -> AsyncIterator[DatabaseFactory]:
    """A factory of empty databases on the session server; each is dropped when the test ends."""
    names: list[str] = []

    async def create() -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        names.append(name)
        return await embedded_postgres.create_database(name)

    yield create
    if names:
        conn = await asyncpg.connect(embedded_postgres.database_url)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest_asyncio.fixture
async def database_url(fresh_database_url: DatabaseFactory) -> str:
    """An empty database for this test alone."""
    return await fresh_database_url()
