"""aiokafka errors are translated at the adapter edge: callers only ever see TransportError subclasses."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import errors as kerr

from axis import errors
from axis.embedded import free_port
from axis.errors import AxisError, RecordRejected, TransportError, TransportUnavailable
from axis.transport import OutRecord, Publisher, ensure_topics, map_kafka_errors
from tests.conftest import BrokerFactory

# Every aiokafka error that the producer's start, send and delivery can raise (aiokafka/producer/*.py).
UNAVAILABLE = [
    kerr.KafkaConnectionError,
    kerr.KafkaTimeoutError,
    kerr.RequestTimedOutError,
    kerr.NodeNotReadyError,
    kerr.NoBrokersAvailable,
    kerr.NotLeaderForPartitionError,
    kerr.LeaderNotAvailableError,
    kerr.UnknownTopicOrPartitionError,
    kerr.NotEnoughReplicasError,
    kerr.NotEnoughReplicasAfterAppendError,
    kerr.KafkaStorageError,
    kerr.CorrelationIdError,
    kerr.StaleMetadata,
]
REJECTED = [
    kerr.MessageSizeTooLargeError,
    kerr.RecordTooLargeError,
    kerr.RecordListTooLargeError,
    kerr.InvalidTopicError,
    kerr.TopicAuthorizationFailedError,
    kerr.CorruptRecordException,
    kerr.UnsupportedCodecError,
]
OTHER = [
    kerr.ProducerClosed,
    kerr.IllegalStateError,
    kerr.UnsupportedVersionError,
    kerr.IncompatibleBrokerVersion,
    kerr.InvalidRequiredAcksError,
    kerr.ClusterAuthorizationFailedError,
    kerr.UnknownError,
    kerr.KafkaError,
]


def _raise_inside(exc: BaseException) -> BaseException:
    with pytest.raises(TransportError) as info:
        with map_kafka_errors("publish"):
            raise exc
    assert info.value.__cause__ is exc
    assert isinstance(info.value, AxisError)
    return info.value


@pytest.mark.parametrize("cls", UNAVAILABLE, ids=lambda c: c.__name__)
def test_errors_a_retry_can_fix_are_transport_unavailable(cls: type[Exception]) -> None:
    mapped = _raise_inside(cls("boom"))
    assert isinstance(mapped, TransportUnavailable) and mapped.retriable


@pytest.mark.parametrize("cls", REJECTED, ids=lambda c: c.__name__)
def test_errors_about_the_record_are_record_rejected(cls: type[Exception]) -> None:
    mapped = _raise_inside(cls("boom"))
    assert isinstance(mapped, RecordRejected) and not mapped.retriable


@pytest.mark.parametrize("cls", OTHER, ids=lambda c: c.__name__)
def test_other_kafka_errors_are_transport_errors_keeping_their_retriable_flag(cls: type[Exception]) -> None:
    mapped = _raise_inside(cls("boom"))
    assert mapped.retriable == bool(getattr(cls, "retriable", False))


def test_timeouts_and_socket_errors_are_unavailable() -> None:
    assert isinstance(_raise_inside(TimeoutError()), TransportUnavailable)
    assert isinstance(_raise_inside(ConnectionRefusedError()), TransportUnavailable)


def test_the_error_tree_is_documented() -> None:
    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), name
        assert getattr(errors, name).__doc__


async def test_starting_a_publisher_without_a_broker_is_unavailable() -> None:
    publisher = Publisher(f"127.0.0.1:{free_port()}", request_timeout_ms=1000)
    with pytest.raises(TransportUnavailable):
        await publisher.start()
    await publisher.stop()


async def test_a_record_over_the_request_limit_is_rejected(kafka_bootstrap: str) -> None:
    await ensure_topics(kafka_bootstrap, {"infra.errors.size": 1})
    async with Publisher(kafka_bootstrap, max_request_size=1024) as publisher:
        with pytest.raises(RecordRejected):
            await publisher.publish_many(
                [OutRecord("infra.errors.size", None, b"small"), OutRecord("infra.errors.size", None, b"x" * 4096)]
            )


async def test_publishing_while_the_broker_is_down_is_unavailable(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    await ensure_topics(broker.bootstrap, {"infra.errors.down": 1})
    async with Publisher(broker.bootstrap, request_timeout_ms=1000, retry_backoff_ms=50) as publisher:
        await publisher.publish(OutRecord("infra.errors.down", None, b"up"))
        await broker.kill()
        async with asyncio.timeout(20):
            with pytest.raises(TransportUnavailable):
                await publisher.publish(OutRecord("infra.errors.down", None, b"down"))
