"""`axis edxml ...`: validate, show and build EDXML packages."""

from __future__ import annotations

import click


@click.group()
def edxml() -> None:
    """Validate, inspect and build EDXML packages."""
