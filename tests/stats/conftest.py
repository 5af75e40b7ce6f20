"""Stats fixtures: a real router on a private broker and a fresh database, played through the wire by the router
tests' agents (`tests/router/exchange_helpers.py`), with the stats app beside it on the router's clock.

The clock starts at the real time (faust drops windows by the wall clock, so facts must be of today) and moves
only when a test moves it, so durations and deadlines are exact.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "router"))  # the router tests' wire-level agents

from exchange_helpers import Exchange, Pki, make_pki, open_exchange  # noqa: E402

from axis.embedded import EmbeddedBroker  # noqa: E402
from axis.stats import StatsService  # noqa: E402


@pytest.fixture(scope="session")
def stats_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("stats-pki"))


@pytest_asyncio.fixture
async def broker(broker_factory) -> EmbeddedBroker:  # type: ignore[no-untyped-def]
    """A private broker: tests restart it (its data lost)."""
    return await broker_factory()


@pytest_asyncio.fixture
async def exchange(
    broker: EmbeddedBroker, database_url: str, stats_pki: Pki, tmp_path: Path
) -> AsyncIterator[Exchange]:
    """A router on the private broker and a fresh database, its clock at now."""
    async with open_exchange(broker.bootstrap, database_url, stats_pki, tmp_path) as ex:
        ex.clock.now = datetime.now(timezone.utc).replace(microsecond=0)
        yield ex


@pytest_asyncio.fixture
async def stats(exchange: Exchange) -> AsyncIterator[StatsService]:
    """The stats app on the exchange, on a free port, counting overdue receipts every half second."""
    async with StatsService(exchange.settings, port=0, clock=exchange.clock, overdue_every_s=0.5) as service:
        yield service
