"""`axis ledger verify|archive`, `axis evidence DOCUMENT_ID -o FILE.zip`, `axis evidence verify FILE.zip`.

Exit codes: 0 when everything holds (or the file was written), 1 when a proof does not hold (the first failure
is printed, and with `--json` the whole report), 2 for usage errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from axis.errors import AxisError

__all__ = ["evidence", "ledger"]


def _certificates(paths: tuple[Path, ...]) -> list[Any]:
    from cryptography import x509

    found = []
    for path in paths:
        try:
            found += x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{path}: not a PEM certificate file ({exc})") from exc
    return found


def _day(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def _run(work: Any) -> Any:
    try:
        return asyncio.run(work)
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def ledger() -> None:
    """The ledger's proofs: verify them, archive old bodies."""


@ledger.command("verify")
@click.option("--from", "since", default=None, help="Only batches and checkpoints from this date (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def ledger_verify(since: str | None, as_json: bool) -> None:
    """Recompute every event hash, batch root, checkpoint link, seal and time-stamp from PostgreSQL."""
    from axis.proof import verify_ledger

    from ._proof_context import opened

    async def work() -> Any:
        async with opened() as ctx:
            return await verify_ledger(ctx.ledger, trust=ctx.trust, exchange=ctx.exchange, tsa_trust=ctx.tsa_trust,
                                       since=_day(since))

    report = _run(work())
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    elif report.ok:
        click.echo(f"ledger verified: {report.events} events in {report.batches} batches, {report.checkpoints} "
                   f"checkpoints ({report.timestamped} time-stamped), {report.unsealed_batches} batches not sealed yet")
    else:
        failure = report.failure or {}
        where = ", ".join(f"{k} {v}" for k, v in failure.items() if k not in ("kind", "problem") and v is not None)
        click.echo(f"ledger NOT verified: {failure.get('kind')} at {where}: {failure.get('problem')}", err=True)
    sys.exit(0 if report.ok else 1)


@ledger.command("archive")
@click.option("--before", required=True, help="Archive documents accepted before this date (YYYY-MM-DD).")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the archive files (keep it: evidence of archived documents is built from it).")
@click.option("--limit", default=10_000, show_default=True, help="Documents per archive file.")
def ledger_archive(before: str, out_dir: Path, limit: int) -> None:
    """Move old package bodies into signed archive files; the hashes and proofs stay in PostgreSQL."""
    from axis.proof import archive_before

    from ._proof_context import opened

    async def work() -> list[Any]:
        reports = []
        async with opened() as ctx:
            while True:
                report = await archive_before(ctx.ledger, _day(before), out_dir, ctx.identity, limit=limit)  # type: ignore[arg-type]
                if report.file is None:
                    return reports
                reports.append(report)

    for report in _run(work()):
        click.echo(f"{report.file}: {report.documents} documents, {report.statuses} statuses, {report.bytes} bytes")


class _EvidenceGroup(click.Group):
    """`axis evidence DOCUMENT_ID ...` makes a bundle; `axis evidence verify FILE ...` checks one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_EvidenceGroup)
def evidence() -> None:
    """Evidence bundles: `axis evidence DOCUMENT_ID -o FILE.zip`, `axis evidence verify FILE.zip --trust CA.pem`."""


@evidence.command("make", hidden=True)
@click.argument("document_id")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sender", default=None, help="The sender's organ id, when several sent a document with this id.")
def evidence_make(document_id: str, out: Path, sender: str | None) -> None:
    """Write the evidence bundle of DOCUMENT_ID (sealing its events first if needed)."""
    from ._proof_context import opened

    async def work() -> bytes:
        async with opened() as ctx:
            return await ctx.desk.bundle(document_id, sender=sender)

    data = _run(work())
    out.write_bytes(data)
    click.echo(f"{out}: evidence of {document_id} ({len(data)} bytes); check it with "
               f"`axis evidence verify {out} --trust <exchange CA>`")


@evidence.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="The exchange CA certificate (PEM).")
@click.option("--tsa-trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="The time-stamping authority's CA certificate (PEM), when the checkpoints are time-stamped.")
@click.option("--exchange", default=None, help="The exchange's organ id (default: the configured one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def evidence_verify(bundle: Path, trust: tuple[Path, ...], tsa_trust: tuple[Path, ...], exchange: str | None,
                    as_json: bool) -> None:
    """Check a bundle offline: every signature, hash, proof, checkpoint seal and time-stamp."""
    from axis.proof import verify_bundle
    from axis.settings import load_settings

    report = verify_bundle(bundle.read_bytes(), trust=_certificates(trust), tsa_trust=_certificates(tsa_trust),
                           exchange=exchange or load_settings().exchange_organ_id)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    elif report.ok:
        click.echo(f"{bundle}: verified: evidence of {report.document_id}"
                   + (" (time-stamped)" if report.timestamped else ""))
    else:
        for part, problems in report.problems.items():
            for problem in problems:
                click.echo(f"{bundle}: {part}: {problem}", err=True)
    sys.exit(0 if report.ok else 1)
