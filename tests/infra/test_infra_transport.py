"""The Kafka adapter against a real embedded broker: topics, publish/consume, large records, epochs."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from axis import wire
from axis.errors import TopicMismatch, TransportError
from axis.settings import Settings
from axis.transport import (
    Consumer,
    EpochWatch,
    OutRecord,
    Publisher,
    current_epoch,
    ensure_topics,
    exchange_topics,
    make_consumer,
    rewind,
)
from tests.conftest import BrokerFactory


def _name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


async def _partitions(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 10.0) -> list[object]:
    consumer = make_consumer(bootstrap, topic, group_id=None)
    await consumer.start()
    records: list[object] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(records) < expected:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


def test_exchange_topics_lists_every_topic_with_its_partitions() -> None:
    topics = exchange_topics(Settings(outbound_partitions=8, inbox_partitions=2), ["000.00.00.G01", "000.00.00.H02"])
    assert topics == {
        wire.OUTBOUND: 8,
        wire.EVENTS: 8,
        wire.DEAD_LETTER: 1,
        wire.DIRECTORY: 1,
        wire.EPOCH: 1,
        "edx.inbox.000.00.00.G01": 2,
        "edx.inbox.000.00.00.H02": 2,
    }
    assert exchange_topics((3, 1))[wire.OUTBOUND] == 3


async def test_ensure_topics_creates_with_partitions_and_is_idempotent(kafka_bootstrap: str) -> None:
    a, b = _name("infra.a"), _name("infra.b")
    await ensure_topics(kafka_bootstrap, {a: 3, b: 1})
    await ensure_topics(kafka_bootstrap, {a: 3, b: 1})
    found = await _partitions(kafka_bootstrap)
    assert (found[a], found[b]) == (3, 1)


async def test_ensure_topics_refuses_a_partition_mismatch(kafka_bootstrap: str) -> None:
    topic = _name("infra.mismatch")
    await ensure_topics(kafka_bootstrap, {topic: 2})
    with pytest.raises(TopicMismatch, match=f"{topic} has 2 partitions, needs 5"):
        await ensure_topics(kafka_bootstrap, {topic: 5})


async def test_ensure_topics_can_recreate_a_mismatched_topic_after_an_epoch_change(kafka_bootstrap: str) -> None:
    topic = _name("infra.recreate")
    await ensure_topics(kafka_bootstrap, {topic: 4})
    await ensure_topics(kafka_bootstrap, {topic: 1}, recreate_mismatched=True)
    assert (await _partitions(kafka_bootstrap))[topic] == 1


async def test_a_record_and_its_headers_round_trip(kafka_bootstrap: str) -> None:
    topic = _name("infra.roundtrip")
    await ensure_topics(kafka_bootstrap, {topic: 2})
    body = "<edXML>Công văn</edXML>".encode()
    headers = wire.RecordHeaders(wire.new_message_id(), "edoc", "000.00.00.G01", wire.sha256_hex(body), wire.now_ms())
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish_many([OutRecord(topic, b"doc-1", body, headers.encode())])
    [record] = await _read_all(kafka_bootstrap, topic, 1)
    assert record.key == b"doc-1" and record.value == body  # type: ignore[attr-defined]
    assert wire.RecordHeaders.decode(record.headers) == headers  # type: ignore[attr-defined]


async def test_a_batch_is_acknowledged_as_a_whole(kafka_bootstrap: str) -> None:
    topic = _name("infra.batch")
    await ensure_topics(kafka_bootstrap, {topic: 4})
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish_many([OutRecord(topic, str(i).encode(), b"x" * 100) for i in range(500)])
    assert len(await _read_all(kafka_bootstrap, topic, 500)) == 500


@pytest.mark.slow
async def test_a_50_mib_package_travels(kafka_bootstrap: str) -> None:
    topic = _name("infra.large")
    await ensure_topics(kafka_bootstrap, {topic: 1})
    body = os.urandom(50 * 1024 * 1024)  # incompressible: the fetch and request limits really apply
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish(OutRecord(topic, b"big", body))
    [record] = await _read_all(kafka_bootstrap, topic, 1, timeout_s=30)
    assert record.value == body  # type: ignore[attr-defined]


async def test_a_closed_or_unstarted_publisher_raises_transport_error(kafka_bootstrap: str) -> None:
    publisher = Publisher(kafka_bootstrap)
    with pytest.raises(TransportError, match="not started"):
        await publisher.publish(OutRecord("t", None, b""))
    await publisher.start()
    await publisher.stop()
    await publisher.stop()
    with pytest.raises(TransportError, match="closed"):
        await publisher.start()


async def test_consumer_commits_and_skips_commits_of_an_older_epoch(kafka_bootstrap: str) -> None:
    topic = _name("infra.commit")
    await ensure_topics(kafka_bootstrap, {topic: 1})
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish_many([OutRecord(topic, None, b"%d" % i) for i in range(3)])
    fast_join = dict(session_timeout_ms=2000, heartbeat_interval_ms=500)  # Tansu joins after session/2
    async with Consumer(kafka_bootstrap, [topic], group_id=_name("g"), epoch="e1", **fast_join) as consumer:
        assert consumer.group_id is not None and consumer.group_id.endswith(".e1")
        batch = await anext(consumer.batches(timeout_s=0.5))
        assert [r.value for r in batch.records] == [b"0", b"1", b"2"]
        assert await consumer.commit(batch)
        tp = TopicPartition(topic, 0)
        assert await consumer.consumer.committed(tp) == 3
        assert consumer.highwater(tp) == 3
        await consumer.on_new_epoch("e2")
        assert consumer.group_id.endswith(".e2") and consumer.generation == 1
        assert not await consumer.commit(batch)  # old generation: must not position the new group
        again = await anext(consumer.batches(timeout_s=0.5))
        assert [r.value for r in again.records] == [b"0", b"1", b"2"]  # the new epoch reads from the start


async def test_rewind_seeks_assigned_partitions_to_the_beginning(kafka_bootstrap: str) -> None:
    topic = _name("infra.rewind")
    await ensure_topics(kafka_bootstrap, {topic: 1})
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish_many([OutRecord(topic, None, b"a"), OutRecord(topic, None, b"b")])
    consumer = make_consumer(kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        while len((await consumer.getmany(tp, timeout_ms=500)).get(tp, [])) == 0:
            pass
        assert await consumer.position(tp) == 2
        await rewind(consumer)
        assert await consumer.position(tp) == 0
    finally:
        await consumer.stop()


async def test_current_epoch_is_stable_while_the_broker_runs(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    first = await current_epoch(broker.bootstrap)
    assert await current_epoch(broker.bootstrap) == first
    assert (await _partitions(broker.bootstrap))[wire.EPOCH] == 1


@pytest.mark.chaos
async def test_epoch_watch_recreates_topics_and_calls_back_after_a_broker_restart(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    inboxes = ["000.00.00.G01"]
    topics = lambda: exchange_topics((8, 1), inboxes)  # noqa: E731 - the watch calls it on each change
    fired: list[str] = []
    done = asyncio.Event()

    async def on_new_epoch(epoch: str) -> None:
        fired.append(epoch)
        done.set()

    async with EpochWatch(broker.bootstrap, topics, interval_s=0.2) as watch:
        watch.on_new_epoch(on_new_epoch)
        first = watch.epoch
        assert first is not None and watch.healthy
        assert not await watch.check()
        inboxes.append("000.00.00.H02")  # an agency joins: its inbox exists after the next epoch
        await broker.restart()
        async with asyncio.timeout(15):
            await done.wait()
        assert fired == [watch.epoch] and watch.epoch != first and watch.epochs_seen == 1
        found = await _partitions(broker.bootstrap)
        assert {t: found.get(t) for t in topics()} == topics()
        assert watch.healthy


@pytest.mark.chaos
async def test_epoch_watch_replaces_a_topic_auto_created_in_the_gap(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    topics = lambda: exchange_topics((8, 1), [])  # noqa: E731
    async with EpochWatch(broker.bootstrap, topics, interval_s=60) as watch:
        first = watch.epoch
        await broker.restart()
        # A client asking for metadata of a missing topic makes Tansu auto-create it with 4 partitions.
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        await admin.describe_topics([wire.OUTBOUND, wire.EPOCH])
        await admin.close()
        assert (await _partitions(broker.bootstrap))[wire.OUTBOUND] == 4
        assert await watch.check()
        assert watch.epoch != first
        found = await _partitions(broker.bootstrap)
        assert (found[wire.OUTBOUND], found[wire.EPOCH]) == (8, 1)


@pytest.mark.chaos
async def test_a_failing_callback_is_retried_on_the_next_check(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    calls: list[str] = []

    async def flaky(epoch: str) -> None:
        calls.append(epoch)
        if len(calls) == 1:
            raise RuntimeError("database briefly down")

    async with EpochWatch(broker.bootstrap, lambda: {}, interval_s=60) as watch:
        watch.on_new_epoch(flaky)
        await broker.restart()
        with pytest.raises(RuntimeError):
            await watch.check()
        assert not watch.healthy
        assert not await watch.check()  # same epoch, but the owed callback runs again
        assert calls == [watch.epoch, watch.epoch]


@pytest.mark.chaos
async def test_a_consumer_rebuild_that_fails_while_the_broker_is_down_is_retried(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    topic = _name("infra.rebuild")
    await ensure_topics(broker.bootstrap, {topic: 1})
    async with Consumer(broker.bootstrap, [topic], group_id=None, epoch="e1", request_timeout_ms=2000) as consumer:
        await broker.kill()
        with pytest.raises(TransportError):
            await consumer.on_new_epoch("e2")
        assert consumer.generation == 1
        await broker.start()
        await ensure_topics(broker.bootstrap, {topic: 1})
        async with Publisher(broker.bootstrap) as publisher:
            await publisher.publish(OutRecord(topic, None, b"after"))
        batch = await anext(consumer.batches(timeout_s=0.5))  # reopens the consumer by itself
        assert [r.value for r in batch.records] == [b"after"] and batch.generation == 1
