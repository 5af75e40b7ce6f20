"""A consumer that survives broker epochs: an epoch-qualified group id and a generation per rebuild.

Tansu keeps a consumer's old position after a restart and never answers OFFSET_OUT_OF_RANGE, so a
consumer of a recreated topic would silently skip every record below its old offset. `Consumer` is
rebuilt on each new epoch instead, under a group id no committed offset of the old epoch can reach.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from axis.errors import TransportError
from axis.lifecycle import AsyncService

from ._clients import make_consumer, start_consumer, stop_consumer
from ._errors import map_kafka_errors
from ._security import PLAINTEXT, KafkaSecurity, map_connect_errors


@dataclass(frozen=True, slots=True)
class Batch:
    """Records from one `getmany`; commit it with `Consumer.commit(batch)`."""

    records: list[ConsumerRecord[bytes, bytes]]
    generation: int

    def next_offsets(self) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = {}
        for r in self.records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        return offsets


class Consumer(AsyncService):
    """An aiokafka consumer that survives broker epochs: register `on_new_epoch` with an `EpochWatch`.

    The effective group id is `<group_id>.<epoch>` when an epoch is given, so offsets committed by the
    old epoch's consumer can never position the new one; a new epoch rebuilds the consumer (reading from
    the beginning) and bumps `generation`, and `commit()` ignores batches of an older generation.
    """

    def __init__(
        self, bootstrap: str, topics: Sequence[str], *, group_id: str | None, epoch: str | None = None,
        security: KafkaSecurity = PLAINTEXT, **kw: Any,
    ) -> None:
        self._bootstrap = bootstrap
        self._security = security
        self._topics = list(topics)
        self._group_id = group_id
        self._kw = kw
        self.epoch = epoch
        self.generation = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._wanted = False  # between start() and stop(); a failed rebuild is retried by the next call
        self._lock = asyncio.Lock()

    @property
    def group_id(self) -> str | None:
        if self._group_id is None or self.epoch is None:
            return self._group_id
        return f"{self._group_id}.{self.epoch}"

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise TransportError("consumer is not started")
        return self._consumer

    async def start(self) -> None:
        async with self._lock:
            self._wanted = True
            await self._open()

    async def _open(self) -> None:
        if self._consumer is not None:
            return
        consumer = make_consumer(self._bootstrap, *self._topics, group_id=self.group_id, security=self._security,
                                 **self._kw)
        async with map_connect_errors(f"connect consumer to {self._bootstrap}", self._bootstrap, self._security):
            await start_consumer(consumer)
        self._consumer = consumer

    async def stop(self) -> None:
        async with self._lock:
            self._wanted = False
            await self._close()

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await stop_consumer(consumer)

    async def on_new_epoch(self, epoch: str) -> None:
        """Rebuild the consumer for the new epoch; it reads every topic from the beginning."""
        async with self._lock:
            await self._close()
            if epoch != self.epoch:
                self.epoch = epoch
                self.generation += 1
            if self._wanted:
                await self._open()

    async def getmany(self, timeout_s: float = 1.0, max_records: int | None = None) -> Batch:
        async with self._lock:
            if self._wanted and self._consumer is None:
                await self._open()  # an earlier rebuild failed (broker down): try again
            consumer = self.consumer
            with map_kafka_errors("fetch"):
                data = await consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=max_records)
            records = [r for tp in sorted(data) for r in data[tp]]
            return Batch(records, self.generation)

    async def batches(self, timeout_s: float = 1.0, max_records: int | None = None) -> AsyncIterator[Batch]:
        """Non-empty batches, forever (stop by cancelling the task or breaking out)."""
        while True:
            batch = await self.getmany(timeout_s, max_records)
            if batch.records:
                yield batch

    async def commit(self, batch: Batch) -> bool:
        """Commit the offsets after `batch`; False (nothing done) if the batch belongs to an older epoch."""
        async with self._lock:
            if batch.generation != self.generation or self._group_id is None or not batch.records:
                return False
            with map_kafka_errors("commit offsets"):
                await self.consumer.commit(batch.next_offsets())
            return True

    def highwater(self, tp: TopicPartition) -> int | None:
        """The fetch high-water mark (right on Tansu, unlike `end_offsets()`)."""
        return self.consumer.highwater(tp)
