"""The Kafka adapter: topics, producer/consumer factories, batch publishing and broker-epoch detection.

Works against the embedded Tansu broker and a real Kafka cluster; nothing here depends on a Tansu fault
either way. aiokafka errors are translated at this edge into `axis.errors.TransportError` subclasses
(`map_kafka_errors`), so callers decide retry versus give-up with `exc.retriable` alone.

Guards, and the measured broker fault each one handles (docs: ../shared/EMBEDDED-BROKER.md):

- **Auto-created topics get 4 partitions, and any metadata request naming a missing topic auto-creates
  it** (a producer's send, a consumer's subscribe, even the admin client's `describe_topics([...])`).
  `ensure_topics` creates every topic explicitly and reads partition counts only from the all-topics
  metadata; the epoch check lists all topics before it reads `edx.epoch`, and its long-lived consumer
  tracks no topic between checks (aiokafka refreshes tracked topics' metadata when a connection breaks
  and periodically, which after a restart would re-create the topic). After a broker restart a client may still auto-create a topic
  before the watch recreates it, so the watch deletes and recreates topics whose partition count is wrong
  (`recreate_mismatched=True`); only records of the lost window are in them, and those are resent anyway.
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

Security: every maker and client takes `security=` (a `KafkaSecurity`, built once per process by
`kafka_security(settings)` from the `kafka_*` settings: TLS CA and client certificate, SASL SCRAM or PLAIN);
the default (`PLAINTEXT`) is the embedded broker's.

Modules: `_errors` (error mapping), `_security` (TLS/SASL options), `_topics` (topic creation), `_clients`
(producer/consumer/admin factories, `Publisher`), `_consumer` (epoch-aware `Consumer`), `_epoch`
(`EpochWatch`, `current_epoch`), `_acls` (Kafka ACL bindings, `apply_acls`).
"""

from ._acls import AclBinding, AclOperation, AclPattern, AclResource, apply_acls
from ._clients import OutRecord, Publisher, make_admin, make_consumer, make_producer, rewind, stop_consumer
from ._consumer import Batch, Consumer
from ._epoch import EpochWatch, current_epoch
from ._errors import map_kafka_errors
from ._security import PLAINTEXT, KafkaSecurity, kafka_security
from ._topics import ensure_topics, exchange_topics

__all__ = [
    "AclBinding",
    "AclOperation",
    "AclPattern",
    "AclResource",
    "Batch",
    "Consumer",
    "EpochWatch",
    "KafkaSecurity",
    "OutRecord",
    "PLAINTEXT",
    "Publisher",
    "apply_acls",
    "current_epoch",
    "ensure_topics",
    "exchange_topics",
    "kafka_security",
    "make_admin",
    "make_consumer",
    "make_producer",
    "map_kafka_errors",
    "rewind",
    "stop_consumer",
]
