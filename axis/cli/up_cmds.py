"""`axis up` (the exchange on this machine) and `axis demo` (the main job)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import click

from axis.settings import Settings, load_settings


async def _until_signal() -> None:
    """Wait for SIGINT or SIGTERM; both stop the exchange the same way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _serve(settings: Settings) -> None:
    from axis.embedded_exchange import open_exchange

    async with open_exchange(settings) as exchange:
        s = exchange.settings
        where = "embedded" if exchange.services is not None else "configured"
        click.echo(f"axis exchange up ({where}) in {s.data_dir}")
        click.echo(f"  kafka bootstrap: {s.kafka_bootstrap}")
        click.echo(f"  ledger:          {s.database_url}")
        click.echo(f"  dev PKI:         {s.pki_dir} (trust anchor {exchange.pki.ca_path})")
        if s.metrics_port:
            click.echo(f"  metrics:         http://127.0.0.1:{s.metrics_port}/metrics")
        click.echo("  router:          running; Ctrl-C or SIGTERM stops everything")
        await _until_signal()
        click.echo("stopping...")
    click.echo("stopped")


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Data folder (default .axis).")
def up(data_dir: Path | None) -> None:
    """Start the exchange: embedded broker and PostgreSQL (unless configured), migrations, dev PKI, router."""
    overrides = {"data_dir": data_dir} if data_dir else {}
    asyncio.run(_serve(load_settings(**overrides)))


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
