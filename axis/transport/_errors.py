"""aiokafka errors translated into `axis.errors.TransportError`s at the adapter edge.

Callers decide retry versus give-up with `exc.retriable` alone, never by catching aiokafka classes:

- `TransportUnavailable` (retriable): the broker is down, restarting, electing a leader or lost the topic.
- `RecordRejected` (not retriable): this record will never be accepted as it is (size, codec, topic name).
- `TransportError`: any other Kafka error; `TransportUnavailable` instead when aiokafka flags it retriable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from aiokafka import errors as kerr

from axis.errors import RecordRejected, TransportError, TransportUnavailable

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
