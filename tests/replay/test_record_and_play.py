"""Recording and playing on a real broker: bounds, time order, pace, shifted time, and the clear errors."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from click.testing import CliRunner

from axis import wire
from axis.cli import main
from axis.embedded import EmbeddedBroker
from axis.replay import (
    Bound,
    RecordedRecord,
    Recording,
    RecordingInvalid,
    RecordingWriter,
    TopicNotFound,
    play,
    record_topics,
)
from axis.replay._broker import broker_topics
from axis.settings import Settings
from axis.transport import ensure_topics, make_consumer, make_producer

BrokerFactory = Callable[[], Awaitable[EmbeddedBroker]]
T0 = 1_780_000_000_000


async def _fill(bootstrap: str, topic: str, partitions: int, count: int) -> None:
    """`count` records spread over the partitions, timestamps one second apart, in an interleaved order."""
    await ensure_topics(bootstrap, {topic: partitions})
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for n in range(count):
            await (
                await producer.send(
                    topic,
                    f"v{n}".encode(),
                    key=f"k{n}".encode(),
                    partition=n % partitions,
                    timestamp_ms=T0 + n * 1000,
                    headers=[("n", str(n).encode())],
                )
            )
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, partitions: int) -> list[object]:
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        records: list[object] = []
        for _ in range(20):
            data = await consumer.getmany(timeout_ms=200)
            records += [r for tp in tps for r in data.get(tp, [])]
            ends = [consumer.highwater(tp) for tp in tps]
            if None not in ends and len(records) >= sum(ends):  # type: ignore[arg-type]
                break
        return records
    finally:
        await consumer.stop()


async def test_a_recording_holds_every_record_in_time_order_across_partitions(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    bootstrap = (await broker_factory()).bootstrap
    await _fill(bootstrap, "edx.outbound", 3, 30)
    header = await record_topics(bootstrap, ["edx.outbound"], tmp_path / "all.jsonl.gz")
    records = list(Recording.open(tmp_path / "all.jsonl.gz").records())
    assert header.count == 30 and [r.value for r in records] == [f"v{n}".encode() for n in range(30)]
    assert records[4] == RecordedRecord("edx.outbound", 1, 1, T0 + 4000, b"k4", b"v4", (("n", b"4"),))
    assert header.topics == ("edx.outbound",) and header.source["bootstrap"] == bootstrap


async def test_from_and_to_bound_the_recording_by_offset_or_by_record_time(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    bootstrap = (await broker_factory()).bootstrap
    await _fill(bootstrap, "edx.outbound", 2, 20)
    await record_topics(
        bootstrap, ["edx.outbound"], tmp_path / "o.jsonl.gz", start=Bound(offset=3), end=Bound(offset=5)
    )
    by_offset = [r.value for r in Recording.open(tmp_path / "o.jsonl.gz").records()]
    assert by_offset == [b"v6", b"v7", b"v8", b"v9"]  # offsets 3 and 4 of both partitions
    await record_topics(
        bootstrap,
        ["edx.outbound"],
        tmp_path / "t.jsonl.gz",
        start=Bound(time_ms=T0 + 5000),
        end=Bound(time_ms=T0 + 8000),
    )
    assert [r.value for r in Recording.open(tmp_path / "t.jsonl.gz").records()] == [b"v5", b"v6", b"v7"]
    await record_topics(bootstrap, ["edx.outbound"], tmp_path / "past.jsonl.gz", start=Bound(offset=99))
    assert Recording.open(tmp_path / "past.jsonl.gz").header.count == 0  # beyond the end: done, not waiting


async def test_recording_a_topic_that_does_not_exist_is_refused_and_creates_nothing(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    bootstrap = (await broker_factory()).bootstrap
    await ensure_topics(bootstrap, {wire.OUTBOUND: 2})
    missing = wire.inbox_topic("000.00.00.H99")
    with pytest.raises(TopicNotFound, match=f"{missing} do not exist on the broker at {bootstrap}.*edx.outbound"):
        await record_topics(bootstrap, [wire.OUTBOUND, missing], tmp_path / "r.jsonl.gz")
    assert missing not in (await broker_topics(bootstrap))[0]
    assert not (tmp_path / "r.jsonl.gz").exists() and not (tmp_path / "r.jsonl.gz.partial").exists()


async def test_play_keeps_the_recorded_pace_and_can_shift_time_to_now(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    bootstrap = (await broker_factory()).bootstrap
    await ensure_topics(bootstrap, {"edx.outbound": 4})
    path = tmp_path / "r.jsonl.gz"
    with RecordingWriter(path, source={}, topics=["edx.outbound"]) as writer:
        for n in range(5):
            writer.add(
                RecordedRecord(
                    "edx.outbound",
                    n % 4,
                    n,
                    T0 + n * 1000,
                    b"same-key" if n < 3 else None,
                    f"v{n}".encode(),
                    (("sent-at", str(T0 + n * 1000).encode()),),
                )
            )
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=bootstrap)
    began = time.monotonic()
    report = await play(settings, path, speed=4.0, shift_time=True)
    assert time.monotonic() - began >= 0.95  # four seconds recorded, four times faster
    played = await _read_all(bootstrap, "edx.outbound", 4)
    assert [r.value for r in played] == [f"v{n}".encode() for n in range(5)]  # type: ignore[attr-defined]
    now = time.time() * 1000
    for n, r in enumerate(played):
        assert abs(r.timestamp - now) < 60_000  # type: ignore[attr-defined]
        assert int(dict(r.headers)["sent-at"]) - r.timestamp == 0  # type: ignore[attr-defined]
        assert r.timestamp - played[0].timestamp == n * 1000  # type: ignore[attr-defined]
    assert report.records == 5 and report.by_topic == {"edx.outbound": 5}
    assert report.warnings == []  # no packages in it: nothing for the router to refuse


def test_playing_into_an_exchange_that_is_not_running_says_so(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    with RecordingWriter(path, source={}, topics=["edx.outbound"]) as writer:
        writer.add(RecordedRecord("edx.outbound", 0, 0, T0, b"k", b"v"))
    runner = CliRunner()
    result = runner.invoke(main, ["replay", "play", str(path)], env={"AXIS_DATA_DIR": str(tmp_path / "nothing")})
    assert result.exit_code == 1 and f"no exchange running in {tmp_path / 'nothing'}" in result.output
    result = runner.invoke(
        main, ["replay", "play", str(path)], env={"AXIS_DATA_DIR": str(tmp_path), "AXIS_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    )
    assert result.exit_code == 1 and "the broker at 127.0.0.1:1 does not answer" in result.output


def _truncated(path: Path) -> Path:
    with RecordingWriter(path, source={}, topics=["edx.outbound"]) as writer:
        for n in range(3000):
            writer.add(RecordedRecord("edx.outbound", 0, n, T0 + n, b"k", f"value {n} ".encode() * 20))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


async def test_a_corrupted_recording_plays_nothing(broker_factory: BrokerFactory, tmp_path: Path) -> None:
    bootstrap = (await broker_factory()).bootstrap
    await ensure_topics(bootstrap, {"edx.outbound": 1})
    path = _truncated(tmp_path / "r.jsonl.gz")
    with pytest.raises(RecordingInvalid, match=f"{path}: truncated"):
        await play(Settings(data_dir=tmp_path, kafka_bootstrap=bootstrap), path, speed=None)
    assert await _read_all(bootstrap, "edx.outbound", 1) == []


def test_the_command_names_the_corrupted_file_and_what_is_wrong_with_it(tmp_path: Path) -> None:
    path = _truncated(tmp_path / "r.jsonl.gz")
    result = CliRunner().invoke(
        main,
        ["replay", "play", str(path), "--speed", "max"],
        env={"AXIS_DATA_DIR": str(tmp_path), "AXIS_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
    )
    assert result.exit_code == 1
    assert f"Error: {path}: truncated: the compressed data ends early" in result.output


def test_a_speed_that_is_not_a_speed_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["replay", "play", str(tmp_path / "r.jsonl.gz"), "--speed", "fast"])
    assert result.exit_code == 2 and "expected a positive number (1 is the recorded pace) or max" in result.output
