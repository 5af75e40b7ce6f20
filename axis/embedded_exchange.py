"""The whole exchange on one machine: embedded broker and PostgreSQL, dev PKI, ledger and router.

`axis up` runs it until a signal; the demo and the fault drill start it, add agencies, and run agents
against it. Production configuration (a real Kafka and PostgreSQL in the settings) skips the embedded
services and runs only the router against them.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Sequence

from axis.bootstrap import open_router
from axis.embedded import EmbeddedExchangeServices
from axis.ledger import Agency, Ledger, utc_now
from axis.router import Router
from axis.settings import Settings, remove_run_info, write_run_info
from signing import DevPki

__all__ = ["Exchange", "NewAgency", "open_exchange", "register_agencies"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewAgency:
    """An agency to register: organ id (QĐ 20/2020 shape), display name, parent organ."""

    organ_id: str
    name: str
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """A running exchange: its resolved settings, ledger, router and (when embedded) services."""

    settings: Settings
    ledger: Ledger
    router: Router
    services: EmbeddedExchangeServices | None
    pki: DevPki


def _ensure_pki(pki_dir: Path) -> DevPki:
    pki = DevPki(pki_dir)
    pki.init()
    return pki


@contextlib.asynccontextmanager
async def open_exchange(settings: Settings, *, write_run_file: bool = True, **router_options: object) -> AsyncIterator[Exchange]:
    """Start embedded services (when the settings name none), the dev PKI, the ledger, the router and its metrics.

    Everything is stopped on exit, router first so its last batch commits, services last.
    """
    services: EmbeddedExchangeServices | None = None
    embedded = not (settings.kafka_bootstrap and settings.database_url)
    async with contextlib.AsyncExitStack() as stack:
        if embedded:
            services = EmbeddedExchangeServices(settings.data_dir)
            await services.start()
            stack.push_async_callback(services.stop)
            bootstrap, database_url = services.endpoints()
            settings = settings.replace(
                kafka_bootstrap=settings.kafka_bootstrap or bootstrap,
                database_url=settings.database_url or database_url,
            )
        pki = _ensure_pki(settings.pki_dir)
        router = await stack.enter_async_context(open_router(settings, **router_options))  # type: ignore[arg-type]
        if write_run_file and services is not None:
            write_run_info(settings.data_dir, services.run_info(settings.pki_dir))
            stack.callback(remove_run_info, settings.data_dir)
        yield Exchange(settings, router.ledger, router, services, pki)


async def register_agencies(exchange: Exchange, agencies: Sequence[NewAgency], *, algorithm: str = "rsa") -> list[Agency]:
    """Issue each agency a dev-PKI certificate (unless it has one) and register it in the directory."""
    registered = []
    for agency in agencies:
        cert_path = exchange.pki.cert_path(agency.organ_id)
        if not cert_path.exists():
            exchange.pki.issue(agency.organ_id, agency.name, algorithm=algorithm)
        registered.append(
            await exchange.ledger.directory.add(
                agency.organ_id, agency.name, parent_id=agency.parent_id,
                certificates=[cert_path.read_bytes()], at=utc_now(),
            )
        )
    await exchange.router.publish_directory()  # inbox topics exist before any agent subscribes
    return registered
