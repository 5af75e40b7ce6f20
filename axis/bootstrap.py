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
from axis.proof import Checkpointer, EvidenceDesk
from axis.router import Router
from axis.settings import Settings
from signing import DevPki, SigningIdentity, TrustStore, Verifier


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


def exchange_identity(settings: Settings) -> SigningIdentity:
    """The exchange's own key and certificate, which seal checkpoints and evidence.

    `<pki_dir>/<exchange_organ_id>-key.pem` and `.pem`; with a development PKI (its CA key at hand) they are
    issued on first use, as `axis up` does for agencies; otherwise they must be issued by the exchange CA.
    """
    pki = DevPki(settings.pki_dir)
    organ = settings.exchange_organ_id
    if not pki.cert_path(organ).exists():
        if not pki.ca_key_path.exists():
            raise SettingsError(
                f"no exchange certificate at {pki.cert_path(organ)}: have the exchange CA issue one for organ id "
                f"{organ} with KeyUsage digitalSignature (`axis pki issue --organ-id {organ}` with a dev PKI)")
        pki.issue(organ, "Trục liên thông văn bản (exchange)", algorithm="ec")
    return SigningIdentity.from_files(pki.key_path(organ), pki.cert_path(organ))


def build_checkpointer(settings: Settings, ledger: Ledger, identity: SigningIdentity, *,
                       clock: Clock = utc_now) -> Checkpointer:
    """The checkpointer (not started) sealing the ledger's batches as the settings say."""
    return Checkpointer(ledger, identity, exchange=settings.exchange_organ_id, every_s=settings.checkpoint_interval_s,
                        every_events=settings.checkpoint_events, tsa_url=settings.tsa_url, clock=clock)


def evidence_desk(settings: Settings, ledger: Ledger, *, clock: Clock = utc_now,
                  checkpointer: Checkpointer | None = None) -> EvidenceDesk:
    """Where evidence bundles are made (CLI, console, agencies through the router's HTTP); beside a router,
    with its checkpointer (which seals what a bundle needs sealed)."""
    identity = checkpointer.identity if checkpointer is not None else exchange_identity(settings)
    ca_pem = DevPki(settings.pki_dir).ca_path.read_text(encoding="ascii")
    return EvidenceDesk(ledger, identity, checkpointer or build_checkpointer(settings, ledger, identity, clock=clock),
                        exchange=settings.exchange_organ_id, ca_pem=ca_pem, archive_dir=settings.archive_dir,
                        clock=clock)


@contextlib.asynccontextmanager
async def open_router(
    settings: Settings, *, clock: Clock = utc_now, verifier: Verifier | None = None, **options: Any
) -> AsyncIterator[Router]:
    """Start a Ledger, a Router on it, the checkpointer beside it and (unless `metrics_port` is 0) its
    HTTP: Prometheus metrics, health and agencies' evidence requests; stop all on exit, router before ledger
    so its last batch commits."""
    from axis.metrics import MetricsServer

    identity = exchange_identity(settings)
    async with build_ledger(settings, clock=clock) as ledger:
        checkpointer = build_checkpointer(settings, ledger, identity, clock=clock)
        async with build_router(settings, ledger=ledger, verifier=verifier, clock=clock, **options) as router, \
                checkpointer:
            if not settings.metrics_port:
                yield router
                return
            async with MetricsServer(router, ledger, settings.metrics_port, host=settings.http_host,
                                     evidence=evidence_desk(settings, ledger, clock=clock, checkpointer=checkpointer)):
                yield router


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings, *, clock: Clock = utc_now) -> AsyncIterator[Ledger]:
    """A started Ledger for the CLI's read commands and the agent facade."""
    async with build_ledger(settings, clock=clock) as ledger:
        yield ledger
