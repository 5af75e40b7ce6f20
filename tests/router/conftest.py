"""Router fixtures: a private real broker, a fresh real database, a dev PKI with ECDSA agencies, a router."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from exchange_helpers import Agents, FakeClock, Party, issue_party

from axis.bootstrap import build_ledger, build_router
from axis.embedded import EmbeddedBroker, EmbeddedPostgres
from axis.ledger import Ledger
from axis.router import Router
from axis.settings import Settings
from signing import DevPki

ORGANS = {
    "vpcp": ("000.00.00.G22", "Văn phòng Chính phủ"),
    "nghean": ("000.00.00.H41", "UBND Tỉnh Nghệ An"),
    "caobang": ("000.00.00.H14", "UBND Tỉnh Cao Bằng"),
    "haiphong": ("000.00.00.G17", "Sở TTTT Hải Phòng"),
    "rogue": ("000.00.00.H50", "Đơn vị chưa đăng ký chứng thư"),
}


@dataclass
class Pki:
    pki: DevPki
    parties: dict[str, Party]


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    pki = DevPki(tmp_path_factory.mktemp("pki"))
    pki.init(algorithm="ec")
    return Pki(pki, {name: issue_party(pki, organ, title) for name, (organ, title) in ORGANS.items()})


@dataclass
class Exchange:
    settings: Settings
    ledger: Ledger
    router: Router
    clock: FakeClock
    agents: Agents
    parties: dict[str, Party]
    bootstrap: str

    def __getattr__(self, name: str) -> Party:
        try:
            return self.parties[name]
        except KeyError:
            raise AttributeError(name) from None

    async def restart_router(self) -> None:
        await self.router.stop()
        self.router = new_router(self.settings, self.ledger, self.clock)
        await self.router.start()


def new_router(settings: Settings, ledger: Ledger, clock: FakeClock) -> Router:
    return build_router(settings, ledger=ledger, clock=clock, poll_s=0.05, directory_poll_s=0.2, epoch_interval_s=0.5)


@contextlib.asynccontextmanager
async def open_exchange(bootstrap: str, database_url: str, pki: Pki, data_dir: Path) -> AsyncIterator[Exchange]:
    settings = Settings(
        data_dir=data_dir, kafka_bootstrap=bootstrap, database_url=database_url, pki_dir=pki.pki.dir,
        redelivery_limit=3,
    )
    clock = FakeClock()
    ledger = build_ledger(settings, clock=clock)
    await ledger.start()
    for name, party in pki.parties.items():
        certs = [] if name == "rogue" else [party.pem]
        await ledger.directory.add(party.organ_id, party.name, certificates=certs, at=clock())
    router = new_router(settings, ledger, clock)
    agents = Agents(bootstrap)
    ex = Exchange(settings, ledger, router, clock, agents, pki.parties, bootstrap)
    try:
        await router.start()
        await agents.start()
        yield ex
    finally:
        await agents.stop()
        await ex.router.stop()
        await ledger.stop()


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
