"""Recording topics: every record of each partition, from a start to an end, merged in time order.

Guards for the broker (../shared/EMBEDDED-BROKER.md): partitions are read from explicit positions
(`seek`, never ListOffsets, whose "latest" Tansu gets wrong); the end of a partition is the fetch
high-water mark seen on the first answer (`consumer.highwater`), not `end_offsets()`; a time bound is
applied to each record's own timestamp while reading (Tansu's `offsets_for_times` searches another time),
and a start beyond the end finishes at once instead of waiting silently (there is no OFFSET_OUT_OF_RANGE).

Records of all partitions are merged by timestamp: a partition's next record is written once every other
partition has one buffered too or has caught up with its high-water mark, so the file is in time order
across partitions and in log order within each (what keeps each key's order on play).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from axis.errors import TransportUnavailable
from axis.transport import PLAINTEXT, KafkaSecurity, make_consumer, map_kafka_errors, stop_consumer

from ._broker import broker_topics, require_topics, source_of
from ._errors import ReplayError
from ._format import RecordedRecord, RecordingHeader, RecordingWriter
from ._progress import Progress, SilentProgress

_STALL_S = 30.0
_MAX_BUFFERED = 5000  # per partition; a partition with more waits (paused) until the merge takes them


@dataclass(frozen=True, slots=True)
class Bound:
    """A `--from` or `--to`: an offset (in every partition) or a time (ms since the epoch)."""

    offset: int | None = None
    time_ms: int | None = None

    @classmethod
    def parse(cls, text: str, tz: tzinfo) -> Bound:
        """An integer is an offset; anything else an ISO 8601 time, in the exchange's zone unless it says."""
        text = text.strip()
        if text.isdigit():
            return cls(offset=int(text))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ReplayError(
                f"{text!r}: expected an offset (an integer) or a time such as 2026-12-01T08:00 "
                "or 2026-12-01T08:00+07:00"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return cls(time_ms=int(moment.timestamp() * 1000))

    def describe(self) -> dict[str, Any] | None:
        if self.offset is not None:
            return {"offset": self.offset}
        if self.time_ms is not None:
            return {"timestamp": self.time_ms}
        return None


class _Merge:
    """Per-partition buffers and the time-ordered merge over them."""

    def __init__(self, partitions: Sequence[TopicPartition], start: Bound, end: Bound) -> None:
        self.next_offset = {tp: start.offset or 0 for tp in partitions}
        self.end_offset: dict[TopicPartition, int | None] = {tp: end.offset for tp in partitions}
        self.highwater: dict[TopicPartition, int | None] = {tp: None for tp in partitions}
        self.buffers: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {tp: deque() for tp in partitions}
        self._start, self._end = start, end

    def take(self, records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for tp, batch in records.items():
            for r in batch:
                self.next_offset[tp] = r.offset + 1
                limit = self.end_offset[tp]
                if limit is not None and r.offset >= limit:
                    break
                self.buffers[tp].append(r)

    def finished(self, tp: TopicPartition) -> bool:
        """Nothing more will be read from this partition (its end bound, or its snapshot end)."""
        limit = self.end_offset[tp]
        return limit is not None and self.next_offset[tp] >= limit

    def caught_up(self, tp: TopicPartition) -> bool:
        hw = self.highwater[tp]
        return self.finished(tp) or (hw is not None and self.next_offset[tp] >= hw)

    def ready(self, *, final: bool = False) -> list[RecordedRecord]:
        """Records that can be written now, oldest first (`final`: all that are buffered)."""
        out: list[RecordedRecord] = []
        heap = [(buf[0].timestamp, tp.topic, tp.partition, tp) for tp, buf in self.buffers.items() if buf]
        heapq.heapify(heap)
        while heap:
            if not final and any(not buf and not self.caught_up(tp) for tp, buf in self.buffers.items()):
                break  # a partition behind may still hold an older record
            _, _, _, tp = heapq.heappop(heap)
            r = self.buffers[tp].popleft()
            if self._wanted(r):
                out.append(_recorded(r))
            if self.buffers[tp]:
                heapq.heappush(heap, (self.buffers[tp][0].timestamp, tp.topic, tp.partition, tp))
        return out

    def _wanted(self, r: ConsumerRecord[bytes, bytes]) -> bool:
        if self._start.time_ms is not None and r.timestamp < self._start.time_ms:
            return False
        return not (self._end.time_ms is not None and r.timestamp >= self._end.time_ms)


def _recorded(r: ConsumerRecord[bytes, bytes]) -> RecordedRecord:
    return RecordedRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value, tuple(r.headers or ()))


async def record_topics(
    bootstrap: str,
    topics: Sequence[str],
    path: Path,
    *,
    start: Bound = Bound(),
    end: Bound = Bound(),
    follow: bool = False,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> RecordingHeader:
    """Write every record of `topics` in [start, end) to `path`; with `follow`, keep going until `stop` is
    set or the end bound passes. Returns the header written. A topic that does not exist is an error."""
    progress = progress or SilentProgress()
    existing, cluster_id = await broker_topics(bootstrap, security=security)
    require_topics(topics, existing, bootstrap)
    source = await source_of(bootstrap, existing, cluster_id, security=security)
    partitions = [TopicPartition(t, p) for t in dict.fromkeys(topics) for p in range(existing[t])]
    merge = _Merge(partitions, start, end)
    consumer = make_consumer(bootstrap, group_id=None, fetch_max_wait_ms=100, security=security)
    with map_kafka_errors(f"read from {bootstrap}"):
        await consumer.start()
    writer = RecordingWriter(
        path,
        source=source,
        topics=list(dict.fromkeys(topics)),
        range={"from": start.describe(), "to": end.describe(), "follow": follow},
        created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    try:
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, merge.next_offset[tp])
        await _read(consumer, merge, writer, follow=follow, stop=stop or asyncio.Event(), end=end, progress=progress)
    except BaseException:
        writer.abort()
        raise
    finally:
        await stop_consumer(consumer)
    return writer.close()


async def _read(
    consumer: Any,
    merge: _Merge,
    writer: RecordingWriter,
    *,
    follow: bool,
    stop: asyncio.Event,
    end: Bound,
    progress: Progress,
) -> None:
    started = dict(merge.next_offset)
    last_data = time.monotonic()
    totalled = False
    while True:
        with map_kafka_errors("fetch"):
            data = await consumer.getmany(timeout_ms=200, max_records=2000)
        if data:
            last_data = time.monotonic()
            progress.advance(sum(len(batch) for batch in data.values()))
        merge.take(data)
        for tp in merge.buffers:
            hw = consumer.highwater(tp)
            if hw is not None:
                if not follow and merge.highwater[tp] is None:  # the snapshot end: what existed at the start
                    bound = merge.end_offset[tp]
                    merge.end_offset[tp] = hw if bound is None else min(bound, hw)
                merge.highwater[tp] = hw
        if not totalled and not follow and all(h is not None for h in merge.highwater.values()):
            progress.set_total(sum(max(0, e - started[tp]) for tp, e in merge.end_offset.items() if e is not None))
            totalled = True
        for tp, buf in merge.buffers.items():
            (consumer.pause if len(buf) > _MAX_BUFFERED or merge.finished(tp) else consumer.resume)(tp)
        done = all(merge.finished(tp) for tp in merge.buffers)
        ended = follow and end.time_ms is not None and time.time() * 1000 > end.time_ms + 1000
        for record in merge.ready(final=done or ended or stop.is_set()):
            writer.add(record)
        if done or ended or stop.is_set():
            return
        if not follow and time.monotonic() - last_data > _STALL_S:
            raise TransportUnavailable(
                f"the broker sent nothing for {_STALL_S:.0f} s while recording (read so far: {merge.next_offset})"
            )
