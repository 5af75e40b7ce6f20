"""Producer and consumer factories tuned for both Tansu and Kafka, and the batch `Publisher`.

The options here are where several broker faults are guarded: no idempotent producer (Tansu lacks
`InitProducerId`), `auto_offset_reset="earliest"` (Tansu's ListOffsets "latest" is wrong), and request and
fetch sizes raised for 50 MiB packages (aiokafka's 1 MiB default, not the broker, is the limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import errors as kerr
from aiokafka.admin import AIOKafkaAdminClient

from axis.errors import TransportError
from axis.lifecycle import AsyncService

from ._errors import map_kafka_errors
from ._security import PLAINTEXT, KafkaSecurity, map_connect_errors

_log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_REQUEST_BYTES = 64 * MiB  # above the 50 MiB package limit plus headers and batch overhead


def make_producer(bootstrap: str, *, security: KafkaSecurity = PLAINTEXT, **kw: Any) -> AIOKafkaProducer:
    """A producer for both Tansu and Kafka: acks from all replicas, no idempotence (Tansu lacks it)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        **security.client_options(),
        "acks": "all",
        "enable_idempotence": False,
        "max_request_size": MAX_REQUEST_BYTES,
        "max_batch_size": 256 * 1024,  # Tansu: 51k msg/s at 256 KB batches versus 14k at the default 16 KB
        # No linger: aiokafka keeps one request in flight per broker and sends what queued up meanwhile in
        # the next one, so a quiet producer sends each record at once and a busy one sends batches anyway.
        "linger_ms": 0,
        "compression_type": "lz4",
        "request_timeout_ms": 30_000,
    }
    options.update(kw)
    return AIOKafkaProducer(**options)


def make_consumer(
    bootstrap: str, *topics: str, group_id: str | None, security: KafkaSecurity = PLAINTEXT, **kw: Any
) -> AIOKafkaConsumer:
    """A consumer that reads from the beginning, commits only when told, and fetches 50 MiB records."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        **security.client_options(),
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "fetch_max_bytes": MAX_REQUEST_BYTES,
        "max_partition_fetch_bytes": MAX_REQUEST_BYTES,
        # Tansu answers a fetch only when fetch_max_wait_ms expires, even with data waiting: the default
        # 500 ms would add half a second per hop to a quiet exchange. Measured (bench/exchange_bench.py,
        # 2 cores, 5 consumers): 50 ms -> quiet p50 ~56 ms, idle CPU 8.5 % Python + 8 % broker; 20 ms ->
        # ~35 ms, 11 % + 13 %; 10 ms -> no faster, 15 % + 19 %. Real Kafka answers as soon as data is there.
        "fetch_max_wait_ms": 20,
    }
    options.update(kw)
    return AIOKafkaConsumer(*topics, **options)


def make_admin(bootstrap: str, *, security: KafkaSecurity = PLAINTEXT, **kw: Any) -> AIOKafkaAdminClient:
    """An admin client (topics) with the process's security options; 10 s requests unless told otherwise."""
    options: dict[str, Any] = {"bootstrap_servers": bootstrap, "request_timeout_ms": 10_000, **security.client_options()}
    options.update(kw)
    return AIOKafkaAdminClient(**options)


async def start_consumer(consumer: AIOKafkaConsumer) -> AIOKafkaConsumer:
    """Start a consumer; one that fails halfway is stopped again, so it leaves no connection or task."""
    try:
        await consumer.start()
    except BaseException:
        await stop_consumer(consumer)
        raise
    return consumer


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop an aiokafka consumer, working around a CancelledError that aiokafka 0.14 lets escape.

    `Fetcher.close()` cancels its pending fetch tasks and awaits them without suppressing the
    cancellation (seen when the broker died during a fetch), so `stop()` raised CancelledError in a task
    nobody cancelled and skipped closing the client's connections.
    """
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        with contextlib.suppress(kerr.KafkaError, OSError):
            await consumer._client.close()
    except (kerr.KafkaError, OSError) as exc:
        _log.info("consumer stop: %s", exc)


async def rewind(consumer: AIOKafkaConsumer) -> None:
    """Seek every assigned partition to its beginning (after a broker epoch change)."""
    partitions = consumer.assignment()
    if partitions:
        with map_kafka_errors("rewind"):
            await consumer.seek_to_beginning(*partitions)


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to publish."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)
    partition: int | None = None


class Publisher(AsyncService):
    """Publishes batches and waits for every broker ack; a failed batch raises so rows stay unconfirmed."""

    def __init__(self, bootstrap: str, *, security: KafkaSecurity = PLAINTEXT, **producer_kw: Any) -> None:
        self._bootstrap = bootstrap
        self._security = security
        self._producer_kw = producer_kw
        self._producer: AIOKafkaProducer | None = None
        self._closed = False

    async def start(self) -> None:
        if self._closed:
            raise TransportError("publisher is closed; create a new one")
        if self._producer is not None:
            return
        producer = make_producer(self._bootstrap, security=self._security, **self._producer_kw)
        async with map_connect_errors(f"connect producer to {self._bootstrap}", self._bootstrap, self._security):
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer, self._closed = self._producer, None, True
        if producer is not None:
            with contextlib.suppress(kerr.KafkaError):
                await producer.stop()

    async def publish(self, record: OutRecord) -> None:
        await self.publish_many([record])

    async def publish_many(self, records: Sequence[OutRecord]) -> None:
        """Send all records and return once the broker acknowledged every one; else raise TransportError."""
        if self._producer is None:
            raise TransportError("publisher is not started")
        producer = self._producer
        futures: list[asyncio.Future[Any]] = []
        try:
            with map_kafka_errors(f"publish {len(records)} record(s)"):
                for r in records:
                    futures.append(
                        await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers), partition=r.partition)
                    )
        finally:
            # Wait for what was queued, even when a later send failed, so no future is left unobserved.
            results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                with map_kafka_errors(f"publish {len(records)} record(s)"):
                    raise result
