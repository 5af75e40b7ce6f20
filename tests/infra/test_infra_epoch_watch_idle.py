"""The epoch watch's idle check: one long-lived consumer, and no metadata request that names `edx.epoch`."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from axis import wire
from axis.errors import TransportError
from axis.transport import EpochWatch, exchange_topics
from tests.conftest import BrokerFactory


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())  # all topics: names none, so creates none
    finally:
        await admin.close()


async def test_idle_checks_reuse_one_consumer_and_stop_closes_it(kafka_bootstrap: str) -> None:
    watch = EpochWatch(kafka_bootstrap, lambda: exchange_topics((8, 1), []), interval_s=60)
    async with watch:
        reader = watch._reader
        consumer = reader._consumer
        assert consumer is not None
        for _ in range(3):
            assert not await watch.check()
        assert reader._consumer is consumer
        assert consumer.assignment() == set()  # tracks no topic between checks
    assert reader._consumer is None


@pytest.mark.chaos
async def test_the_idle_consumer_does_not_recreate_the_epoch_topic_after_a_restart(
    broker_factory: BrokerFactory,
) -> None:
    broker = await broker_factory()
    async with EpochWatch(broker.bootstrap, lambda: exchange_topics((8, 1), []), interval_s=60) as watch:
        first = watch.epoch
        await broker.restart()
        # aiokafka refreshes the metadata of the topics a client tracks when a connection breaks and every
        # metadata_max_age_ms; force such a refresh now that the broker is back. Had the consumer still
        # tracked edx.epoch, the refresh would name it and Tansu would auto-create it, empty.
        consumer = watch._reader._consumer
        assert consumer is not None
        await asyncio.wait_for(consumer._client.force_metadata_update(), timeout=10)
        assert wire.EPOCH not in await _topics(broker.bootstrap)
        assert await watch.check()
        assert watch.epoch != first


@pytest.mark.chaos
async def test_a_check_that_fails_while_the_broker_is_down_rebuilds_the_consumer_afterwards(
    broker_factory: BrokerFactory,
) -> None:
    broker = await broker_factory()
    async with EpochWatch(broker.bootstrap, dict, interval_s=60) as watch:
        first = watch.epoch
        await broker.kill()
        with pytest.raises(TransportError):
            await watch.check()
        assert watch._reader._consumer is None  # its state after the failure is unknown: dropped
        await broker.start()
        assert await watch.check()
        assert watch.epoch != first and watch._reader._consumer is not None
