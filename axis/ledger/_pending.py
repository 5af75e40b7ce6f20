"""Rows a unit of work has decided on but not yet written, sent as one statement per table at flush.

Why: the router judges a batch of hundreds of records in one transaction. One INSERT per row made that
transaction thousands of round trips long. Queued rows keep the order they were decided in; events get
their sequence numbers and hashes at flush, in that order, and are recorded as one batch whose Merkle root
covers them (no lock: several routers append at once; checkpoints seal the batches, `axis.proof`). Tables are written in
foreign-key order (tracking rows, documents, links, statuses, deliveries, notices, dead letters, events),
then the pointers of the facts to publish on `edx.events` (each event, each refusal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._chain import canonical_json, event_digest
from ._merkle import merkle_root
from ._refs import DocumentRef


@dataclass(slots=True)
class DeliveryState:
    """A delivery row as a unit of work tracks it: loaded from the database or created in the unit."""

    delivery_id: str
    message_id: str
    document: DocumentRef
    recipient: str
    kind: str
    state: str
    created_at: datetime | None = None  # set for a row created in this unit
    acked_at: datetime | None = None
    written: bool = True

    @property
    def ackable(self) -> bool:
        return self.state in ("pending", "published")


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event before it has a sequence number, a hash and a batch.

    `document` is None for a package refused before any document was known, and for an operator's action
    on no document; `document_id` then says what it was about ("" for nothing)."""

    document: DocumentRef | None
    at: datetime
    kind: str
    actor: str
    recipient: str
    status_code: str
    message_id: str
    detail: dict[str, Any]
    signature: str  # how the signature of the bytes concerned verified ("xmldsig:<alg>:<fingerprint>", a reason)
    body_sha256: str = ""  # SHA-256 of the exact bytes concerned (package, status, ack, notice)
    document_id: str = ""

    @property
    def about(self) -> str:
        return self.document.document_id if self.document is not None else self.document_id


_INSERT_MESSAGE = (
    "INSERT INTO processed_messages (message_id, kind, sender, document_id, outcome, reason, body_sha256,"
    " sent_at_ms, recipients, processed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
)
_INSERT_DOCUMENT = (
    "INSERT INTO documents (id, document_id, sender, message_id, subject, code, business_type, business_reason,"
    " recipients, body, signer_fingerprint, received_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
)
_INSERT_LINK = (
    "INSERT INTO document_links (document, concerns, business_type, organ_ids) VALUES ($1,$2,$3,$4)"
    " ON CONFLICT DO NOTHING"
)
_INSERT_STATUS = (
    "INSERT INTO status_messages (message_id, document, sender, status_code, description, status_at, body,"
    " received_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
)
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (delivery_id, message_id, document, recipient, kind, state, acked_at, next_attempt_at,"
    " created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8)"
)
_ACK_DELIVERY = (
    "UPDATE deliveries SET state = 'acked', acked_at = $2 WHERE delivery_id = $1 AND state IN ('pending', 'published')"
)
_INSERT_NOTICE = "INSERT INTO notices (organ_id, message_id, outcome, body, created_at) VALUES ($1,$2,$3,$4,$5)"
_INSERT_DEAD_LETTER = (
    "INSERT INTO dead_letters (message_id, sender, kind, document_id, reason_code, reason, headers, body, refused_at)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (message_id) DO NOTHING"
)
_INSERT_FACTS = "INSERT INTO event_outbox (fact_id) SELECT unnest($1::text[])"
# One statement for a unit's events and their batch row (no extra round trip for the batch).
_INSERT_EVENTS = (
    "WITH batch AS (INSERT INTO event_batches (at, root, events) VALUES ($1, $2, $3) RETURNING id)"
    " INSERT INTO events (seq, at, document, document_id, recipient, actor, kind, status_code, message_id, detail,"
    " signature, body_sha256, prev_hash, hash, batch)"
    " SELECT e.seq, e.at, e.document, e.document_id, e.recipient, e.actor, e.kind, e.status_code, e.message_id,"
    " e.detail, e.signature, e.body_sha256, '', e.hash, batch.id FROM batch, unnest($4::bigint[], $5::timestamptz[],"
    " $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::jsonb[],"
    " $14::text[], $15::text[], $16::text[]) AS e(seq, at, document, document_id, recipient, actor, kind,"
    " status_code, message_id, detail, signature, body_sha256, hash)"
)


@dataclass
class Pending:
    """The queue of one unit of work; `flush()` empties it."""

    messages: list[tuple[Any, ...]] = field(default_factory=list)
    documents: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)
    statuses: list[tuple[Any, ...]] = field(default_factory=list)
    deliveries: list[DeliveryState] = field(default_factory=list)  # new rows
    acked: list[DeliveryState] = field(default_factory=list)  # rows already in the database, acked now
    notices: list[tuple[Any, ...]] = field(default_factory=list)
    dead_letters: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[EventDraft] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)  # to publish on edx.events (events add theirs at flush)

    async def flush(self, conn: Any) -> None:
        """Write everything queued on `conn` (inside the caller's transaction)."""
        for sql, rows in (
            (_INSERT_MESSAGE, self.messages), (_INSERT_DOCUMENT, self.documents), (_INSERT_LINK, self.links),
            (_INSERT_STATUS, self.statuses),
            (_INSERT_DELIVERY, [_delivery_row(d) for d in self.deliveries]),
            (_ACK_DELIVERY, sorted((d.delivery_id, d.acked_at) for d in self.acked)),  # lock order: delivery id
            (_INSERT_NOTICE, self.notices), (_INSERT_DEAD_LETTER, self.dead_letters),
        ):
            if rows:
                await conn.executemany(sql, rows)
        if self.events:
            await self._append_events(conn)
        if self.facts:
            await conn.execute(_INSERT_FACTS, self.facts)
        for d in self.deliveries:
            d.written = True
        self.messages, self.documents, self.links, self.statuses = [], [], [], []
        self.deliveries, self.acked, self.notices, self.events = [], [], [], []
        self.dead_letters, self.facts = [], []

    async def _append_events(self, conn: Any) -> None:
        """Number and hash the queued events, and record them as one batch with its Merkle root."""
        seqs = sorted(
            r[0] for r in await conn.fetch("SELECT nextval('events_seq') FROM generate_series(1, $1)", len(self.events))
        )
        hashed = []
        for seq, e in zip(seqs, self.events, strict=True):
            detail = canonical_json(e.detail)  # encoded once: hashed, then stored as it is
            fields = {
                "seq": seq, "at": e.at, "document_id": e.about, "recipient": e.recipient, "actor": e.actor,
                "kind": e.kind, "status_code": e.status_code, "message_id": e.message_id, "detail": detail,
                "signature": e.signature, "body_sha256": e.body_sha256,
            }
            hashed.append((seq, e, detail, event_digest(fields)))
        columns = list(zip(*[
            (seq, e.at, e.document.id if e.document is not None else None, e.about, e.recipient, e.actor, e.kind,
             e.status_code, e.message_id, detail, e.signature, e.body_sha256, digest)
            for seq, e, detail, digest in hashed
        ], strict=True))
        await conn.execute(_INSERT_EVENTS, max(e.at for e in self.events),
                           merkle_root([digest for *_, digest in hashed]), len(hashed), *map(list, columns))
        self.facts += [f"e{seq}" for seq, *_ in hashed]


def _delivery_row(d: DeliveryState) -> tuple[Any, ...]:
    return (d.delivery_id, d.message_id, d.document.id, d.recipient, d.kind, d.state, d.acked_at, d.created_at)
