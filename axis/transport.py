"""The Kafka adapter: topics, producer/consumer factories, batch publishing and broker-epoch detection.

Works against the embedded Tansu broker and a real Kafka cluster; nothing here depends on a Tansu fault
either way. aiokafka errors are translated at this edge into `axis.errors.TransportError` subclasses
(`map_kafka_errors`), so callers decide retry versus give-up with `exc.retriable` alone.

Guards, and the measured broker fault each one handles (docs: ../shared/EMBEDDED-BROKER.md):

- **Auto-created topics get 4 partitions, and any metadata request naming a missing topic auto-creates
  it** (a producer's send, a consumer's subscribe, even the admin client's `describe_topics([...])`).
  `ensure_topics` creates every topic explicitly and reads partition counts only from the all-topics
  metadata; the epoch check lists topics before it reads `edx.epoch`. After a broker restart a client may
  still auto-create a topic before the watch recreates it, so the watch deletes and recreates topics whose
  partition count is wrong (`recreate_mismatched=True`); only records of the lost window are in them, and
  those are resent anyway.
- **A restart loses everything, and Tansu accepts produce requests for topics that no longer exist**
  (acknowledged, never readable). So a broker ack is not delivery: callers keep rows unconfirmed until the
  end-to-end notice/ack, and `EpochWatch` makes them resend on a new epoch.
- **Consumers keep their old positions after a restart and silently skip records below them; there is no
  OFFSET_OUT_OF_RANGE.** `EpochWatch` fires `on_new_epoch`; `Consumer.on_new_epoch` rebuilds its consumer
  on a group id qualified by the epoch (no committed offset can leak from the old epoch into the new one)
  and reads from the beginning; `rewind()` does the same for a bare aiokafka consumer.
- **ListOffsets "latest" is wrong** (base offset of the last batch + 1): `auto_offset_reset="earliest"`
  everywhere; use `consumer.highwater(tp)` (fetch high-water mark), never `end_offsets()`, for lag.
- **No idempotent or transactional producer**: `enable_idempotence=False`; exactly-once effects come from
  message ids and tracking rows (docs/ARCHITECTURE.md).
- **No record-size limit on the broker, 1 MiB in aiokafka**: producer `max_request_size` and consumer fetch
  sizes are raised for 50 MiB packages (real Kafka needs `message.max.bytes` raised to match).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka import errors as kerr
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from axis import wire
from axis.errors import RecordRejected, TopicMismatch, TransportError, TransportUnavailable
from axis.lifecycle import AsyncService
from axis.settings import Settings

__all__ = [
    "Batch",
    "Consumer",
    "EpochWatch",
    "OutRecord",
    "Publisher",
    "current_epoch",
    "ensure_topics",
    "exchange_topics",
    "make_consumer",
    "make_producer",
    "map_kafka_errors",
    "rewind",
    "stop_consumer",
]

_log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_REQUEST_BYTES = 64 * MiB  # above the 50 MiB package limit plus headers and batch overhead
_EPOCH_TP = TopicPartition(wire.EPOCH, 0)

# aiokafka errors that a retry can fix, whatever their own `retriable` flag says.
_UNAVAILABLE = (
    kerr.KafkaConnectionError,
    kerr.KafkaTimeoutError,
    kerr.RequestTimedOutError,
    kerr.NodeNotReadyError,
    kerr.NoBrokersAvailable,
    kerr.NotLeaderForPartitionError,
    kerr.LeaderNotAvailableError,
    kerr.UnknownTopicOrPartitionError,  # Tansu lost the topic; EpochWatch recreates it
    kerr.NotEnoughReplicasError,
    kerr.NotEnoughReplicasAfterAppendError,
    kerr.KafkaStorageError,
)
# aiokafka errors that mean this record will never be accepted as it is.
_REJECTED = (
    kerr.MessageSizeTooLargeError,
    kerr.RecordTooLargeError,
    kerr.RecordListTooLargeError,
    kerr.InvalidTopicError,
    kerr.TopicAuthorizationFailedError,
    kerr.CorruptRecordException,
    kerr.UnsupportedCodecError,
)


@contextlib.contextmanager
def map_kafka_errors(operation: str) -> Iterator[None]:
    """Translate aiokafka (and timeout) errors raised inside the block into `TransportError`s."""
    try:
        yield
    except TransportError:
        raise
    except _UNAVAILABLE as exc:
        raise TransportUnavailable(f"{operation}: {exc}") from exc
    except _REJECTED as exc:
        raise RecordRejected(f"{operation}: {exc}") from exc
    except kerr.KafkaError as exc:
        cls = TransportUnavailable if exc.retriable else TransportError
        raise cls(f"{operation}: {exc}") from exc
    except (TimeoutError, ConnectionError) as exc:
        raise TransportUnavailable(f"{operation}: {exc!r}") from exc


# --- topics ------------------------------------------------------------------------------------------

def exchange_topics(settings_or_counts: Settings | tuple[int, int], organ_ids: Iterable[str] = ()) -> dict[str, int]:
    """Every topic of the exchange with its partition count; `(outbound, inbox)` counts or a `Settings`."""
    if isinstance(settings_or_counts, Settings):
        outbound, inbox = settings_or_counts.outbound_partitions, settings_or_counts.inbox_partitions
    else:
        outbound, inbox = settings_or_counts
    topics = {wire.OUTBOUND: outbound, wire.DEAD_LETTER: 1, wire.DIRECTORY: 1, wire.EPOCH: 1}
    topics.update({wire.inbox_topic(organ_id): inbox for organ_id in organ_ids})
    return topics


async def _partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    # describe_topics() with no names asks for all topics: naming a missing one would auto-create it.
    return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics() if t["error_code"] == 0}


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    recreate_mismatched: bool = False,
) -> None:
    """Create the missing `topics` ({name: partitions}) and check that existing ones match.

    Raises `TopicMismatch` when a topic has another partition count, unless `recreate_mismatched` (only
    after a broker epoch change, when such a topic was auto-created in the gap and holds nothing of value).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    with map_kafka_errors(f"ensure topics on {bootstrap}"):
        try:
            await admin.start()
            existing = await _partition_counts(admin)
            wrong = {t: existing[t] for t, n in topics.items() if t in existing and existing[t] != n}
            if wrong and recreate_mismatched:
                _log.warning("recreating topics with wrong partition counts: %s", wrong)
                await admin.delete_topics(list(wrong))
                existing = {t: n for t, n in existing.items() if t not in wrong}
            missing = [NewTopic(t, n, replication_factor) for t, n in topics.items() if t not in existing]
            if missing:
                response = await admin.create_topics(missing)
                for name, code, message in response.topic_errors:
                    if code not in (0, kerr.TopicAlreadyExistsError.errno):
                        raise kerr.for_code(code)(f"create topic {name}: {message}")
            await _verify_partitions(admin, topics)
        finally:
            await admin.close()


async def _verify_partitions(admin: AIOKafkaAdminClient, topics: Mapping[str, int]) -> None:
    deadline = time.monotonic() + 10.0  # real Kafka propagates new topics' metadata asynchronously
    while True:
        existing = await _partition_counts(admin)
        absent = [t for t in topics if t not in existing]
        wrong = {t: existing[t] for t in topics if t in existing and existing[t] != topics[t]}
        if wrong:
            detail = ", ".join(f"{t} has {n} partitions, needs {topics[t]}" for t, n in sorted(wrong.items()))
            raise TopicMismatch(f"topic partition counts differ: {detail}")
        if not absent:
            return
        if time.monotonic() > deadline:
            raise TransportUnavailable(f"topics not visible after creation: {', '.join(absent)}")
        await asyncio.sleep(0.1)


# --- clients -----------------------------------------------------------------------------------------

def make_producer(bootstrap: str, **kw: Any) -> AIOKafkaProducer:
    """A producer for both Tansu and Kafka: acks from all replicas, no idempotence (Tansu lacks it)."""
    options: dict[str, Any] = dict(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        max_request_size=MAX_REQUEST_BYTES,
        max_batch_size=256 * 1024,  # Tansu: 51k msg/s at 256 KB batches versus 14k at the default 16 KB
        # No linger: aiokafka keeps one request in flight per broker and sends what queued up meanwhile in
        # the next one, so a quiet producer sends each record at once and a busy one sends batches anyway.
        linger_ms=0,
        compression_type="lz4",
        request_timeout_ms=30_000,
    )
    options.update(kw)
    return AIOKafkaProducer(**options)


def make_consumer(bootstrap: str, *topics: str, group_id: str | None, **kw: Any) -> AIOKafkaConsumer:
    """A consumer that reads from the beginning, commits only when told, and fetches 50 MiB records."""
    options: dict[str, Any] = dict(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        fetch_max_bytes=MAX_REQUEST_BYTES,
        max_partition_fetch_bytes=MAX_REQUEST_BYTES,
        # Tansu answers a fetch only when fetch_max_wait_ms expires, even with data waiting: the default
        # 500 ms would add half a second per hop to a quiet exchange. Measured (bench/exchange_bench.py,
        # 2 cores, 5 consumers): 50 ms -> quiet p50 ~56 ms, idle CPU 8.5 % Python + 8 % broker; 20 ms ->
        # ~35 ms, 11 % + 13 %; 10 ms -> no faster, 15 % + 19 %. Real Kafka answers as soon as data is there.
        fetch_max_wait_ms=20,
    )
    options.update(kw)
    return AIOKafkaConsumer(*topics, **options)


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

    def __init__(self, bootstrap: str, **producer_kw: Any) -> None:
        self._bootstrap = bootstrap
        self._producer_kw = producer_kw
        self._producer: AIOKafkaProducer | None = None
        self._closed = False

    async def start(self) -> None:
        if self._closed:
            raise TransportError("publisher is closed; create a new one")
        if self._producer is not None:
            return
        producer = make_producer(self._bootstrap, **self._producer_kw)
        with map_kafka_errors(f"connect producer to {self._bootstrap}"):
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


# --- broker epochs -----------------------------------------------------------------------------------

async def _list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    with map_kafka_errors(f"list topics on {bootstrap}"):
        try:
            await admin.start()
            return set(await admin.list_topics())
        finally:
            await admin.close()


def _epoch_id(value: bytes) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return str(json.loads(value)["epoch"])
    return wire.sha256_hex(value)


async def _read_epoch(bootstrap: str) -> str | None:
    """The epoch id at offset 0 of `edx.epoch`, or None when the topic is missing or empty."""
    if wire.EPOCH not in await _list_topics(bootstrap):
        return None  # reading it now would auto-create it with 4 partitions
    consumer = make_consumer(bootstrap, group_id=None, fetch_max_wait_ms=50, request_timeout_ms=5000)
    with map_kafka_errors("read the broker epoch"):
        try:
            await consumer.start()
            consumer.assign([_EPOCH_TP])
            consumer.seek(_EPOCH_TP, 0)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                records = (await consumer.getmany(_EPOCH_TP, timeout_ms=100, max_records=1)).get(_EPOCH_TP, [])
                if records:
                    first = records[0]
                    return _epoch_id(first.value) if first.offset == 0 and first.value else None
                if consumer.highwater(_EPOCH_TP) == 0:  # a fetch answered: the topic is empty
                    return None
            return None
        finally:
            await stop_consumer(consumer)


async def _establish_epoch(bootstrap: str) -> str:
    """Read the epoch; write a new one if there is none. Concurrent writers agree on the record at offset 0."""
    epoch = await _read_epoch(bootstrap)
    if epoch is not None:
        return epoch
    value = json.dumps({"epoch": uuid.uuid4().hex, "created_at_ms": wire.now_ms()}).encode()
    async with Publisher(bootstrap, linger_ms=0) as publisher:
        await publisher.publish(OutRecord(wire.EPOCH, b"epoch", value, partition=0))
    for _ in range(20):
        epoch = await _read_epoch(bootstrap)
        if epoch is not None:
            return epoch
        await asyncio.sleep(0.1)
    raise TransportUnavailable("wrote a broker epoch record but cannot read it back")


async def current_epoch(bootstrap: str) -> str:
    """The broker's epoch id; creates `edx.epoch` and its first record when the broker has none."""
    epoch = await _read_epoch(bootstrap)
    if epoch is not None:
        return epoch
    await ensure_topics(bootstrap, {wire.EPOCH: 1}, recreate_mismatched=True)
    return await _establish_epoch(bootstrap)


EpochCallback = Callable[[str], Awaitable[None]]


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
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self._interval_s = interval_s
        self._replication_factor = replication_factor
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
        # A broker without an epoch record is new (or just lost its data): topics with a wrong partition
        # count were auto-created in the gap and can go. On an established broker a mismatch is an error.
        new_broker = await _read_epoch(self._bootstrap) is None
        await ensure_topics(
            self._bootstrap,
            self._all_topics(),
            replication_factor=self._replication_factor,
            recreate_mismatched=new_broker,
        )
        self.epoch = await _establish_epoch(self._bootstrap)
        self._task = asyncio.create_task(self._run(), name="axis-epoch-watch")
        self._task.add_done_callback(self._on_done)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
            except Exception as exc:  # a callback failed; it stays owed and is retried next tick
                self.last_error = exc
                _log.exception("epoch callback failed")

    async def check(self) -> bool:
        """Check once now; True when a new epoch was found and handled."""
        async with self._lock:
            seen = await _read_epoch(self._bootstrap)
            changed = seen is None or seen != self.epoch
            if changed:
                await ensure_topics(
                    self._bootstrap,
                    self._all_topics(),
                    replication_factor=self._replication_factor,
                    recreate_mismatched=True,
                )
                new = await _establish_epoch(self._bootstrap)
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


# --- consuming ---------------------------------------------------------------------------------------

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
        self, bootstrap: str, topics: Sequence[str], *, group_id: str | None, epoch: str | None = None, **kw: Any
    ) -> None:
        self._bootstrap = bootstrap
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
        consumer = make_consumer(self._bootstrap, *self._topics, group_id=self.group_id, **self._kw)
        with map_kafka_errors(f"connect consumer to {self._bootstrap}"):
            try:
                await consumer.start()
            except BaseException:
                await stop_consumer(consumer)
                raise
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
