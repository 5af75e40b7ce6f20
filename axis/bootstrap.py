"""Composition root of the central side: builds the Ledger, Verifier and Router from a frozen Settings.

Entrypoints (`axis router`, `axis up`, tests) call these; the keyword overrides (clock, verifier, ledger)
are the only seams, used by tests to advance time. Settings must be resolved (`settings.resolved()`):
library code never looks for run.json itself.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any, AsyncIterator

from axis.errors import SettingsError
from axis.ledger import Clock, Ledger, WorkCalendar, utc_now
from axis.router import Router
from axis.settings import Settings
from signing import DevPki, TrustStore, Verifier


def work_calendar(settings: Settings) -> WorkCalendar:
    start, end = settings.workday_hours
    return WorkCalendar(settings.tz, start, end, settings.working_days)


def build_ledger(settings: Settings, *, clock: Clock = utc_now) -> Ledger:
    """A Ledger (not started) on `settings.database_url`."""
    if settings.database_url is None:
        raise SettingsError("database_url is not set (AXIS_DATABASE_URL, or start `axis up`)")
    return Ledger(
        settings.database_url.get_secret_value(), calendar=work_calendar(settings),
        arrival_deadline=timedelta(seconds=settings.arrival_deadline_s), clock=clock,
    )


def build_verifier(settings: Settings) -> Verifier:
    """A Verifier trusting the exchange CA in `settings.pki_dir`, with its CRL when there is one."""
    pki = DevPki(settings.pki_dir)
    if not pki.ca_path.exists():
        raise SettingsError(f"no exchange CA at {pki.ca_path} (run `axis pki init` or `axis up`)")
    crls = [pki.crl_path] if pki.crl_path.exists() else []
    return Verifier(TrustStore.from_files([pki.ca_path], crls))


def build_router(
    settings: Settings, *, ledger: Ledger, verifier: Verifier | None = None, clock: Clock = utc_now, **options: Any
) -> Router:
    """A Router (not started) over a Ledger; `options` go to `Router` (poll intervals, group id)."""
    return Router(settings, ledger, verifier or build_verifier(settings), clock=clock, **options)


@contextlib.asynccontextmanager
async def open_router(
    settings: Settings, *, clock: Clock = utc_now, verifier: Verifier | None = None, **options: Any
) -> AsyncIterator[Router]:
    """Start a Ledger, a Router on it and (unless `metrics_port` is 0) its Prometheus endpoint; stop all on
    exit, router before ledger so its last batch commits."""
    from axis.metrics import MetricsServer

    async with build_ledger(settings, clock=clock) as ledger:
        async with build_router(settings, ledger=ledger, verifier=verifier, clock=clock, **options) as router:
            if not settings.metrics_port:
                yield router
                return
            async with MetricsServer(router, ledger, settings.metrics_port):
                yield router


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings, *, clock: Clock = utc_now) -> AsyncIterator[Ledger]:
    """A started Ledger for the CLI's read commands and the agent facade."""
    async with build_ledger(settings, clock=clock) as ledger:
        yield ledger
