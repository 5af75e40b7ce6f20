"""Topics of the exchange, created explicitly with their partition counts.

Tansu auto-creates a topic with 4 partitions as soon as any metadata request names it, so partition counts
are read only from the all-topics metadata (`describe_topics()` with no names), never by naming a topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping

from aiokafka import errors as kerr
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from axis import wire
from axis.errors import TopicMismatch, TransportUnavailable
from axis.settings import Settings

from ._clients import make_admin
from ._security import PLAINTEXT, KafkaSecurity, map_connect_errors

_log = logging.getLogger(__name__)


def exchange_topics(settings_or_counts: Settings | tuple[int, int], organ_ids: Iterable[str] = ()) -> dict[str, int]:
    """Every topic of the exchange with its partition count; `(outbound, inbox)` counts or a `Settings`."""
    if isinstance(settings_or_counts, Settings):
        outbound, inbox = settings_or_counts.outbound_partitions, settings_or_counts.inbox_partitions
    else:
        outbound, inbox = settings_or_counts
    topics = {wire.OUTBOUND: outbound, wire.EVENTS: outbound, wire.DEAD_LETTER: 1, wire.DIRECTORY: 1, wire.EPOCH: 1}
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
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create the missing `topics` ({name: partitions}) and check that existing ones match.

    Raises `TopicMismatch` when a topic has another partition count, unless `recreate_mismatched` (only
    after a broker epoch change, when such a topic was auto-created in the gap and holds nothing of value).
    """
    admin = make_admin(bootstrap, security=security)
    async with map_connect_errors(f"ensure topics on {bootstrap}", bootstrap, security):
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
