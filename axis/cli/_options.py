"""Options and the wait for a stop signal, shared by the long-running commands."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

import click

from axis.logs import LOG_FORMATS, LOG_LEVELS

__all__ = ["log_options", "until_signal"]


def log_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--log-level` and `--log-format text|json` (JSON lines for log shippers)."""
    command = click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
                           help="text, or one JSON object per line for log shippers.")(command)
    return click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True,
                        help="At info an idle exchange writes nothing.")(command)


async def until_signal() -> None:
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
