"""Options shared by the long-running commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from axis.logs import LOG_FORMATS, LOG_LEVELS

__all__ = ["log_options"]


def log_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--log-level` and `--log-format text|json` (JSON lines for log shippers)."""
    command = click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
                           help="text, or one JSON object per line for log shippers.")(command)
    return click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True,
                        help="At info an idle exchange writes nothing.")(command)
