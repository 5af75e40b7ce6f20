"""What replay asks of a broker before it reads or writes: which topics exist, and who the broker is.

Never by naming a topic: on Tansu any metadata request that names a missing topic creates it with 4
partitions, so topics are listed from the all-topics metadata only, and a missing one is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from axis import wire
from axis.errors import TransportError
from axis.transport import PLAINTEXT, KafkaSecurity, current_epoch, make_admin, map_kafka_errors

from ._errors import ExchangeNotReady, TopicNotFound


async def broker_topics(bootstrap: str, *, security: KafkaSecurity = PLAINTEXT,
                        timeout_s: float = 10.0) -> tuple[dict[str, int], str]:
    """({topic: partitions}, cluster id) of a broker; `ExchangeNotReady` when it does not answer."""
    admin = make_admin(bootstrap, security=security, request_timeout_ms=int(timeout_s * 1000))
    try:
        with map_kafka_errors(f"list the topics of {bootstrap}"):
            try:
                await admin.start()
                described = await admin.describe_topics()
                cluster = await admin.describe_cluster()
            finally:
                await admin.close()
    except TransportError as exc:
        raise ExchangeNotReady(
            f"the broker at {bootstrap} does not answer ({exc}); is the exchange running "
            "(`axis up`, or AXIS_KAFKA_BOOTSTRAP)?"
        ) from exc
    topics = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    return topics, str(cluster.get("cluster_id") or "")


def require_topics(wanted: Iterable[str], existing: Mapping[str, int], bootstrap: str) -> None:
    """Raise `TopicNotFound` naming every missing topic and what the broker has instead."""
    missing = sorted(t for t in set(wanted) if t not in existing)
    if not missing:
        return
    known = ", ".join(sorted(t for t in existing if t.startswith("edx."))) or "none"
    raise TopicNotFound(
        f"topic(s) {', '.join(missing)} do not exist on the broker at {bootstrap} "
        f"(its exchange topics: {known}); topics are never created by replay"
    )


async def source_of(bootstrap: str, existing: Mapping[str, int], cluster_id: str, *,
                    security: KafkaSecurity = PLAINTEXT) -> dict[str, Any]:
    """How a recording names the exchange it came from: address, cluster id and broker epoch."""
    epoch = await current_epoch(bootstrap, security=security) if wire.EPOCH in existing else None
    return {"bootstrap": bootstrap, "cluster_id": cluster_id, "epoch": epoch}
