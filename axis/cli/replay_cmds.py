"""`axis replay record|play|synth|outcome|diff`: developers test against traffic that really happened.

Each command reads the settings once (`load_settings()`, resolved against a running `axis up` where it
needs the exchange), shows a progress bar on a terminal and prints a summary line at the end either way.
Errors are one line naming what is wrong and where; `diff` exits 1 when the outcomes differ, 2 on an error.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from axis import wire
from axis.bootstrap import open_ledger
from axis.errors import AxisError
from axis.replay import (
    Bound,
    Outcome,
    OutcomeInvalid,
    PlayReport,
    TerminalProgress,
    diff_outcomes,
    parse_speed,
    play,
    read_outcome,
    record_topics,
    synthesise,
    wait_settled,
)
from axis.settings import Settings, load_settings
from axis.transport import kafka_security

T = TypeVar("T")


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(work())
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc


def _settings(*, need_database: bool) -> Settings:
    try:
        return load_settings().resolved(need_database=need_database)
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def replay() -> None:
    """Record, play, synthesise and compare exchange traffic (docs/REPLAY.md)."""


@replay.command()
@click.option(
    "--topic",
    "topics",
    multiple=True,
    required=True,
    help=f"topic to record ({wire.OUTBOUND}, {wire.INBOX_PREFIX}<organ-id>, {wire.EVENTS}, ...); repeatable",
)
@click.option("--from", "start", default=None, help="first offset (in every partition) or time, e.g. 2026-12-01T08:00")
@click.option("--to", "end", default=None, help="offset or time to stop before (exclusive)")
@click.option("--follow", is_flag=True, help="keep recording new records until Ctrl-C (or --to's time)")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the recording to write (conventionally *.jsonl.gz)",
)
def record(topics: tuple[str, ...], start: str | None, end: str | None, follow: bool, output: Path) -> None:
    """Write every record of the topics (topic, partition, offset, timestamp, key, headers, value) to a file."""
    settings = _settings(need_database=False)
    assert settings.kafka_bootstrap is not None  # resolved
    bootstrap = settings.kafka_bootstrap

    async def work() -> tuple[int, float]:
        stop = asyncio.Event()
        if follow:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            click.echo(f"recording {', '.join(topics)} from {bootstrap}; Ctrl-C ends the file", err=True)
        began = time.monotonic()
        with TerminalProgress("recording") as progress:
            header = await record_topics(
                bootstrap,
                topics,
                output,
                start=_bound(start, settings),
                end=_bound(end, settings),
                follow=follow,
                stop=stop,
                progress=progress,
                security=kafka_security(settings),
            )
        return header.count, time.monotonic() - began

    count, seconds = _run(work)
    click.echo(f"recorded {count} records of {', '.join(topics)} to {output} in {seconds:.1f} s")


def _bound(text: str | None, settings: Settings) -> Bound:
    return Bound() if text is None else Bound.parse(text, settings.tz)


@replay.command("play")
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--topic", "topics", multiple=True, help="play only the records of this topic; repeatable")
@click.option("--speed", default="1", show_default=True, help="1 (the recorded pace), 10 (ten times faster) or max")
@click.option("--shift-time", is_flag=True, help="move timestamps (and sent-at) so the first record is now")
@click.option(
    "--resign",
    is_flag=True,
    help="sign each package again as its sender with this exchange's dev PKI; register missing agencies",
)
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=None,
    help="then wait up to this many seconds until the router has handled everything",
)
def play_command(
    recording: Path, topics: tuple[str, ...], speed: str, shift_time: bool, resign: bool, wait_s: float | None
) -> None:
    """Publish a recording into the running exchange (`axis up`, or the configured one)."""
    pace = _checked(lambda: parse_speed(speed))
    settings = _settings(need_database=resign or wait_s is not None)

    async def work() -> PlayReport:
        with TerminalProgress("playing") as progress:
            report = await play(
                settings,
                recording,
                topics=topics,
                speed=pace,
                shift_time=shift_time,
                resign=resign,
                progress=progress,
                on_warning=lambda line: click.echo(line, err=True),
            )
        if wait_s is not None:
            async with open_ledger(settings) as ledger:
                await wait_settled(ledger, report.message_ids, timeout_s=wait_s)
        return report

    report = _run(work)
    topics_text = ", ".join(f"{t} {n}" for t, n in sorted(report.by_topic.items()))
    click.echo(
        f"played {report.records} records ({topics_text}) into {settings.kafka_bootstrap} in "
        f"{report.seconds:.1f} s: {report.records_per_s:.0f} records/s"
        + ("; packages signed again for this exchange" if report.resigned else "")
        + ("; the router has handled them" if wait_s is not None else "")
    )


def _checked(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except AxisError as exc:
        raise click.BadParameter(str(exc)) from exc


@replay.command()
@click.option("--agencies", type=click.IntRange(2, 600), required=True, help="how many agencies exchange")
@click.option("--documents", type=click.IntRange(1), required=True, help="how many documents they send")
@click.option("--seed", type=int, required=True, help="the same seed gives the same bytes")
@click.option(
    "--sizes",
    default="national",
    show_default=True,
    help="national, small, or a spec like '10KB-500KB:90,2MB-20MB:10;attachments=1:70,2-3:30'",
)
@click.option(
    "--start",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2026-03-02",
    show_default=True,
    help="first day of the traffic",
)
@click.option("--days", type=click.IntRange(1), default=1, show_default=True, help="working days it spans")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def synth(agencies: int, documents: int, seed: int, sizes: str, start: datetime, days: int, output: Path) -> None:
    """Write a national-style synthetic recording of edx.outbound (ministries, provinces, districts, communes)."""
    began = time.monotonic()
    try:
        with TerminalProgress("synthesising", unit="documents") as progress:
            header = synthesise(
                output,
                agencies=agencies,
                documents=documents,
                seed=seed,
                sizes=sizes,
                start=start.date(),
                days=days,
                progress=progress,
            )
    except AxisError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote {header.count} records ({documents} documents among {agencies} agencies) to {output}: "
        f"{output.stat().st_size / 1e6:.1f} MB in {time.monotonic() - began:.1f} s"
    )


@replay.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write here instead of standard output",
)
def outcome(output: Path | None) -> None:
    """Write the ledger's outcome as stable JSON: per document and recipient, state, statuses, refusals."""
    settings = _settings(need_database=True)

    async def work() -> Outcome:
        async with open_ledger(settings) as ledger:
            return await read_outcome(ledger)

    result = _run(work)
    if output is None:
        click.echo(result.to_json(), nl=False)
        return
    output.write_text(result.to_json(), encoding="utf-8")
    totals = result.totals
    click.echo(
        f"wrote the outcome of {totals['documents']} documents, {totals['recipients']} recipients, "
        f"{totals['refused']} refused packages to {output}",
        err=True,
    )


@replay.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
def diff(a: Path, b: Path) -> None:
    """Print what differs between two outcomes; exit 1 if anything does (2 if one cannot be read)."""
    try:
        left, right = Outcome.read(a), Outcome.read(b)
    except OutcomeInvalid as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    lines = diff_outcomes(left, right, names=(str(a), str(b)))
    for line in lines:
        click.echo(line)
    if lines:
        click.echo(f"{len(lines)} difference(s)", err=True)
        sys.exit(1)
    click.echo(
        f"the outcomes are equal ({left.totals['documents']} documents, {left.totals['recipients']} recipients)",
        err=True,
    )
