"""Unit of work: one PostgreSQL transaction holding a batch's tracking rows, ledger rows and outbox rows.

`async with ledger.unit_of_work() as uow:` rolls back unless `await uow.commit()` ran, like
cosmicpython's. The router's Kafka offset is committed only after `commit()` returned, so a crash in
between replays the batch and the tracking rows (`processed_messages`) answer "already done".

Writes are queued (`_pending.Pending`) and sent at `flush()`/`commit()`, one statement per table; reads
go through maps of what this unit knows (rows loaded from the database plus rows it queued), so a
record later in a batch sees what an earlier one decided exactly as if every row had been written at
once. `preload()` fills those maps for a whole batch in a few queries; anything not preloaded is read
when first asked for. A driver error from a queued write therefore surfaces at `flush()`/`commit()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import asyncpg

from axis.errors import LedgerError
from axis.wire import Notice

from ._directory import DirectorySnapshot
from ._pending import DeliveryState, EventDraft, Pending
from ._pg import mapped
from ._refs import DeadLetterRow, DocumentRef, ProcessedMessage, delivery_id_for
from ._status import LoggedEvent

__all__ = ["DocumentRef", "ProcessedMessage", "UnitOfWork", "delivery_id_for"]

_DOCUMENT_COLUMNS = "d.id, d.document_id, d.sender, d.recipients, d.business_type, d.received_at"
_Entry = tuple[str, str, str, "datetime | None", str]  # recipient, kind, status code, status_at, message id


def _ref(row: Any, id_column: str = "id") -> DocumentRef:
    return DocumentRef(row[id_column], row["document_id"], row["sender"], tuple(row["recipients"]), row["business_type"],
                       row["received_at"])


class UnitOfWork:
    """One transaction; every method runs inside it. Not reusable after commit or rollback.

    No unit of work takes a global lock (events are batched, not chained): units that update the same
    delivery rows (a router batch's acks, the relay's publications) lock them in delivery id order, so they
    wait for each other instead of deadlocking.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: Any = None
        self._tx: Any = None
        self._committed = False
        self._pending = Pending()
        self._directory: DirectorySnapshot | None = None
        self._messages: dict[str, ProcessedMessage | None] = {}
        self._documents: dict[tuple[str, str], DocumentRef | None] = {}  # (document id, sender)
        self._created: list[DocumentRef] = []
        self._free_ids: list[int] = []  # document ids taken from the sequence, not used yet
        self._logs: dict[int, list[_Entry]] = {}  # document row id -> its events, for documents fully known
        self._status_at: dict[str, datetime] = {}  # status messages queued here, by message id
        self._deliveries: dict[str, DeliveryState | None] = {}
        self._edoc_delivery: dict[tuple[int, str], DeliveryState] = {}  # (document row id, recipient)
        self._edoc_known: set[int] = set()  # documents whose edoc deliveries are all in the maps

    async def __aenter__(self) -> Self:
        with mapped():
            self._conn = await self._pool.acquire()
            try:
                self._tx = self._conn.transaction()
                await self._tx.start()
            except BaseException:
                await self._pool.release(self._conn)
                raise
        self._directory = DirectorySnapshot(self._conn)
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

    async def flush(self) -> None:
        """Write every queued row now (still inside the transaction)."""
        with mapped():
            await self._pending.flush(self._conn)

    async def commit(self) -> None:
        await self.flush()
        with mapped():
            await self._tx.commit()
        self._committed = True

    @property
    def directory(self) -> DirectorySnapshot:
        """The directory as this transaction read it: each agency once, the batch judged on one view."""
        assert self._directory is not None, "use the unit of work inside `async with`"
        return self._directory

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """A single value from a statement inside this transaction, after the queued rows are written.

        Raw statements bypass this unit's maps: use them only for rows it does not also read through them.
        """
        await self.flush()
        with mapped():
            return await self._conn.fetchval(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Rows from a statement inside this transaction (same rule as `fetchval`)."""
        await self.flush()
        with mapped():
            return list(await self._conn.fetch(sql, *args))

    # --- reading a batch's rows up front ------------------------------------------------------------

    async def preload(
        self, *, message_ids: Iterable[str] = (), documents: Iterable[tuple[str, str]] = (),
        organ_ids: Iterable[str] = (), delivery_ids: Iterable[str] = (), new_documents: int = 0,
    ) -> None:
        """Load what a batch will ask about in a few queries instead of several per record.

        `documents` are (document id, sender) keys; the events and edoc deliveries of those found come
        along (status rules and acks need them). `new_documents` reserves that many document ids.
        """
        await self._load_messages([m for m in dict.fromkeys(message_ids) if m not in self._messages])
        found = await self._load_documents([k for k in dict.fromkeys(documents) if k not in self._documents])
        await self.directory.many(list(organ_ids))
        await self._load_logs([d.id for d in found if d.id not in self._logs])
        await self._load_deliveries(
            [i for i in dict.fromkeys(delivery_ids) if i not in self._deliveries],
            [d.id for d in found if d.id not in self._edoc_known],
        )
        await self._reserve_document_ids(new_documents - len(self._free_ids))

    async def _load_messages(self, message_ids: list[str]) -> None:
        if not message_ids:
            return
        with mapped():
            rows = await self._conn.fetch(
                "SELECT message_id, kind, sender, document_id, outcome, reason, recipients"
                " FROM processed_messages WHERE message_id = ANY($1::text[])",
                message_ids,
            )
        self._messages.update(dict.fromkeys(message_ids))
        for row in rows:
            self._messages[row["message_id"]] = ProcessedMessage(**{**dict(row), "recipients": tuple(row["recipients"])})

    async def _load_documents(self, keys: list[tuple[str, str]]) -> list[DocumentRef]:
        if not keys:
            return []
        with mapped():
            rows = await self._conn.fetch(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents d"
                " JOIN unnest($1::text[], $2::text[]) AS k(document_id, sender) USING (document_id, sender)",
                [k[0] for k in keys], [k[1] for k in keys],
            )
        self._documents.update(dict.fromkeys(keys))
        found = [_ref(row) for row in rows]
        for ref in found:
            self._documents[(ref.document_id, ref.sender)] = ref
        return found

    async def _load_logs(self, document_ids: list[int]) -> None:
        if not document_ids:
            return
        with mapped():
            rows = await self._conn.fetch(
                "SELECT e.document, e.recipient, e.kind, e.status_code, e.message_id, s.status_at FROM events e"
                " LEFT JOIN status_messages s ON s.message_id = e.message_id AND e.kind = 'status'"
                " WHERE e.document = ANY($1::bigint[]) ORDER BY e.seq",
                document_ids,
            )
        for doc_id in document_ids:
            self._logs[doc_id] = []
        for r in rows:
            self._logs[r["document"]].append((r["recipient"], r["kind"], r["status_code"], r["status_at"], r["message_id"]))

    async def _load_deliveries(self, delivery_ids: list[str], edocs_of: list[int]) -> None:
        if not delivery_ids and not edocs_of:
            return
        with mapped():
            rows = await self._conn.fetch(
                f"SELECT x.delivery_id, x.message_id, x.recipient, x.kind, x.state, d.id AS doc_id, {_DOCUMENT_COLUMNS}"
                " FROM deliveries x JOIN documents d ON d.id = x.document"
                " WHERE x.delivery_id = ANY($1::text[]) OR (x.document = ANY($2::bigint[]) AND x.kind = 'edoc')",
                delivery_ids, edocs_of,
            )
        self._deliveries.update(dict.fromkeys(delivery_ids))
        self._edoc_known.update(edocs_of)
        for r in rows:
            if r["delivery_id"] in self._deliveries and self._deliveries[r["delivery_id"]] is not None:
                continue  # already known here (maybe changed by this unit): keep that copy
            self._remember(DeliveryState(r["delivery_id"], r["message_id"], _ref(r, "doc_id"), r["recipient"], r["kind"], r["state"]))

    def _remember(self, delivery: DeliveryState) -> None:
        self._deliveries[delivery.delivery_id] = delivery
        if delivery.kind == "edoc":
            self._edoc_delivery[(delivery.document.id, delivery.recipient)] = delivery

    async def _reserve_document_ids(self, count: int) -> None:
        if count <= 0:
            return
        with mapped():
            rows = await self._conn.fetch("SELECT nextval('documents_id_seq') AS id FROM generate_series(1, $1)", count)
        self._free_ids.extend(sorted(r["id"] for r in rows))

    # --- tracking rows ---------------------------------------------------------------------------

    async def processed(self, message_id: str) -> ProcessedMessage | None:
        if message_id not in self._messages:
            await self._load_messages([message_id])
        return self._messages[message_id]

    async def record_message(
        self, *, message_id: str, kind: str, sender: str, document_id: str, outcome: str, reason: str,
        body_sha256: str, sent_at_ms: int, recipients: Sequence[str], at: datetime,
    ) -> None:
        self._messages[message_id] = ProcessedMessage(message_id, kind, sender, document_id, outcome, reason, tuple(recipients))
        self._pending.messages.append(
            (message_id, kind, sender, document_id, outcome, reason, body_sha256, sent_at_ms, list(recipients), at)
        )

    def add_dead_letter(self, letter: DeadLetterRow) -> None:
        """Keep a refused package with its exact bytes and headers, for the operator to see and requeue."""
        self._pending.dead_letters.append(letter.row())

    # --- documents -------------------------------------------------------------------------------

    async def find_document(self, document_id: str, senders: Sequence[str] | None = None) -> DocumentRef | None:
        """The document with this id sent by one of `senders` (None: by anyone); the oldest if several."""
        if senders is None:
            with mapped():
                row = await self._conn.fetchrow(
                    f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.document_id = $1 ORDER BY d.id LIMIT 1",
                    document_id,
                )
            hits = ([_ref(row)] if row else []) + [d for d in self._created if d.document_id == document_id]
        else:
            keys = [(document_id, s) for s in dict.fromkeys(senders)]
            await self._load_documents([k for k in keys if k not in self._documents])
            hits = [ref for k in keys if (ref := self._documents[k]) is not None]
        return min(hits, key=lambda d: d.id) if hits else None

    async def add_document(
        self, *, document_id: str, sender: str, message_id: str, subject: str, code: str, business_type: int,
        business_reason: str, recipients: Sequence[str], body: bytes, signer_fingerprint: str, at: datetime,
    ) -> DocumentRef:
        if not self._free_ids:
            await self._reserve_document_ids(1)
        ref = DocumentRef(self._free_ids.pop(0), document_id, sender, tuple(recipients), business_type, at)
        self._pending.documents.append((
            ref.id, document_id, sender, message_id, subject, code, business_type, business_reason,
            list(recipients), body, signer_fingerprint, at,
        ))
        if self._documents.get((document_id, sender)) is None:
            self._documents[(document_id, sender)] = ref
        self._created.append(ref)
        self._logs[ref.id] = []
        self._edoc_known.add(ref.id)
        return ref

    async def link(self, document: DocumentRef, concerns: DocumentRef, organ_ids: Sequence[str]) -> None:
        self._pending.links.append((document.id, concerns.id, document.business_type, list(organ_ids)))

    async def add_status(
        self, *, message_id: str, document: DocumentRef, sender: str, code: str, description: str,
        status_at: datetime, body: bytes, at: datetime,
    ) -> None:
        self._status_at[message_id] = status_at
        self._pending.statuses.append((message_id, document.id, sender, code, description, status_at, body, at))

    # --- outbox ----------------------------------------------------------------------------------

    async def add_delivery(
        self, *, message_id: str, document: DocumentRef, recipient: str, kind: str, at: datetime
    ) -> str:
        delivery = DeliveryState(
            delivery_id_for(message_id, recipient), message_id, document, recipient, kind, "pending",
            created_at=at, written=False,
        )
        self._remember(delivery)
        self._pending.deliveries.append(delivery)
        return delivery.delivery_id

    async def add_notice(self, organ_id: str, notice: Notice, at: datetime) -> None:
        self._pending.notices.append((organ_id, notice.message_id, notice.outcome, notice.encode(), at))

    def _ack(self, delivery: DeliveryState | None, recipient: str, at: datetime) -> bool:
        if delivery is None or delivery.recipient != recipient or not delivery.ackable:
            return False
        delivery.state, delivery.acked_at = "acked", at
        if delivery.written:
            self._pending.acked.append(delivery)
        return True

    async def ack_deliveries(
        self, delivery_ids: Sequence[str], recipient: str, at: datetime
    ) -> list[tuple[str, str, DocumentRef]]:
        """Mark deliveries acked (only by their recipient); returns (delivery_id, kind, document)."""
        ids = list(dict.fromkeys(delivery_ids))
        await self._load_deliveries([i for i in ids if i not in self._deliveries], [])
        acked = [d for i in ids if self._ack(d := self._deliveries[i], recipient, at)]
        return [(d.delivery_id, d.kind, d.document) for d in acked if d is not None]

    async def ack_document_delivery(self, document: DocumentRef, recipient: str, at: datetime) -> bool:
        """A status 01 from the recipient proves the document itself arrived."""
        if document.id not in self._edoc_known:
            await self._load_deliveries([], [document.id])
        return self._ack(self._edoc_delivery.get((document.id, recipient)), recipient, at)

    # --- events ----------------------------------------------------------------------------------

    async def log(self, document: DocumentRef, recipient: str) -> list[LoggedEvent]:
        """The (document, recipient) events the status rules look at, in arrival order."""
        if document.id not in self._logs:
            await self._load_logs([document.id])
        return [
            LoggedEvent(kind, code, at if at is not None or kind != "status" else self._status_at.get(message_id))
            for who, kind, code, at, message_id in self._logs[document.id] if who == recipient
        ]

    async def append_event(
        self, document: DocumentRef | None, *, at: datetime, kind: str, actor: str, recipient: str = "",
        status_code: str = "", message_id: str = "", detail: dict[str, Any] | None = None, signature: str = "",
        body_sha256: str = "", document_id: str = "",
    ) -> None:
        """Queue one event (hashed and batched with the unit's others when it flushes). `body_sha256`: the
        bytes it concerns; `signature`: how their signature verified; `document_id` when there is no row."""
        self._pending.events.append(EventDraft(
            document, at, kind, actor, recipient, status_code, message_id, detail or {}, signature, body_sha256,
            document_id))
        if document is not None and document.id in self._logs:
            self._logs[document.id].append((recipient, kind, status_code, None, message_id))
