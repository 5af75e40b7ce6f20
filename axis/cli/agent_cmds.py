"""`axis agent --organ-id ORGAN [--port PORT] [--host 127.0.0.1]`: run one agency agent and its HTTP API.

The agent finds the running exchange through `<data_dir>/run.json` (or `AXIS_KAFKA_BOOTSTRAP`), signs with
`<pki_dir>/<organ>-key.pem`, and serves until SIGTERM/SIGINT (uvicorn's handlers; the app's lifespan stops
the agent cleanly). `axis agent sdk-client ...` manages the national SDK facade's clients when installed.
A broker that is not reachable yet does not stop it: the API accepts documents into the outbox, each failed
attempt to connect is logged, and the agent connects when the broker answers.
Exit codes: 0 after a clean stop (after SIGTERM/SIGINT uvicorn re-raises the signal once the agent stopped
cleanly, so the process ends by that signal, as a service manager expects), 1 when the agent cannot start
(missing key, no exchange configured), 2 usage.
"""

from __future__ import annotations

import click

from axis.errors import AxisError
from axis.logs import LogFormat, configure_logging

from ._options import log_options


@click.group("agent", invoke_without_command=True)
@click.option("--organ-id", help="The agency this agent serves, e.g. 000.00.00.G22.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the HTTP API listens on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="HTTP API port.")
@log_options
@click.pass_context
def agent(ctx: click.Context, organ_id: str | None, host: str, port: int, log_level: str, log_format: LogFormat) -> None:
    """Run an agency agent: outbox relay, inbox receiver, drop folder and HTTP API."""
    if ctx.invoked_subcommand is not None:
        return
    if not organ_id:
        raise click.UsageError("--organ-id is required to run an agent")
    import uvicorn

    from agents.api import create_app
    from agents.bootstrap import build_agent
    from axis.settings import load_settings
    from signing import SigningError

    configure_logging(log_level, log_format)
    try:
        settings = load_settings()
        the_agent = build_agent(settings, organ_id)
    except (AxisError, SigningError, OSError) as exc:
        raise click.ClickException(f"cannot start the agent for {organ_id}: {exc}") from exc
    app = create_app(the_agent)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                                           log_config=None))  # our handlers format uvicorn's lines too
    token_hint = "settings.agent_token (AXIS_AGENT_TOKEN)" if settings.agent_token else str(the_agent.token_path)
    click.echo(f"agent {organ_id}: http://{host}:{port}/ (OpenAPI: /openapi.json, SDK facade: /vdxp)")
    click.echo(f"agent {organ_id}: bearer token in {token_hint}; data in {the_agent.directory}")
    click.echo(f"agent {organ_id}: broker at {the_agent.bootstrap}; while it is not reachable the agent keeps "
               "running, accepts documents into its outbox and retries (GET /health says degraded until then)")
    server.run()
    if not server.started:
        raise click.ClickException(f"the agent for {organ_id} did not start (see the log above)")


def _add_sdk_client() -> None:
    try:
        from agents.vdxp.cli import sdk_client
    except ImportError:  # the SDK facade is optional
        return
    agent.add_command(sdk_client)


_add_sdk_client()
