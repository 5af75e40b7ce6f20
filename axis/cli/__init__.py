"""The `axis` command line: one group, each area's commands registered from its own module."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="axis-exchange")
def main() -> None:
    """Inter-agency document exchange: EDXML packages, agency PKI, router and agents."""


def _register() -> None:
    from . import edxml_cmds, pki_cmds

    main.add_command(edxml_cmds.edxml)
    main.add_command(pki_cmds.pki)
    main.add_command(pki_cmds.sign)
    main.add_command(pki_cmds.verify)


_register()
