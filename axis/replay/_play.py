"""Playing a recording into a running exchange: checked first, then published in file order at a pace.

Before the first record leaves: the whole file is read and checked (a truncated or altered recording plays
nothing), the broker must answer and every topic to play into must exist (never auto-created), and either
the packages are signed again for this exchange (`resign`) or the player says why the router will refuse
them. Then one producer publishes the records in file order, all into partition 0 of their topic: the
router then reads them in exactly that order (a recording is in time order across partitions), which keeps
each key's order and also the order between keys that depend on each other (a document, then the revoke
that names it under its own DocumentId, then the recipients' 15 about it: published to their keys'
partitions at full speed, the router would meet them in one fetch, partition by partition, and could
judge the 15 first). The router reads every partition alike, so nothing else notices. Pacing follows the
records' timestamps: `speed` 1 is the recorded pace, 10 ten times faster, None as fast as the broker takes
them. Timestamps are kept as recorded unless `shift_time` moves them (and the `sent-at` header) by one
offset so that the first record is now.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axis.bootstrap import build_ledger, build_verifier
from axis.errors import SettingsError
from axis.settings import Settings
from axis.transport import KafkaSecurity, kafka_security, make_producer, map_kafka_errors
from signing import DevPki

from ._broker import broker_topics, require_topics
from ._errors import ExchangeNotReady, ReplayError
from ._format import RecordedRecord, Recording, RecordingHeader
from ._progress import Progress, SilentProgress
from ._resign import Registration, Resigner, forecast_refusals, is_package, organs_named, prepare_resign

_CHUNK = 500  # records read, and re-signed in a worker thread, at a time
_IN_FLIGHT = 4000  # unacknowledged sends before the player waits for the broker


def parse_speed(text: str) -> float | None:
    """`max` is None (as fast as possible); otherwise a positive factor of the recorded pace."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise ReplayError(f"speed {text!r}: expected a positive number (1 is the recorded pace) or max")
    return speed


@dataclass
class PlayPlan:
    """What a recording holds for one play, gathered while its file is checked."""

    header: RecordingHeader
    topics: tuple[str, ...]
    by_topic: Counter[str] = field(default_factory=Counter)
    by_sender: Counter[str] = field(default_factory=Counter)
    samples: dict[str, RecordedRecord] = field(default_factory=dict)  # the first package of each sender
    names: dict[str, str] = field(default_factory=dict)  # organ id -> name, when organs were asked for
    message_ids: list[str] = field(default_factory=list)  # of the packages, in file order

    @property
    def count(self) -> int:
        return sum(self.by_topic.values())


def plan_play(path: Path, topics: Sequence[str] = (), *, with_organs: bool = False) -> tuple[Recording, PlayPlan]:
    """Read and check the whole recording once; `RecordingInvalid` if it is truncated or altered."""
    recording = Recording(path)
    chosen = tuple(topics) or recording.header.topics
    absent = sorted(set(chosen) - set(recording.header.topics))
    if absent:
        raise ReplayError(f"{path}: holds no topic {', '.join(absent)} (it holds {', '.join(recording.header.topics)})")
    plan = PlayPlan(recording.header, chosen)
    for record in recording.records():
        if record.topic not in chosen:
            continue
        plan.by_topic[record.topic] += 1
        if is_package(record):
            sender = record.header("sender") or ""
            plan.by_sender[sender] += 1
            plan.samples.setdefault(sender, record)
            plan.message_ids.append(record.header("message-id") or "")
            if with_organs:
                organs_named(record, plan.names)
    return recording, plan


@dataclass
class PlayReport:
    """What a play did."""

    records: int
    seconds: float
    by_topic: dict[str, int]
    resigned: bool
    registration: Registration | None
    warnings: list[str]
    message_ids: list[str]

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float(self.records)


async def play(
    settings: Settings,
    path: Path,
    *,
    topics: Sequence[str] = (),
    speed: float | None = None,
    shift_time: bool = False,
    resign: bool = False,
    algorithm: str = "rsa",
    progress: Progress | None = None,
    on_warning: Callable[[str], None] = lambda line: None,
) -> PlayReport:
    """Check `path`, prepare the target (resign, or forecast refusals: each line to `on_warning` before the
    first record is sent), then publish. `settings` must name the broker (and, to check or register the
    directory, the database): `load_settings().resolved()`."""
    progress = progress or SilentProgress()
    if not settings.kafka_bootstrap:
        raise ExchangeNotReady("no exchange to play into: start `axis up` or set AXIS_KAFKA_BOOTSTRAP")
    recording, plan = await asyncio.to_thread(plan_play, path, topics, with_organs=resign)
    security = kafka_security(settings)
    existing, _ = await broker_topics(settings.kafka_bootstrap, security=security)
    require_topics(plan.topics, existing, settings.kafka_bootstrap)
    resigner, registration, warnings = await _prepare(settings, plan, resign=resign, algorithm=algorithm)
    for line in warnings:
        on_warning(line)
    progress.set_total(plan.count)
    started = time.monotonic()
    sent = await _publish(
        settings.kafka_bootstrap,
        recording,
        plan,
        resigner=resigner,
        speed=speed,
        shift_time=shift_time,
        progress=progress,
        security=security,
    )
    return PlayReport(
        sent, time.monotonic() - started, dict(plan.by_topic), resign, registration, warnings, plan.message_ids
    )


async def _prepare(
    settings: Settings, plan: PlayPlan, *, resign: bool, algorithm: str
) -> tuple[Resigner | None, Registration | None, list[str]]:
    if settings.database_url is None:
        if resign:
            raise ExchangeNotReady(
                "--resign registers agencies in the exchange's directory, but no database is "
                "known: start `axis up` or set AXIS_DATABASE_URL"
            )
        unknown = "no database known (AXIS_DATABASE_URL): cannot say whether the router will accept these packages"
        return None, None, [unknown] if plan.samples else []
    try:
        async with build_ledger(settings) as ledger:
            if resign:
                resigner, registration = await prepare_resign(
                    ledger, DevPki(settings.pki_dir), plan.names, algorithm=algorithm
                )
                return resigner, registration, _registration_lines(registration)
            verifier = build_verifier(settings) if DevPki(settings.pki_dir).ca_path.exists() else None
            lines = await forecast_refusals(plan.samples, plan.by_sender, ledger, verifier)
    except SettingsError as exc:
        raise ExchangeNotReady(str(exc)) from exc
    if lines:
        lines.append(
            "the router will refuse these packages; --resign signs each one again as its sender with "
            "this exchange's development PKI and registers missing agencies"
        )
    return None, None, lines


def _registration_lines(done: Registration) -> list[str]:
    lines = []
    if done.registered:
        lines.append(f"registered {len(done.registered)} agencies in the directory: {', '.join(done.registered)}")
    if done.certified:
        lines.append(f"registered dev certificates for {', '.join(done.certified)}")
    if done.disabled:
        lines.append(f"disabled in the directory, so their packages will be refused: {', '.join(done.disabled)}")
    return lines


def _chunks(records: Iterator[RecordedRecord], topics: Sequence[str]) -> Iterator[list[RecordedRecord]]:
    chunk: list[RecordedRecord] = []
    for record in records:
        if record.topic in topics:
            chunk.append(record)
            if len(chunk) >= _CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _shifted(record: RecordedRecord, shift_ms: int) -> RecordedRecord:
    headers = tuple(
        (k, str(int(v) + shift_ms).encode() if k == "sent-at" and v.isdigit() else v) for k, v in record.headers
    )
    return dataclasses.replace(record, timestamp_ms=record.timestamp_ms + shift_ms, headers=headers)


async def _publish(
    bootstrap: str,
    recording: Recording,
    plan: PlayPlan,
    *,
    resigner: Resigner | None,
    speed: float | None,
    shift_time: bool,
    progress: Progress,
    security: KafkaSecurity,
) -> int:
    producer = make_producer(bootstrap, security=security)
    with map_kafka_errors(f"connect a producer to {bootstrap}"):
        await producer.start()
    in_flight: deque[asyncio.Future[Any]] = deque()
    first_ms = plan.header.first_timestamp_ms or 0
    shift_ms = int(time.time() * 1000) - first_ms if shift_time else 0
    clock_start = time.monotonic()
    sent = 0
    try:
        for chunk in _chunks(recording.records(), plan.topics):
            if resigner is not None:
                chunk = await asyncio.to_thread(lambda c=chunk: [resigner.resign(r) for r in c])  # type: ignore[misc]
            for record in chunk:
                if speed is not None:
                    due = clock_start + (record.timestamp_ms - first_ms) / 1000 / speed
                    if due > time.monotonic():
                        await asyncio.sleep(due - time.monotonic())
                if shift_ms:
                    record = _shifted(record, shift_ms)
                with map_kafka_errors(f"publish record {record.offset} of {record.topic}"):
                    in_flight.append(
                        await producer.send(
                            record.topic,
                            record.value,
                            key=record.key,
                            headers=list(record.headers),
                            timestamp_ms=record.timestamp_ms,
                            partition=0,
                        )
                    )
                sent += 1
                progress.advance()
                while len(in_flight) > _IN_FLIGHT:
                    with map_kafka_errors("publish"):
                        await in_flight.popleft()
        with map_kafka_errors("publish"):
            for future in in_flight:
                await future
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
    return sent
