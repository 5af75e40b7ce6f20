"""`axis kafka acls --print|--apply`: the Kafka ACLs of a secured exchange, from the agency directory.

The directory comes from PostgreSQL (`AXIS_DATABASE_URL`, else a running `axis up`). `--print` writes the
`kafka-acls.sh` commands (or JSON with `--format json`) for the routers, the stats app and every active
agency, and the removals for disabled agencies; `--apply` sends the same to the cluster with the
configured Kafka security, as a principal allowed to change ACLs (a broker super user). Run it again
after `axis agency add` or `disable`: both are idempotent. The model is `axis.kafka_acls`.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Sequence
from itertools import groupby

import click

from axis.bootstrap import open_ledger
from axis.errors import AxisError
from axis.kafka_acls import AclPlan, acl_plan, nested_organ_ids
from axis.settings import Settings, load_settings
from axis.transport import AclBinding, apply_acls, kafka_security

__all__ = ["kafka"]


@click.group()
def kafka() -> None:
    """The exchange's Kafka cluster (secured deployments)."""


async def _plan(settings: Settings) -> AclPlan:
    async with open_ledger(settings) as ledger:
        agencies = await ledger.directory.list()
    for outer, inner in nested_organ_ids(a.organ_id for a in agencies):
        click.echo(f"warning: the consumer-group prefix of {outer} also matches the groups of {inner}", err=True)
    return acl_plan([a.organ_id for a in agencies if a.active], [a.organ_id for a in agencies if not a.active])


def _commands(bindings: Sequence[AclBinding], verb: list[str], bootstrap: str, command_config: str) -> list[str]:
    """One `kafka-acls.sh` command per principal and resource, with all its operations."""
    def resource(b: AclBinding) -> tuple[str, str, str, str]:
        return b.principal, b.resource_type, b.resource_name, b.pattern_type

    lines = []
    for (principal, kind, name, pattern), same in groupby(bindings, key=resource):
        words = ["kafka-acls.sh", "--bootstrap-server", bootstrap, "--command-config", command_config, *verb,
                 "--allow-principal", principal]
        for b in same:
            words += ["--operation", b.operation.title()]
        words += [f"--{kind.lower()}", name, "--resource-pattern-type", pattern.lower()]
        lines.append(shlex.join(words))
    return lines


@kafka.command("acls")
@click.option("--print", "action", flag_value="print", help="Print the ACLs (kafka-acls.sh commands or JSON).")
@click.option("--apply", "action", flag_value="apply", help="Add them to the cluster (and remove disabled ones).")
@click.option("--format", "output", type=click.Choice(["commands", "json"]), default="commands", show_default=True,
              help="What --print writes.")
@click.option("--command-config", default="admin.properties", show_default=True,
              help="The super user's client properties file named in the printed commands.")
def acls(action: str | None, output: str, command_config: str) -> None:
    """The ACLs that let each agency write only edx.outbound and read only its inbox and the directory."""
    if action is None:
        raise click.UsageError("say --print or --apply")

    async def work() -> str:
        settings = load_settings().resolved()
        bootstrap = str(settings.kafka_bootstrap)  # resolved: set
        if action == "apply":
            security = kafka_security(settings)  # before the database: a bad TLS file stops it at once
            plan = await _plan(settings)
            await apply_acls(bootstrap, add=plan.add, remove=plan.remove, security=security)
            return f"applied {len(plan.add)} ACLs and removed {len(plan.remove)} on {bootstrap}"
        plan = await _plan(settings)
        if output == "json":
            return json.dumps({"add": [b.as_dict() for b in plan.add], "remove": [b.as_dict() for b in plan.remove]},
                              ensure_ascii=False, indent=2)
        return "\n".join(_commands(plan.add, ["--add"], bootstrap, command_config)
                         + _commands(plan.remove, ["--remove", "--force"], bootstrap, command_config))

    try:
        click.echo(asyncio.run(work()))
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc
