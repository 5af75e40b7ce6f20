"""`axis router`, `axis agency add|list|disable`, `axis status`, `axis overdue`.

Each command reads the settings once (`load_settings().resolved()`: environment, axis.toml, run.json of
a running `axis up`) and builds what it needs through `axis.bootstrap`. `axis agency` changes only
PostgreSQL; the running router notices the change and publishes `edx.directory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import click

from axis.bootstrap import open_ledger, open_router
from axis.errors import AxisError
from axis.ledger import utc_now
from axis.logs import LogFormat, configure_logging
from axis.settings import Settings, load_settings

from ._options import log_options

T = TypeVar("T")


def _settings() -> Settings:
    return load_settings().resolved()


def _run(work: Callable[[Settings], Awaitable[T]]) -> T:
    try:
        return asyncio.run(work(_settings()))
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command()
@log_options
def router(log_level: str, log_format: LogFormat) -> None:
    """Run the router until SIGTERM or SIGINT (finishes the batch in hand, commits, closes)."""
    configure_logging(log_level, log_format)

    async def work(settings: Settings) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with open_router(settings) as running:
            click.echo(f"router running on {settings.kafka_bootstrap}; Ctrl-C to stop", err=True)
            while not stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5.0)
                if not running.healthy:
                    click.echo("router unhealthy (see log)", err=True)
        click.echo("router stopped", err=True)

    _run(work)


@click.group()
def agency() -> None:
    """The agency directory: who may exchange, with which certificates."""


@agency.command("add")
@click.option("--organ-id", required=True, help="QĐ 20/2020 organ id, e.g. 000.00.00.H41")
@click.option("--name", required=True)
@click.option("--parent", "parent_id", default=None, help="organ id of the parent agency")
@click.option("--email", default="")
@click.option("--cert", "certs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM certificate(s) to register; default: issue one with the dev PKI")
def agency_add(organ_id: str, name: str, parent_id: str | None, email: str, certs: tuple[Path, ...]) -> None:
    """Register (or re-enable) an agency and its signing certificates."""

    async def work(settings: Settings) -> dict[str, Any]:
        pems = [p.read_text() for p in certs] or _issue_dev_certificate(settings, organ_id, name)
        async with open_ledger(settings) as ledger:
            added = await ledger.directory.add(
                organ_id, name, parent_id=parent_id, email=email, certificates=pems, at=utc_now()
            )
        return added.as_dict()

    _echo_json(_run(work))


def _issue_dev_certificate(settings: Settings, organ_id: str, name: str) -> list[str]:
    from signing import DevPki

    pki = DevPki(settings.pki_dir)
    if not pki.ca_path.exists():
        click.echo(f"no dev CA in {settings.pki_dir}: agency added without a certificate", err=True)
        return []
    _, cert_path = pki.issue(organ_id, name)
    click.echo(f"issued {cert_path} with the dev PKI", err=True)
    return [cert_path.read_text()]


@agency.command("list")
@click.option("--json", "as_json", is_flag=True)
def agency_list(as_json: bool) -> None:
    """List the directory."""

    async def work(settings: Settings) -> list[dict[str, Any]]:
        async with open_ledger(settings) as ledger:
            return [a.as_dict() for a in await ledger.directory.list()]

    agencies = _run(work)
    if as_json:
        _echo_json(agencies)
        return
    for a in agencies:
        state = "active" if a["active"] else "disabled"
        click.echo(f"{a['organ_id']:<20} {state:<9} certs={len(a['fingerprints'])} {a['name']}")


@agency.command("disable")
@click.option("--organ-id", required=True)
def agency_disable(organ_id: str) -> None:
    """Stop routing from and to an agency (its history stays)."""

    async def work(settings: Settings) -> dict[str, Any]:
        async with open_ledger(settings) as ledger:
            return (await ledger.directory.disable(organ_id, at=utc_now())).as_dict()

    _echo_json(_run(work))


@click.command()
@click.argument("document_id")
@click.option("--json", "as_json", is_flag=True)
def status(document_id: str, as_json: bool) -> None:
    """The trail of a document per recipient: events in order and the current state."""

    async def work(settings: Settings) -> dict[str, Any] | None:
        async with open_ledger(settings) as ledger:
            return await ledger.trail(document_id)

    trail = _run(work)
    if trail is None:
        raise click.ClickException(f"no document {document_id} in the ledger")
    if as_json:
        _echo_json(trail)
        return
    click.echo(f"{trail['document_id']}  from {trail['sender']}  [{trail['business_type']}]  {trail['subject']}")
    for link in trail["concerns"]:
        click.echo(f"  {link['business_type']}s {link['document_id']}")
    for organ, info in trail["recipients"].items():
        withdrawal = f"  withdrawal: {info['withdrawal']}" if info["withdrawal"] else ""
        click.echo(f"  {organ}: {info['state']} {info['status_code']}{withdrawal}")
        for event in info["events"]:
            code = f" {event['status_code']}" if event["status_code"] else ""
            click.echo(f"    {event['at']}  {event['kind']}{code}  by {event['actor']}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
def overdue(as_json: bool) -> None:
    """Received documents whose 01, or 03/02, is late."""

    async def work(settings: Settings) -> list[dict[str, str]]:
        async with open_ledger(settings) as ledger:
            return [o.as_dict() for o in await ledger.overdue()]

    late = _run(work)
    if as_json:
        _echo_json(late)
        return
    for o in late:
        click.echo(f"{o['recipient']:<16} status {o['late_status']} late since {o['due_at']}  {o['document_id']}")
    if not late:
        click.echo("nothing overdue")
