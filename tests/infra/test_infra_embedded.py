"""The embedded broker and PostgreSQL: real processes, started, queried, restarted and stopped cleanly."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from axis.embedded import EmbeddedBroker, EmbeddedExchangeServices, EmbeddedPostgres
from axis.errors import EmbeddedServiceError
from axis.settings import Secret, read_run_info, write_run_info
from tests.conftest import BrokerFactory

pytestmark = pytest.mark.chaos


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _create(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()


async def test_session_broker_answers_admin_requests(embedded_broker: EmbeddedBroker, kafka_bootstrap: str) -> None:
    assert embedded_broker.running
    assert kafka_bootstrap == f"127.0.0.1:{embedded_broker.port}"
    assert isinstance(await _topics(kafka_bootstrap), set)


async def test_restart_keeps_the_port_and_loses_the_data(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    port, pid = broker.port, broker.pid
    await _create(broker.bootstrap, "kept-or-lost")
    assert "kept-or-lost" in await _topics(broker.bootstrap)
    await broker.restart()
    assert broker.port == port and broker.pid != pid
    assert not psutil.pid_exists(pid or 0) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "kept-or-lost" not in await _topics(broker.bootstrap)


async def test_stop_is_idempotent_and_leaves_no_process(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "b.log")
    async with broker:
        pid = broker.pid
        assert pid is not None and psutil.pid_exists(pid)
    await broker.stop()
    assert broker.pid is None and not broker.running
    assert not psutil.pid_exists(pid)


async def test_kill_is_a_crash_and_start_brings_it_back(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    pid = broker.pid
    await broker.kill()
    assert pid is not None and not psutil.pid_exists(pid)
    await broker.start()
    assert await _topics(broker.bootstrap) == set()


async def test_a_broker_start_is_fast(broker_factory: BrokerFactory) -> None:
    began = time.monotonic()
    broker = await broker_factory()
    assert broker.started_in_s is not None and time.monotonic() - began < 5.0


async def test_a_taken_port_fails_with_a_clear_error(broker_factory: BrokerFactory, tmp_path: Path) -> None:
    first = await broker_factory()
    clash = EmbeddedBroker(first.port, log_path=tmp_path / "clash.log")
    with pytest.raises(EmbeddedServiceError, match="in use"):
        await clash.start()
    assert clash.pid is None


async def test_postgres_answers_asyncpg_and_creates_databases(embedded_postgres: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(embedded_postgres.database_url)
    try:
        assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()
    url = await embedded_postgres.create_database("infra_probe")
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("select current_database()") == "infra_probe"
    finally:
        await conn.close()
    with pytest.raises(EmbeddedServiceError, match="database name"):
        await embedded_postgres.create_database('x"; drop')


async def test_each_test_gets_its_own_database(database_url: str, fresh_database_url: object) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("create table mine (id int)")
        assert await conn.fetchval("select count(*) from mine") == 0
    finally:
        await conn.close()


async def test_postgres_stop_leaves_nothing_running_and_start_works_again(service_dir: Path) -> None:
    server = EmbeddedPostgres(service_dir / "pgdata")
    await server.start()
    pid = server.pid
    assert pid is not None and psutil.pid_exists(pid)
    await server.stop()
    await server.stop()
    assert not psutil.pid_exists(pid)
    await server.start()  # same pgdata: really started again, not a stale cached handle
    try:
        conn = await asyncpg.connect(server.database_url)
        assert await conn.fetchval("select 2") == 2
        await conn.close()
    finally:
        await server.stop()


async def test_exchange_services_give_endpoints_for_run_json(service_dir: Path) -> None:
    tmp_path = service_dir
    async with EmbeddedExchangeServices(tmp_path / ".axis") as services:
        bootstrap, database_url = services.endpoints()
        assert isinstance(database_url, Secret)
        write_run_info(services.data_dir, services.run_info(tmp_path / ".axis" / "pki"))
        info = read_run_info(services.data_dir)
        assert info is not None and info.pid == os.getpid() and info.kafka_bootstrap == bootstrap
        conn = await asyncpg.connect(database_url.get_secret_value())
        await conn.close()
        assert await _topics(bootstrap) == set()
        broker_pid, pg_pid = services.broker.pid, services.postgres.pid
    assert broker_pid and pg_pid
    assert not psutil.pid_exists(broker_pid) and not psutil.pid_exists(pg_pid)


_CRASHING_OWNER = """
import asyncio, os, sys
from pathlib import Path
from axis.embedded import EmbeddedBroker, EmbeddedPostgres

async def main():
    postgres = EmbeddedPostgres(Path(sys.argv[1]) / "pgdata")
    broker = EmbeddedBroker()
    await postgres.start()
    await broker.start()
    print(postgres.pid, broker.pid, flush=True)
    os.kill(os.getpid(), 9)

asyncio.run(main())
"""


async def test_no_server_outlives_an_owner_killed_with_sigkill(service_dir: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING_OWNER, str(service_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=Path(__file__).parents[2],
    )
    out, _ = await proc.communicate()
    assert proc.returncode == -9
    pids = [int(p) for p in out.split()]
    assert len(pids) == 2
    async with asyncio.timeout(15):
        while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids):
            await asyncio.sleep(0.2)
