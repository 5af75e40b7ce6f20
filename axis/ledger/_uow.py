"""Unit of work: one PostgreSQL transaction holding a batch's tracking rows, ledger rows and outbox rows.

`async with ledger.unit_of_work() as uow:` rolls back unless `await uow.commit()` ran, like
cosmicpython's. The router's Kafka offset is committed only after `commit()` returned, so a crash in
between replays the batch and the tracking rows (`processed_messages`) answer "already done".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self, Sequence

import asyncpg

from axis.errors import LedgerError
from axis.wire import Notice

from ._chain import GENESIS, event_hash
from ._directory import Directory
from ._pg import mapped
from ._status import LoggedEvent

_CHAIN_LOCK = 0x61786965  # serialises appends so prev_hash is the true predecessor


def delivery_id_for(message_id: str, recipient: str) -> str:
    """Deterministic per (message, recipient): a replayed batch recreates the same id."""
    return hashlib.sha256(f"{message_id}\x00{recipient}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """The tracking row of an outbound message already handled."""

    message_id: str
    kind: str
    sender: str
    document_id: str
    outcome: str
    reason: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A document row as the router needs it to judge statuses and links."""

    id: int
    document_id: str
    sender: str
    recipients: tuple[str, ...]
    business_type: int


class UnitOfWork:
    """One transaction; every method runs inside it. Not reusable after commit or rollback.

    Every unit of work takes the event chain's lock first: all of them may append events, and taking
    it later (after row locks on deliveries) let a router batch and the relay deadlock each other.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: Any = None
        self._tx: Any = None
        self._committed = False
        self._last_hash: str | None = None

    async def __aenter__(self) -> Self:
        with mapped():
            self._conn = await self._pool.acquire()
            try:
                self._tx = self._conn.transaction()
                await self._tx.start()
                await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _CHAIN_LOCK)
            except BaseException:
                await self._pool.release(self._conn)
                raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                with mapped():
                    await self._tx.rollback()
        except LedgerError:
            if exc is None:
                raise
        finally:
            await self._pool.release(self._conn)

    async def commit(self) -> None:
        with mapped():
            await self._tx.commit()
        self._committed = True

    @property
    def directory(self) -> Directory:
        """The directory read inside this transaction (the batch is judged on one snapshot)."""
        return Directory(self._conn)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """A single value from a statement inside this transaction (for small adapter-side updates)."""
        with mapped():
            return await self._conn.fetchval(sql, *args)

    # --- tracking rows ---------------------------------------------------------------------------

    async def processed(self, message_id: str) -> ProcessedMessage | None:
        with mapped():
            row = await self._conn.fetchrow(
                "SELECT message_id, kind, sender, document_id, outcome, reason, recipients"
                " FROM processed_messages WHERE message_id = $1",
                message_id,
            )
        if row is None:
            return None
        return ProcessedMessage(**{**dict(row), "recipients": tuple(row["recipients"])})

    async def record_message(
        self, *, message_id: str, kind: str, sender: str, document_id: str, outcome: str, reason: str,
        body_sha256: str, sent_at_ms: int, recipients: Sequence[str], at: datetime,
    ) -> None:
        with mapped():
            await self._conn.execute(
                "INSERT INTO processed_messages (message_id, kind, sender, document_id, outcome, reason,"
                " body_sha256, sent_at_ms, recipients, processed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
                message_id, kind, sender, document_id, outcome, reason, body_sha256, sent_at_ms,
                list(recipients), at,
            )

    # --- documents -------------------------------------------------------------------------------

    async def find_document(self, document_id: str, senders: Sequence[str] | None = None) -> DocumentRef | None:
        """The document with this id sent by one of `senders` (None: by anyone)."""
        with mapped():
            row = await self._conn.fetchrow(
                "SELECT id, document_id, sender, recipients, business_type FROM documents"
                " WHERE document_id = $1 AND ($2::text[] IS NULL OR sender = ANY($2::text[])) ORDER BY id LIMIT 1",
                document_id, None if senders is None else list(senders),
            )
        if row is None:
            return None
        return DocumentRef(row["id"], row["document_id"], row["sender"], tuple(row["recipients"]), row["business_type"])

    async def add_document(
        self, *, document_id: str, sender: str, message_id: str, subject: str, code: str, business_type: int,
        business_reason: str, recipients: Sequence[str], body: bytes, signer_fingerprint: str, at: datetime,
    ) -> DocumentRef:
        with mapped():
            ref = await self._conn.fetchval(
                "INSERT INTO documents (document_id, sender, message_id, subject, code, business_type,"
                " business_reason, recipients, body, signer_fingerprint, received_at)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING id",
                document_id, sender, message_id, subject, code, business_type, business_reason,
                list(recipients), body, signer_fingerprint, at,
            )
        return DocumentRef(ref, document_id, sender, tuple(recipients), business_type)

    async def link(self, document: DocumentRef, concerns: DocumentRef, organ_ids: Sequence[str]) -> None:
        with mapped():
            await self._conn.execute(
                "INSERT INTO document_links (document, concerns, business_type, organ_ids) VALUES ($1,$2,$3,$4)"
                " ON CONFLICT DO NOTHING",
                document.id, concerns.id, document.business_type, list(organ_ids),
            )

    async def add_status(
        self, *, message_id: str, document: DocumentRef, sender: str, code: str, description: str,
        status_at: datetime, body: bytes, at: datetime,
    ) -> None:
        with mapped():
            await self._conn.execute(
                "INSERT INTO status_messages (message_id, document, sender, status_code, description,"
                " status_at, body, received_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                message_id, document.id, sender, code, description, status_at, body, at,
            )

    # --- outbox ----------------------------------------------------------------------------------

    async def add_delivery(
        self, *, message_id: str, document: DocumentRef, recipient: str, kind: str, at: datetime
    ) -> str:
        delivery_id = delivery_id_for(message_id, recipient)
        with mapped():
            await self._conn.execute(
                "INSERT INTO deliveries (delivery_id, message_id, document, recipient, kind, next_attempt_at,"
                " created_at) VALUES ($1,$2,$3,$4,$5,$6,$6)",
                delivery_id, message_id, document.id, recipient, kind, at,
            )
        return delivery_id

    async def add_notice(self, organ_id: str, notice: Notice, at: datetime) -> None:
        with mapped():
            await self._conn.execute(
                "INSERT INTO notices (organ_id, message_id, outcome, body, created_at) VALUES ($1,$2,$3,$4,$5)",
                organ_id, notice.message_id, notice.outcome, notice.encode(), at,
            )

    async def ack_deliveries(
        self, delivery_ids: Sequence[str], recipient: str, at: datetime
    ) -> list[tuple[str, str, DocumentRef]]:
        """Mark deliveries acked (only by their recipient); returns (delivery_id, kind, document)."""
        with mapped():
            rows = await self._conn.fetch(
                "UPDATE deliveries d SET state = 'acked', acked_at = $3 FROM documents doc"
                " WHERE d.delivery_id = ANY($1::text[]) AND d.recipient = $2 AND doc.id = d.document"
                " AND d.state IN ('pending', 'published')"
                " RETURNING d.delivery_id, d.kind, doc.id, doc.document_id, doc.sender, doc.recipients, doc.business_type",
                list(delivery_ids), recipient, at,
            )
        return [
            (r["delivery_id"], r["kind"],
             DocumentRef(r["id"], r["document_id"], r["sender"], tuple(r["recipients"]), r["business_type"]))
            for r in rows
        ]

    async def ack_document_delivery(self, document: DocumentRef, recipient: str, at: datetime) -> bool:
        """A status 01 from the recipient proves the document itself arrived."""
        with mapped():
            row = await self._conn.fetchval(
                "UPDATE deliveries SET state = 'acked', acked_at = $3 WHERE document = $1 AND recipient = $2"
                " AND kind = 'edoc' AND state IN ('pending', 'published') RETURNING delivery_id",
                document.id, recipient, at,
            )
        return row is not None

    # --- events ----------------------------------------------------------------------------------

    async def log(self, document: DocumentRef, recipient: str) -> list[LoggedEvent]:
        """The (document, recipient) events the status rules look at, in arrival order."""
        with mapped():
            rows = await self._conn.fetch(
                "SELECT e.kind, e.status_code, s.status_at FROM events e"
                " LEFT JOIN status_messages s ON s.message_id = e.message_id AND e.kind = 'status'"
                " WHERE e.document = $1 AND e.recipient = $2 ORDER BY e.seq",
                document.id, recipient,
            )
        return [LoggedEvent(r["kind"], r["status_code"], r["status_at"]) for r in rows]

    async def append_event(
        self, document: DocumentRef, *, at: datetime, kind: str, actor: str, recipient: str = "",
        status_code: str = "", message_id: str = "", detail: dict[str, Any] | None = None, signature: str = "",
    ) -> int:
        """Append one event to the chain; returns its sequence number."""
        with mapped():
            if self._last_hash is None:  # the chain lock is held since __aenter__
                last = await self._conn.fetchval("SELECT hash FROM events ORDER BY seq DESC LIMIT 1")
                self._last_hash = last or GENESIS
            seq = await self._conn.fetchval("SELECT nextval('events_seq')")
            row = {
                "seq": seq, "at": at, "document_id": document.document_id, "recipient": recipient,
                "actor": actor, "kind": kind, "status_code": status_code, "message_id": message_id,
                "detail": detail or {}, "signature": signature,
            }
            digest = event_hash(row, self._last_hash)
            await self._conn.execute(
                "INSERT INTO events (seq, at, document, document_id, recipient, actor, kind, status_code,"
                " message_id, detail, signature, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
                seq, at, document.id, document.document_id, recipient, actor, kind, status_code, message_id,
                row["detail"], signature, self._last_hash, digest,
            )
            self._last_hash = digest
        return int(seq)
