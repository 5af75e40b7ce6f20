"""`axis up` (the exchange on this machine) and `axis demo` (the main job)."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from axis.embedded import EmbeddedExchangeServices
from axis.logs import LogFormat, configure_logging
from axis.settings import Settings, load_settings

from ._options import log_options, until_signal

if TYPE_CHECKING:
    from axis.embedded_exchange import Exchange


# `axis up` promises that a signal stops every child within 10 s. Stopping is orderly (router, ledger,
# broker, PostgreSQL); should any step hang, this watchdog shows where and ends the children itself.
STOP_DEADLINE_S = 8.0


def _children(services: EmbeddedExchangeServices | None) -> list[tuple[int, signal.Signals]]:
    """The embedded children and how to end them at once (read before stopping clears the handles)."""
    if services is None:
        return []
    pids = [(services.broker.pid, signal.SIGKILL), (services.postgres.pid, signal.SIGQUIT)]
    return [(pid, sig) for pid, sig in pids if pid]


def _force_stop(children: list[tuple[int, signal.Signals]], loop: asyncio.AbstractEventLoop) -> None:
    sys.stderr.write(f"axis up: stopping took over {STOP_DEADLINE_S:.0f} s; where it hung:\n")
    faulthandler.dump_traceback(all_threads=True)
    for task in asyncio.all_tasks(loop):
        task.print_stack(file=sys.stderr)
    for pid, sig in children:  # SIGQUIT: PostgreSQL's immediate shutdown, recovered from WAL at next start
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    sys.stderr.flush()
    os._exit(1)


@contextlib.asynccontextmanager
async def _console(exchange: Exchange) -> AsyncIterator[str | None]:
    """The web console beside the router (unless console_port is 0), with a connection pool of its own."""
    if not exchange.settings.console_port:
        yield None
        return
    from axis.console import open_console, router_probe

    async with open_console(exchange.settings, probes={"router": router_probe(exchange.router)}) as console:
        yield console.url


@contextlib.asynccontextmanager
async def _stats(settings: Settings, log_level: str, log_format: LogFormat) -> AsyncIterator[str | None]:
    """The stats app as a child process (`axis stats`; axis/children.py says why), unless stats_port is 0."""
    if not settings.stats_port:
        yield None
        return
    from axis.children import AxisChild

    args = ["stats", "--port", str(settings.stats_port), "--data-dir", str(settings.data_dir),
            "--log-level", log_level, "--log-format", log_format]
    async with AxisChild("the stats app (axis stats)", args, settings.stats_port) as stats:
        yield stats.url


@contextlib.asynccontextmanager
async def _replicas(settings: Settings, count: int, log_level: str, log_format: LogFormat) -> AsyncIterator[list[str]]:
    """`count` more routers (`axis router`) as children, sharing the exchange with the first; their URLs."""
    from axis.children import AxisChild
    from axis.embedded import free_port

    async with contextlib.AsyncExitStack() as stack:
        urls = []
        for n in range(count):
            port = free_port()
            child = AxisChild(f"router replica {n + 2}", ["router", "--log-level", log_level, "--log-format",
                                                          log_format],
                              port, env={"AXIS_DATA_DIR": str(settings.data_dir), "AXIS_METRICS_PORT": str(port)})
            await stack.enter_async_context(child)
            urls.append(child.url)
        yield urls


async def _serve(settings: Settings, log_level: str = "info", log_format: LogFormat = "text", routers: int = 1) -> None:
    from axis.embedded_exchange import open_exchange

    async with open_exchange(settings) as exchange, _console(exchange) as console_url, \
            _stats(exchange.settings, log_level, log_format) as stats_url, \
            _replicas(exchange.settings, routers - 1, log_level, log_format) as replicas:
        s = exchange.settings
        where = "embedded" if exchange.services is not None else "configured"
        click.echo(f"axis exchange up ({where}) in {s.data_dir}")
        click.echo(f"  kafka bootstrap: {s.kafka_bootstrap}")
        click.echo(f"  ledger:          {s.database_url}")
        click.echo(f"  dev PKI:         {s.pki_dir} (trust anchor {exchange.pki.ca_path})")
        if s.metrics_port:
            click.echo(f"  metrics:         http://127.0.0.1:{s.metrics_port}/metrics")
        if console_url:
            click.echo(f"  console:         {console_url}/ (accounts: axis console user add NAME --role operator)")
        if stats_url:
            click.echo(f"  stats:           {stats_url}/stats/overview (metrics {stats_url}/metrics)")
        for url in replicas:
            click.echo(f"  router replica:  {url}/health (metrics {url}/metrics)")
        click.echo(f"  router:          {routers} running; Ctrl-C or SIGTERM stops everything")
        await until_signal()
        click.echo("stopping...")
        watchdog = threading.Timer(
            STOP_DEADLINE_S, _force_stop, (_children(exchange.services), asyncio.get_running_loop())
        )
        watchdog.daemon = True
        watchdog.start()
    watchdog.cancel()
    click.echo("stopped")


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Data folder (default .axis).")
@click.option("--console-port", type=click.IntRange(0, 65535), default=None,
              help="Web console port on 127.0.0.1 (default console_port, 9401; 0 turns it off).")
@click.option("--routers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Routers sharing the exchange (the others run as child processes, each on its own core).")
@log_options
def up(data_dir: Path | None, console_port: int | None, routers: int, log_level: str, log_format: LogFormat) -> None:
    """Start the exchange: embedded broker and PostgreSQL (unless configured), migrations, dev PKI, router, console."""
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    if console_port is not None:
        overrides["console_port"] = console_port
    configure_logging(log_level, log_format)
    asyncio.run(_serve(load_settings(**overrides), log_level, log_format, routers))


@click.command()
@click.option("--agencies", default=5, show_default=True, type=click.IntRange(2, 50), help="Agencies taking part.")
@click.option("--documents", default=20, show_default=True, type=click.IntRange(1, 100000), help="Documents to send.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where the demo exchange lives (default <data dir>/demo; wiped at start).")
@click.option("--timeout", "timeout_s", default=180.0, show_default=True, help="Seconds to wait for deliveries and receipts.")
def demo(agencies: int, documents: int, as_json: bool, data_dir: Path | None, timeout_s: float) -> None:
    """Run a demo exchange between agencies and report deliveries, receipts and latency; exit 0 only if nothing was lost."""
    from axis.demo import render, run_demo

    settings = load_settings()
    settings = settings.replace(
        data_dir=data_dir or settings.data_dir / "demo", kafka_bootstrap=None, database_url=None, metrics_port=0
    )
    if not as_json:
        click.echo(f"Starting a demo exchange of {agencies} agencies in {settings.data_dir} ...")
    report = asyncio.run(run_demo(settings, agencies=agencies, documents=documents, timeout_s=timeout_s))
    click.echo(json.dumps(report.as_json(), ensure_ascii=False) if as_json else render(report))
    sys.exit(0 if report.ok else 1)
