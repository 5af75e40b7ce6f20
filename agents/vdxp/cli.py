"""`axis agent sdk-client add|list|remove`: register the document systems that call an agent's SDK facade.

An agency keeps its national system id and secret (`--secret`), so its SDK configuration changes only in
the endpoint URL; a new system gets a generated secret, printed once and never again (`list` shows none).
The file is read by the running agent on its next call, no restart needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._registry import RegistryError, SdkClientRegistry, registry_path

__all__ = ["sdk_client"]


def _registry(organ_id: str) -> SdkClientRegistry:
    from axis.settings import load_settings  # the entrypoint reads settings once; library code never does

    try:
        return SdkClientRegistry(registry_path(Path(load_settings().data_dir), organ_id))
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("sdk-client")
def sdk_client() -> None:
    """Document systems that connect with the national exchange's SDK (system id + secret)."""


@sdk_client.command("add")
@click.option("--organ-id", required=True, help="The agent (agency) the document system connects to.")
@click.option("--system-id", required=True, help="The SDK's systemId, e.g. its national one.")
@click.option("--secret", default=None, help="Keep an existing secret ('-' reads it from stdin); else one is generated.")
@click.option("--may-send-for", "may_send_for", multiple=True, help="Organ id it may send for (repeatable); default: --organ-id.")
@click.option("--operator", is_flag=True, help="May call registerAgency/deleteAgency on an operator's agent.")
@click.option("--freshness-window", type=click.IntRange(min=1), default=None,
              help="Refuse timestamps older than SECONDS (only for clients that refresh their timestamp).")
def add(organ_id: str, system_id: str, secret: str | None, may_send_for: tuple[str, ...], operator: bool,
        freshness_window: int | None) -> None:
    """Register a document system with an agent."""
    if secret == "-":
        secret = sys.stdin.readline().strip()
    allowed = may_send_for or (organ_id,)
    try:
        client, generated = _registry(organ_id).add(
            system_id, may_send_for=allowed, secret=secret, operator=operator, freshness_window_s=freshness_window
        )
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"registered SDK client {client.system_id} with agent {organ_id} "
               f"(may send for {', '.join(client.may_send_for)})")
    others = [o for o in client.may_send_for if o != organ_id]
    if others:
        click.echo(f"warning: agent {organ_id} signs only as {organ_id}; sends for {', '.join(others)} will be "
                   "refused until they go through those organs' own agents", err=True)
    if generated:
        click.echo(f"secret (shown only now; put it in the SDK's configuration): {client.secret}")


@sdk_client.command("list")
@click.option("--organ-id", required=True, help="The agent whose clients to list.")
def list_(organ_id: str) -> None:
    """List the registered document systems (never their secrets)."""
    try:
        clients = _registry(organ_id).list()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    if not clients:
        click.echo(f"no SDK clients registered with agent {organ_id}")
    for c in clients:
        flags = (" operator" if c.operator else "") + (
            f" freshness-window={c.freshness_window_s}s" if c.freshness_window_s else "")
        click.echo(f"{c.system_id}\tmay send for {','.join(c.may_send_for)}\tadded {c.created_at}{flags}")


@sdk_client.command("remove")
@click.option("--organ-id", required=True, help="The agent to remove the client from.")
@click.option("--system-id", required=True, help="The client's system id.")
def remove(organ_id: str, system_id: str) -> None:
    """Remove a document system; its next call is refused as an unknown system id."""
    try:
        removed = _registry(organ_id).remove(system_id)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    if not removed:
        raise click.ClickException(f"system id {system_id!r} is not registered with agent {organ_id}")
    click.echo(f"removed SDK client {system_id} from agent {organ_id}")
