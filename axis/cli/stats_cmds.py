"""`axis stats`: the live statistics app (faust-streaming over `edx.events`) with its HTTP surface.

Runs until SIGTERM or SIGINT, then stops its HTTP server, the faust app, the epoch watch and the ledger pool
(about a second). Exit codes: 0 after a clean stop, 1 when it cannot start (message on standard error).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import click

from axis.errors import AxisError
from axis.logs import LogFormat, configure_logging
from axis.settings import Settings, load_settings

from ._options import log_options, until_signal

# faust and mode log every service start, rebalance and producer back-pressure at INFO or WARNING.
_CHATTY = {"faust": logging.WARNING, "mode": logging.WARNING, "faust.transport.producer": logging.ERROR}


async def _serve(settings: Settings, port: int) -> None:
    from axis.stats import StatsService

    async with StatsService(settings, port=port) as service:
        click.echo(f"axis stats on {service.url} (metrics, health, /stats/agencies, /stats/overview); "
                   "Ctrl-C or SIGTERM stops it")
        await until_signal()


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="HTTP port on 127.0.0.1 (default: the stats_port setting, 9402).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Data folder (default .axis).")
@log_options
def stats(port: int | None, data_dir: Path | None, log_level: str, log_format: LogFormat) -> None:
    """Run the live statistics app: per-agency figures over minutes, hours and the day, from edx.events."""
    configure_logging(log_level, log_format)
    if log_level != "debug":
        for name, level in _CHATTY.items():
            logging.getLogger(name).setLevel(level)
    try:
        overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
        settings = load_settings(**overrides)
        port = port or settings.stats_port
        if not port:
            raise click.ClickException("stats_port is 0 (off): give --port")
        asyncio.run(_serve(settings.resolved(), port))
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc
