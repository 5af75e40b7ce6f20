"""Broker epochs: the record at offset 0 of `edx.epoch` names the broker's current life.

A Tansu restart loses every topic, record and committed offset, while producers keep getting acks and
consumers keep their old positions. Errors do not reveal it, so a marker does: the first component to
find `edx.epoch` missing or empty recreates the exchange's topics and writes a fresh epoch id; everyone
who then sees another id than before treats the broker as new (consumers rewind, relays resend).

`EpochWatch` checks every second in every router and agent, so its check is built to cost little when
nothing changes: one long-lived consumer (`_EpochReader`), rebuilt only after an error, doing one
all-topics metadata request and one fetch of offset 0 per check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from axis import wire
from axis.errors import TransportError, TransportUnavailable
from axis.lifecycle import AsyncService, cancel_and_wait

from ._clients import OutRecord, Publisher, make_consumer, start_consumer, stop_consumer
from ._security import PLAINTEXT, KafkaSecurity, map_connect_errors
from ._topics import ensure_topics

_log = logging.getLogger(__name__)

_EPOCH_TP = TopicPartition(wire.EPOCH, 0)
_READ_TIMEOUT_S = 2.0

EpochCallback = Callable[[str], Awaitable[None]]


def _epoch_id(value: bytes) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return str(json.loads(value)["epoch"])
    return wire.sha256_hex(value)


class _EpochReader:
    """Reads the epoch id at offset 0 of `edx.epoch` through one consumer kept between reads.

    Building an admin client and a consumer for each read cost a connection, an ApiVersions exchange and
    a bootstrap metadata request each time, in every component, every second. The consumer is kept; after
    any error it is closed, and the next read builds a fresh one (its state after a failure is unknown).

    It never lets a metadata request name `edx.epoch` while the topic may be missing, because Tansu
    auto-creates a named missing topic (with 4 partitions):

    - the listing is the all-topics metadata (`consumer.topics()`), and the partition is assigned only
      when the listing holds the topic;
    - the assignment is dropped after each read. aiokafka refreshes the metadata of the topics a client
      tracks when a connection breaks and every `metadata_max_age_ms`; such a refresh landing after a
      broker restart, with `edx.epoch` still assigned, would re-create it empty (and with 4 partitions)
      behind the watch's back. Between reads the consumer tracks nothing, so its refreshes name nothing.
    """

    def __init__(self, bootstrap: str, security: KafkaSecurity) -> None:
        self._bootstrap = bootstrap
        self.security = security
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def read(self) -> str | None:
        """The epoch id, or None when `edx.epoch` is missing or empty (or its first record is unreadable)."""
        async with self._lock, map_connect_errors("read the broker epoch", self._bootstrap, self.security):
            try:
                return await self._read(await self._open())
            except Exception:
                await self._close()  # a cancelled read keeps the consumer: close() or the next read decides
                raise

    async def close(self) -> None:
        async with self._lock:
            await self._close()

    async def _open(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = make_consumer(
                self._bootstrap,
                group_id=None,
                security=self.security,
                fetch_max_wait_ms=50,
                request_timeout_ms=5000,
                # The fetcher of a consumer with an (empty) assignment wakes every consumer_timeout_ms
                # even with nothing to fetch: 5 times a second at aiokafka's 200 ms, 0.2 % CPU per watch
                # for nothing. A read is woken by its assign() and seek() instead, and a failed fetch by
                # its retry backoff, so the timeout is never what a read waits for.
                consumer_timeout_ms=30_000,
            )
            self._consumer = await start_consumer(consumer)
        return self._consumer

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await stop_consumer(consumer)

    @staticmethod
    async def _read(consumer: AIOKafkaConsumer) -> str | None:
        if wire.EPOCH not in await consumer.topics():
            return None  # reading it now would auto-create it with 4 partitions
        consumer.assign([_EPOCH_TP])
        try:
            consumer.seek(_EPOCH_TP, 0)  # a known position: no ListOffsets, whose "latest" Tansu gets wrong
            deadline = time.monotonic() + _READ_TIMEOUT_S
            while time.monotonic() < deadline:
                records = (await consumer.getmany(_EPOCH_TP, timeout_ms=100, max_records=1)).get(_EPOCH_TP, [])
                if records:
                    first = records[0]
                    return _epoch_id(first.value) if first.offset == 0 and first.value else None
                if consumer.highwater(_EPOCH_TP) == 0:  # a fetch answered: the topic is empty
                    return None
            return None
        finally:
            consumer.assign([])  # track no topic between reads (see the class docstring)


async def _establish_epoch(bootstrap: str, reader: _EpochReader) -> str:
    """Read the epoch; write a new one if there is none. Concurrent writers agree on the record at offset 0."""
    epoch = await reader.read()
    if epoch is not None:
        return epoch
    value = json.dumps({"epoch": uuid.uuid4().hex, "created_at_ms": wire.now_ms()}).encode()
    async with Publisher(bootstrap, security=reader.security, linger_ms=0) as publisher:
        await publisher.publish(OutRecord(wire.EPOCH, b"epoch", value, partition=0))
    for _ in range(20):
        epoch = await reader.read()
        if epoch is not None:
            return epoch
        await asyncio.sleep(0.1)
    raise TransportUnavailable("wrote a broker epoch record but cannot read it back")


async def current_epoch(bootstrap: str, *, security: KafkaSecurity = PLAINTEXT) -> str:
    """The broker's epoch id; creates `edx.epoch` and its first record when the broker has none."""
    reader = _EpochReader(bootstrap, security)
    try:
        epoch = await reader.read()
        if epoch is not None:
            return epoch
        await ensure_topics(bootstrap, {wire.EPOCH: 1}, recreate_mismatched=True, security=security)
        return await _establish_epoch(bootstrap, reader)
    finally:
        await reader.close()


class EpochWatch(AsyncService):
    """Notices that the broker lost its data (a new epoch) and brings the exchange back to a usable state.

    Every `interval_s` it reads the record at offset 0 of `edx.epoch`. When the topic is missing, empty or
    names another epoch, it (1) recreates `topics()` (called each time: inboxes grow as agencies join),
    (2) writes a new epoch record if none, (3) awaits every `on_new_epoch` callback with the new id so
    consumers rewind and relays resend. A callback that raises is retried on the next tick.

    Start it before any producer or consumer of the component (so topics exist before a client's
    metadata request can auto-create them), then wire the consumers to it:

        async with EpochWatch(bootstrap, lambda: exchange_topics(settings, organ_ids)) as watch:
            consumer = Consumer(bootstrap, [wire.OUTBOUND], group_id="axis-router", epoch=watch.epoch)
            watch.on_new_epoch(consumer.on_new_epoch)
            watch.on_new_epoch(relay.resend_unconfirmed)
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Callable[[], Mapping[str, int]],
        *,
        interval_s: float = 1.0,
        replication_factor: int = 1,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self._interval_s = interval_s
        self._replication_factor = replication_factor
        self._security = security
        self._reader = _EpochReader(bootstrap, security)
        self._callbacks: list[EpochCallback] = []
        self._owed: list[EpochCallback] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.epoch: str | None = None
        self.epochs_seen = 0
        self.last_error: BaseException | None = None

    def on_new_epoch(self, callback: EpochCallback) -> None:
        """Register `await callback(epoch_id)` to run after each epoch change (not at start)."""
        self._callbacks.append(callback)

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done() and self.last_error is None and not self._owed

    def _all_topics(self) -> dict[str, int]:
        return {**self._topics(), wire.EPOCH: 1}

    async def start(self) -> None:
        if self._task is not None:
            return
        try:
            # A broker without an epoch record is new (or just lost its data): topics with a wrong partition
            # count were auto-created in the gap and can go. On an established broker a mismatch is an error.
            new_broker = await self._reader.read() is None
            await ensure_topics(
                self._bootstrap,
                self._all_topics(),
                replication_factor=self._replication_factor,
                recreate_mismatched=new_broker,
                security=self._security,
            )
            self.epoch = await _establish_epoch(self._bootstrap, self._reader)
        except BaseException:
            await self._reader.close()  # a failed start() is not followed by stop(): leave nothing open
            raise
        self._task = asyncio.create_task(self._run(), name="axis-epoch-watch")
        self._task.add_done_callback(self._on_done)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self._reader.close()

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.last_error = task.exception()
            _log.error("epoch watch stopped: %r", self.last_error)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
                self.last_error = None
            except TransportError as exc:  # the broker is down or restarting: expected, try again
                self.last_error = exc
                _log.info("epoch check failed: %s", exc)
            except Exception as exc:  # noqa: BLE001 - a callback failed; it stays owed and is retried next tick
                self.last_error = exc
                _log.exception("epoch callback failed")

    async def check(self) -> bool:
        """Check once now; True when a new epoch was found and handled."""
        async with self._lock:
            seen = await self._reader.read()
            changed = seen is None or seen != self.epoch
            if changed:
                await ensure_topics(
                    self._bootstrap,
                    self._all_topics(),
                    replication_factor=self._replication_factor,
                    recreate_mismatched=True,
                    security=self._security,
                )
                new = await _establish_epoch(self._bootstrap, self._reader)
                changed = new != self.epoch
                if changed:
                    _log.warning("broker epoch changed %s -> %s: topics recreated", self.epoch, new)
                    self.epoch = new
                    self.epochs_seen += 1
                    self._owed = list(self._callbacks)
            await self._pay_callbacks()
            return changed

    async def _pay_callbacks(self) -> None:
        while self._owed:
            if self.epoch is None:
                return
            await self._owed[0](self.epoch)
            self._owed.pop(0)
