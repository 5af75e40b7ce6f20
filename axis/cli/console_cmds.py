"""`axis console` (the web console on its own, next to a production router) and `axis console user ...`.

The console needs only PostgreSQL: `AXIS_DATABASE_URL`, else the run.json of a running `axis up`. The
health it shows comes from the router's `/health` (on `metrics_port` unless `--router-health` says where)
and the stats app's (`--stats-health`), asked over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from axis.bootstrap import open_ledger
from axis.errors import AxisError
from axis.logs import LogFormat, configure_logging
from axis.settings import Settings, load_settings

from ._options import log_options

__all__ = ["console"]

T = TypeVar("T")


def _settings() -> Settings:
    """The settings with a database: configured, or found in a running `axis up`'s run.json."""
    settings = load_settings()
    return settings if settings.database_url else settings.resolved()


def _run(work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(work(_settings()))
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(invoke_without_command=True)
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default: console_port, 9401; 0 picks a free one).")
@click.option("--host", default=None,
              help="Address to listen on (default: http_host, 127.0.0.1); put a TLS-terminating proxy in front of "
                   "anything but 127.0.0.1.")
@click.option("--router-health", default=None, metavar="URL",
              help="The router's /health (default http://127.0.0.1:<metrics_port>/health).")
@click.option("--stats-health", default=None, metavar="URL", help="The stats app's /health, if it runs.")
@log_options
@click.pass_context
def console(ctx: click.Context, port: int | None, host: str | None, router_health: str | None, stats_health: str | None,
            log_level: str, log_format: LogFormat) -> None:
    """Serve the web console until SIGINT or SIGTERM (or manage its accounts: `axis console user`)."""
    if ctx.invoked_subcommand is not None:
        return
    configure_logging(log_level, log_format)

    async def work(settings: Settings) -> None:
        from axis.console import Probe, http_probe, open_console

        from ._options import until_signal

        probes: dict[str, Probe] = {}
        if router_health or settings.metrics_port:
            probes["router"] = http_probe(router_health or f"http://127.0.0.1:{settings.metrics_port}/health")
        if stats_health:
            probes["stats app"] = http_probe(stats_health)
        chosen = settings.console_port if port is None else port
        if port is None and not chosen:
            raise click.UsageError("console_port is 0 (off); pass --port")
        async with open_console(settings, port=chosen, host=host, probes=probes) as running:
            click.echo(f"axis console on {running.url}/ ; Ctrl-C to stop", err=True)
            await until_signal()
        click.echo("console stopped", err=True)

    _run(work)


@console.group()
def user() -> None:
    """Console accounts: viewers read, operators also act."""


def _read_password() -> str:
    """From standard input: one line when piped, asked twice (hidden) on a terminal."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator"]), required=True)
@click.option("--replace", is_flag=True, help="Give an existing account this role and a new password.")
def user_add(name: str, role: str, replace: bool) -> None:
    """Add an account; the password is read from standard input and stored as an argon2id hash."""
    password = _read_password()

    async def work(settings: Settings) -> dict[str, Any]:
        from axis.console import ConsoleUsers

        async with open_ledger(settings) as ledger:
            return (await ConsoleUsers(ledger.pool).add(name, role, password, replace=replace)).as_dict()

    added = _run(work)
    click.echo(f"console user {added['name']} ({added['role']}) {'updated' if replace else 'added'}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
def user_list(as_json: bool) -> None:
    """List the accounts (never their password hashes)."""

    async def work(settings: Settings) -> list[dict[str, Any]]:
        from axis.console import ConsoleUsers

        async with open_ledger(settings) as ledger:
            return [u.as_dict() for u in await ConsoleUsers(ledger.pool).list()]

    users = _run(work)
    if as_json:
        click.echo(json.dumps(users, ensure_ascii=False, indent=2))
        return
    for u in users:
        click.echo(f"{u['name']:<24} {u['role']:<9} since {u['created_at']}")
    if not users:
        click.echo("no console users; add one with `axis console user add NAME --role operator`")


@user.command("remove")
@click.argument("name")
def user_remove(name: str) -> None:
    """Remove an account; its open sessions end at their next request."""

    async def work(settings: Settings) -> None:
        from axis.console import ConsoleUsers

        async with open_ledger(settings) as ledger:
            await ConsoleUsers(ledger.pool).remove(name)

    _run(work)
    click.echo(f"console user {name} removed")
