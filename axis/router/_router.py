"""The Router: consumes `edx.outbound`, judges and records each message, relays deliveries and notices.

Plain aiokafka through `axis.transport`, not faust: the router must commit a Kafka offset only after the
ledger transaction holding that record's effects has committed (faust commits on its own schedule once
a stream event is acknowledged), and faust hung on SIGTERM against the embedded broker while a message
was in flight. Here the loop is explicit: getmany (one record when idle, up to `batch_max` under load),
one unit of work for the batch, dead letters published, transaction committed, offset committed.

Lifecycle like aiokafka's producer: `start()`/`stop()` idempotent, `async with`; background loops
(consume, relay, directory watch) are kept tasks with done-callbacks that mark the router unhealthy.
A broker epoch change (the broker lost its data) rewinds the consumer, republishes every unacked
delivery and recent notices, and republishes the directory.

Directory on the wire: the router is the only publisher of `edx.directory`. It publishes every agency at
start, after an epoch change, and whenever it sees the directory change (it polls a cheap
count/latest-update query every `directory_poll_s`, so `axis agency add` needs no broker access).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Coroutine

from aiokafka import TopicPartition

from axis import wire
from axis.errors import AxisError, RouterError
from axis.internal_errors import InternalErrors
from axis.ledger import Clock, Ledger, utc_now
from axis.lifecycle import AsyncService, cancel_and_wait, stop_within
from axis.settings import Settings
from axis.transport import (
    Batch,
    Consumer,
    EpochWatch,
    OutRecord,
    Publisher,
    ensure_topics,
    exchange_topics,
    kafka_security,
)
from signing import Verifier

from ._intake import BatchEffects, Intake
from ._metrics import RouterMetrics
from ._relay import Relay

_log = logging.getLogger(__name__)
_BATCH, _RELAY, _FETCH = "recording a batch", "relaying deliveries", "fetching from edx.outbound"
_DIRECTORY = "following the directory"

class Router(AsyncService):
    """The central router. Needs a started `Ledger`; does not stop it (its owner does)."""

    def __init__(
        self, settings: Settings, ledger: Ledger, verifier: Verifier, *, clock: Clock = utc_now,
        group_id: str = "axis-router", metrics: RouterMetrics | None = None, poll_s: float = 0.5,
        directory_poll_s: float = 2.0, epoch_interval_s: float = 1.0,
    ) -> None:
        if not settings.kafka_bootstrap:
            raise RouterError("settings.kafka_bootstrap is not set (resolve the settings first)")
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        self.metrics = metrics or RouterMetrics()
        self._bootstrap: str = settings.kafka_bootstrap
        self._security = kafka_security(settings)  # reads the TLS files now: a bad one stops the start
        self._group_id = group_id
        self._poll_s = poll_s
        self._directory_poll_s = directory_poll_s
        self._epoch_interval_s = epoch_interval_s
        self._organs: set[str] = set()  # the directory's organ ids (kept current by the directory loop)
        self._leadership = ledger.leadership()
        self.leader = False  # this router publishes the directory (one of the replicas does)
        self.errors = InternalErrors("router", _log)
        self._intake = Intake(verifier, max_package_bytes=settings.max_package_bytes, tz=settings.tz,
                              metrics=self.metrics, known_organs=self._organs, errors=self.errors)
        self._publisher: Publisher | None = None
        self._consumer: Consumer | None = None
        self._watch: EpochWatch | None = None
        self._relay: Relay | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready_inboxes: set[str] = set()
        self._directory_version: Any = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._failed: BaseException | None = None
        self.relay_error: BaseException | None = None
        self._state = "new"

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._state == "running":
            return
        if self._state != "new":
            raise RouterError(f"router is {self._state}; build a new one")
        self._state = "starting"
        try:
            await self._open()
        except BaseException:
            await self.stop()
            raise
        self._state = "running"

    async def _open(self) -> None:
        await self.ledger.start()
        self.leader = await self._leadership.is_leader()
        _log.info("router started; %s", "it leads the replicas" if self.leader else "another router leads")
        self._organs.update(a.organ_id for a in await self.ledger.directory.list())
        self._watch = EpochWatch(self._bootstrap, self._topics, interval_s=self._epoch_interval_s,
                                 replication_factor=self.settings.kafka_replication_factor, security=self._security)
        await self._watch.start()
        self._ready_inboxes = set(self._organs)
        self._publisher = Publisher(self._bootstrap, security=self._security)
        await self._publisher.start()
        self._consumer = Consumer(self._bootstrap, [wire.OUTBOUND], group_id=self._group_id, epoch=self._watch.epoch,
                                  security=self._security)
        await self._consumer.start()
        self._watch.on_new_epoch(self._consumer.on_new_epoch)
        self._watch.on_new_epoch(self._on_new_epoch)
        self._relay = Relay(
            self.ledger, self._publisher, clock=self.clock,
            redelivery_after=timedelta(seconds=self.settings.redelivery_after_s),
            redelivery_limit=self.settings.redelivery_limit, batch_max=self.settings.publish_batch_max,
            metrics=self.metrics, ensure_inboxes=self._ensure_inboxes,
        )
        await self.publish_directory()
        self._spawn(self._consume_loop(), "axis-router-consume")
        self._spawn(self._relay_loop(), "axis-router-relay")
        self._spawn(self._directory_loop(), "axis-router-directory")

    async def stop(self) -> None:
        """Finish the batch in hand, commit, close. Safe to call twice."""
        if self._state in ("stopped", "new"):
            self._state = "stopped"
            return
        self._state = "stopping"
        self._stopping.set()
        consume = self._tasks[0] if self._tasks else None
        if consume is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(consume), timeout=5.0)
        for task in self._tasks:
            with contextlib.suppress(Exception):  # a loop's failure was reported when it happened
                await cancel_and_wait(task)
        self._tasks.clear()
        with contextlib.suppress(AxisError):
            await self._leadership.close()
        for name, closer in (("consumer", self._consumer), ("publisher", self._publisher), ("epoch watch", self._watch)):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await stop_within(closer.stop(), 10.0, f"stopping the router's {name}")
        self._state = "stopped"


    @property
    def healthy(self) -> bool:
        """Running, every loop alive, the broker epoch watch fine and the relay not failing."""
        return (
            self._state == "running" and self._failed is None and self.relay_error is None
            and all(not t.done() for t in self._tasks) and self._watch is not None and self._watch.healthy
        )

    def health(self) -> dict[str, Any]:
        """What `/health` says: `ok`; `degraded` while batches or checks fail with internal errors (the router
        still runs; `internal_errors` says which, with ids and counts); `unhealthy` when a loop died, the
        relay fails or the broker is away."""
        failing = self.errors.failing()
        status = "unhealthy" if not self.healthy else "degraded" if failing else "ok"
        return {
            "status": status,
            "state": self._state,
            "leader": self.leader,
            "loops": {t.get_name(): "running" if not t.done() else "ended" for t in self._tasks},
            "failure": repr(self._failed) if self._failed else None,
            "relay_error": str(self.relay_error) if self.relay_error else None,
            "broker": "ok" if self._watch is not None and self._watch.healthy else "unreachable",
            "epoch": self._watch.epoch if self._watch is not None else None,
            "internal_errors": self.errors.report(),
        }

    def wake(self) -> None:
        """Run the relay now (after a batch commits, or after a test advanced the clock)."""
        self._wake.set()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping.is_set():
            return
        self._failed = task.exception() or RouterError(f"{task.get_name()} ended")
        _log.error("router task %s died: %r", task.get_name(), self._failed)

    # --- consuming -------------------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            try:
                batch = await self._consumer.getmany(timeout_s=0.5, max_records=self.settings.publish_batch_max)
            except AxisError as exc:
                self.errors.record(_FETCH, exc)
                await asyncio.sleep(0.5)
                continue
            self.errors.succeeded(_FETCH)
            await self._note_lag()
            if not batch.records:
                continue
            try:
                await self._process(batch)
                self.errors.succeeded(_BATCH)
            except AxisError as exc:
                self.metrics.failed_batches += 1
                self.errors.record(_BATCH, exc)
                if exc.retriable:  # read again (the failure is counted and logged once above)
                    self._rewind(batch)
                    await asyncio.sleep(0.5)
                    continue
                _log.error("batch of %d failed (%s); handling its records one by one", len(batch.records), exc)
                try:
                    await self._process_singly(batch)
                except AxisError as again:
                    _log.warning("record-by-record pass failed (%s); the batch will be read again", again)
                    self._rewind(batch)
                    await asyncio.sleep(0.5)
                    continue
            with contextlib.suppress(AxisError):  # a lost commit replays the batch: tracking rows dedup it
                await self._consumer.commit(batch)
            self._wake.set()

    async def _process(self, batch: Batch) -> None:
        """Judge the batch off the loop, then hold the transaction only for its database work."""
        assert self._publisher is not None
        effects = BatchEffects(verdicts=await asyncio.to_thread(self._intake.judge.batch, batch.records))
        now = self.clock()
        began = time.perf_counter()
        async with self.ledger.unit_of_work() as uow:
            await self._intake.preload(uow, effects)
            for record in batch.records:
                await self._intake.handle(uow, record, now, effects)
            await uow.flush()  # a database error surfaces before any dead letter leaves
            if effects.dead_letters:
                await self._publisher.publish_many(effects.dead_letters)
            await uow.commit()
        self.metrics.batch(len(batch.records), time.perf_counter() - began, effects.latencies)

    async def _process_singly(self, batch: Batch) -> None:
        """Isolate a poison record: each in its own transaction; one that fails for good is refused
        ("internal-error", dead-lettered, sender told) so it cannot block the partition forever.
        A rare path: it judges the batch again (off the loop) rather than keep verdicts between passes."""
        assert self._publisher is not None
        verdicts = await asyncio.to_thread(self._intake.judge.batch, batch.records)
        began, latencies = time.perf_counter(), []
        for record in batch.records:
            now = self.clock()
            effects = BatchEffects(verdicts=verdicts, latencies=latencies)
            try:
                async with self.ledger.unit_of_work() as uow:
                    await self._intake.handle(uow, record, now, effects)
                    await uow.flush()
                    if effects.dead_letters:
                        await self._publisher.publish_many(effects.dead_letters)
                    await uow.commit()
            except AxisError as exc:
                if exc.retriable:
                    raise
                self.errors.record("recording a package", exc)
                effects = BatchEffects()
                async with self.ledger.unit_of_work() as uow:
                    await self._intake.refuse_internal(uow, record, exc, now, effects)
                    await uow.flush()
                    await self._publisher.publish_many(effects.dead_letters)
                    await uow.commit()
        self.metrics.batch(len(batch.records), time.perf_counter() - began, latencies)

    async def _note_lag(self) -> None:
        """Records of `edx.outbound` not yet read: the fetch high-water mark (right on Tansu, unlike
        `end_offsets()`) less the position, over the assigned partitions; measured after each fetch."""
        assert self._consumer is not None
        consumer = self._consumer.consumer
        lag, known = 0, False
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            with contextlib.suppress(Exception):  # reassigned meanwhile: measured at the next fetch
                lag += max(0, high - await consumer.position(tp))
                known = True
        self.metrics.consumer_lag = lag if known else self.metrics.consumer_lag

    def _rewind(self, batch: Batch) -> None:
        assert self._consumer is not None
        if batch.generation != self._consumer.generation:
            return
        first: dict[TopicPartition, int] = {}
        for r in batch.records:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        for tp, offset in first.items():
            self._consumer.consumer.seek(tp, offset)

    # --- relay, directory, epochs ----------------------------------------------------------------

    async def _relay_loop(self) -> None:
        assert self._relay is not None
        while True:
            self._wake.clear()
            try:
                handled = await self._relay.run_once()
                self.relay_error = None
                self.errors.succeeded(_RELAY)
            except AxisError as exc:
                self.relay_error = exc
                self.errors.record(_RELAY, exc)
                handled = 0
            if handled < self.settings.publish_batch_max:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)

    async def _directory_loop(self) -> None:
        """Every router follows the directory (its organ ids judge packages, its inboxes get deliveries); the
        leader among them also publishes it, and takes the lead when the previous leader died."""
        while True:
            await asyncio.sleep(self._directory_poll_s)
            try:
                leading = await self._leadership.is_leader()
                if leading and not self.leader:
                    _log.warning("this router now leads the replicas (the previous leader is gone)")
                    self._directory_version = None  # a new leader publishes once whatever it saw before
                self.leader = leading
                if await self.ledger.directory.version() != self._directory_version:
                    await self.publish_directory(publish=leading)
                self.errors.succeeded(_DIRECTORY)
            except AxisError as exc:
                self.errors.record(_DIRECTORY, exc)

    async def publish_directory(self, *, publish: bool = True) -> int:
        """Follow the directory (create inboxes for new agencies) and publish every agency to `edx.directory`."""
        assert self._publisher is not None
        version = await self.ledger.directory.version()
        agencies = await self.ledger.directory.list()
        await self._ensure_inboxes([a.organ_id for a in agencies])
        if publish:
            await self._publisher.publish_many(
                [OutRecord(wire.DIRECTORY, a.organ_id.encode(), a.entry().encode()) for a in agencies]
            )
        self._directory_version = version
        return len(agencies)

    def _topics(self) -> dict[str, int]:
        return exchange_topics(self.settings, sorted(self._organs))

    async def _ensure_inboxes(self, organ_ids: list[str]) -> None:
        missing = [o for o in organ_ids if o not in self._ready_inboxes]
        if not missing:
            return
        self._organs.update(missing)
        await ensure_topics(self._bootstrap, {wire.inbox_topic(o): self.settings.inbox_partitions for o in missing},
                            replication_factor=self.settings.kafka_replication_factor, security=self._security)
        self._ready_inboxes.update(missing)

    async def _on_new_epoch(self, epoch: str) -> None:
        """The broker lost its data: resend everything unconfirmed and the directory."""
        self.metrics.epochs += 1
        self._ready_inboxes = set(self._organs)  # the watch recreated them
        now = self.clock()
        deliveries, notices = await self.ledger.outbox.resend_all(now, timedelta(seconds=self.settings.redelivery_after_s))
        day_start = datetime.combine(now.astimezone(self.settings.tz).date(), datetime.min.time(), self.settings.tz)
        facts = await self.ledger.ops.republish_facts(day_start)
        _log.warning("broker epoch %s: resending %d deliveries and %d notices, republishing %d facts of the day",
                     epoch, deliveries, notices, facts)
        await self.publish_directory()
        self._wake.set()

RouterFactory = Callable[[], Router]
