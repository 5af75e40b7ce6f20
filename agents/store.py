"""The agent's durable state: one SQLite file in WAL mode, reached through aiosqlite's worker thread.

Every write that must stay consistent goes through a unit of work (`async with store.unit_of_work() as uow`,
then `await uow.commit()`; leaving the block without commit rolls back), so a document and its outbox row,
or a received package, its delivery row and the automatic status 01, are stored together or not at all.
One connection and one asyncio lock serialise access: SQLite has one writer anyway, and a read never sees
a half-written unit of work.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from axis.wire import DirectoryEntry, Notice, now_ms
from edxml import StatusCode

from ._schema import SCHEMA
from .errors import AgentUnavailable, NotFound
from .model import Kind, ReceivedItem, SentRecipient, Submission, TransportStatus, ms_to_dt


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A package entering the outbox: signed bytes plus what the listings show about it."""

    message_id: str
    kind: Kind
    document_id: str
    recipients: tuple[str, ...]
    submitted_sha256: str
    body: bytes
    body_sha256: str
    subject: str = ""
    code_notation: str = ""
    status_code: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PendingRow:
    """An unconfirmed outbox row as the relay publishes it."""

    message_id: str
    kind: Kind
    document_id: str
    body: bytes
    body_sha256: str
    first_sent_at_ms: int | None
    attempts: int


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A verified delivery about to be stored."""

    message_id: str
    kind: Kind
    sender: str
    document_id: str
    recipients: tuple[str, ...]
    subject: str
    status_code: str | None
    description: str
    doc_type: int | None
    signer: str
    body: bytes
    sent_at_ms: int | None


_RECEIVED_COLS = (
    "message_id, kind, sender, document_id, recipients, subject, status_code, received_at_ms, updated_at_ms,"
    " transport_status, transport_reason, signer, body, doc_type, superseded, superseded_by, sent_at_ms"
)
_SENT_SQL = (
    "SELECT s.message_id, s.document_id, s.recipient, s.kind, o.subject, o.code_notation, o.first_sent_at_ms,"
    " s.state, s.reason, s.last_status_code, s.last_status_description, s.last_status_at_ms"
    " FROM sent s JOIN outbox o ON o.message_id = s.message_id"
)


def _received(row: Sequence[Any]) -> ReceivedItem:
    return ReceivedItem(
        message_id=row[0], kind=row[1], sender=row[2], document_id=row[3], recipients=tuple(json.loads(row[4])),
        subject=row[5], status_code=row[6], received_at=ms_to_dt(row[7]), updated_at=ms_to_dt(row[8]),  # type: ignore[arg-type]
        transport_status=row[9], transport_reason=row[10], signer=row[11], body=bytes(row[12]), doc_type=row[13],
        superseded=row[14], superseded_by=row[15], sent_at=ms_to_dt(row[16]),
    )


def _sent(row: Sequence[Any]) -> SentRecipient:
    return SentRecipient(
        message_id=row[0], document_id=row[1], recipient=row[2], kind=row[3], subject=row[4], code_notation=row[5],
        sent_at=ms_to_dt(row[6]), state=row[7], reason=row[8], last_status_code=row[9],
        last_status_description=row[10], last_status_at=ms_to_dt(row[11]),
    )


class UnitOfWork:
    """Writes that commit together; obtained from `Store.unit_of_work()`, never built directly."""

    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], int]) -> None:
        self._db = db
        self._clock = clock
        self.committed = False

    async def commit(self) -> None:
        await self._db.commit()
        self.committed = True

    async def add_outbox(self, entry: OutboxEntry) -> Submission:
        """Insert a pending row and its per-recipient rows; an identical earlier submission wins (duplicate=True)."""
        at = self._clock()
        cur = await self._db.execute(
            "INSERT INTO outbox (message_id, kind, document_id, recipients, submitted_sha256, body, body_sha256,"
            " subject, code_notation, status_code, description, created_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (kind, document_id, submitted_sha256) DO NOTHING",
            (entry.message_id, entry.kind, entry.document_id, json.dumps(list(entry.recipients)),
             entry.submitted_sha256, entry.body, entry.body_sha256, entry.subject, entry.code_notation,
             entry.status_code, entry.description, at),
        )
        if cur.rowcount == 0:
            found = await _find_submission(self._db, entry.kind, entry.document_id, entry.submitted_sha256)
            if found is None:  # pragma: no cover - the conflict row cannot vanish inside our transaction
                raise AgentUnavailable("outbox conflict without a row")
            return found
        await self._db.executemany(
            "INSERT INTO sent (message_id, recipient, document_id, kind) VALUES (?,?,?,?)",
            [(entry.message_id, r, entry.document_id, entry.kind) for r in entry.recipients],
        )
        return Submission(entry.message_id, entry.document_id, entry.kind, False, ms_to_dt(at))  # type: ignore[arg-type]

    async def add_inbox(self, entry: InboxEntry, delivery_id: str | None) -> bool:
        """Store a delivery; False when the message id is already stored (a redelivery). The delivery id is
        remembered either way so that it gets its `ack`."""
        at = self._clock()
        if delivery_id:
            await self._db.execute(
                "INSERT INTO deliveries (delivery_id, message_id) VALUES (?, ?) ON CONFLICT DO UPDATE SET acked = 0",
                (delivery_id, entry.message_id),
            )
        cur = await self._db.execute(
            "INSERT INTO inbox (message_id, kind, sender, document_id, recipients, subject, status_code, description,"
            " doc_type, received_at_ms, updated_at_ms, sent_at_ms, signer, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (message_id) DO NOTHING",
            (entry.message_id, entry.kind, entry.sender, entry.document_id, json.dumps(list(entry.recipients)),
             entry.subject, entry.status_code, entry.description, entry.doc_type, at, at, entry.sent_at_ms,
             entry.signer, entry.body),
        )
        return cur.rowcount > 0

    async def add_rejected(self, delivery_id: str, message_id: str, sender: str, reason: str, body: bytes) -> None:
        """Keep a delivery that failed verification, with why. It is not acknowledged: the router delivers
        it again, and after its redelivery limit tells the sender it was undeliverable, so the failure is
        visible to both sides instead of the document vanishing here."""
        await self._db.execute(
            "INSERT INTO rejected (delivery_id, message_id, sender, reason, body, at_ms) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT DO UPDATE SET reason = excluded.reason, body = excluded.body, at_ms = excluded.at_ms",
            (delivery_id, message_id, sender, reason, body, self._clock()),
        )

    async def mark_superseded(self, sender: str, document_ids: Sequence[str], how: str, by: str) -> int:
        """Mark earlier documents from `sender` as revoked/updated/replaced by message `by`."""
        total = 0
        for doc in document_ids:
            cur = await self._db.execute(
                "UPDATE inbox SET superseded = ?, superseded_by = ?, updated_at_ms = ?, exported = 0"
                " WHERE kind = 'edoc' AND sender = ? AND document_id = ? AND message_id <> ?",
                (how, by, self._clock(), sender, doc, by),
            )
            total += cur.rowcount
        return total

    async def apply_status(self, document_id: str, recipient: str, code: str, description: str, at_ms: int) -> None:
        """A recipient's status about a document we sent: it arrived there, and may be its furthest answer.

        Statuses can arrive out of order and carry timestamps to the second, so the last status shown is the
        furthest along (`StatusCode.progress`), not the last to arrive."""
        async with self._db.execute(
            "SELECT last_status_code FROM sent WHERE document_id = ? AND recipient = ? AND kind = 'edoc'",
            (document_id, recipient),
        ) as cur:
            row = await cur.fetchone()
        current = row[0] if row else None
        furthest = current is None or StatusCode(code).progress >= StatusCode(current).progress
        await self._db.execute(
            "UPDATE sent SET state = CASE WHEN state IN ('pending', 'accepted') THEN 'delivered' ELSE state END"
            + (", last_status_code = ?, last_status_description = ?, last_status_at_ms = ?" if furthest else "")
            + " WHERE document_id = ? AND recipient = ? AND kind = 'edoc'",
            ((code, description, at_ms) if furthest else ()) + (document_id, recipient),
        )


async def _find_submission(db: aiosqlite.Connection, kind: str, document_id: str, sha: str) -> Submission | None:
    async with db.execute(
        "SELECT message_id, document_id, kind, created_at_ms FROM outbox"
        " WHERE kind = ? AND document_id = ? AND submitted_sha256 = ?", (kind, document_id, sha),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else Submission(row[0], row[1], row[2], True, ms_to_dt(row[3]))  # type: ignore[arg-type]


class Store:
    """The agent's SQLite database. `open()`/`close()` (or `async with`); `close()` is idempotent."""

    def __init__(self, path: Path, *, clock: Callable[[], int] = now_ms, synchronous: str = "FULL") -> None:
        self.path = path
        self._clock = clock
        self._synchronous = synchronous
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._directory: dict[str, DirectoryEntry] | None = None  # the mirror, cached until it changes
        self._directory_version = 0
        self.directory_synced = False

    async def open(self) -> None:
        if self._db is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute(f"PRAGMA synchronous={self._synchronous}")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.executescript(SCHEMA)
        await db.commit()
        async with db.execute("SELECT 1 FROM meta WHERE key = 'directory_synced_at_ms'") as cur:
            self.directory_synced = await cur.fetchone() is not None
        self._db = db

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            async with self._lock:
                await db.close()

    async def __aenter__(self) -> "Store":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise AgentUnavailable("the agent store is closed")
        return self._db

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with self._lock:
            db = self._conn()
            await db.execute("BEGIN IMMEDIATE")
            uow = UnitOfWork(db, self._clock)
            try:
                yield uow
            finally:
                if not uow.committed:
                    await db.rollback()

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._lock:
            async with self._conn().execute(sql, params) as cur:
                return list(await cur.fetchall())

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._lock:
            db = self._conn()
            cur = await db.execute(sql, params)
            await db.commit()
            return cur.rowcount

    # -- outbox and relay ---------------------------------------------------------------------------------

    async def find_submission(self, kind: Kind, document_id: str, submitted_sha256: str) -> Submission | None:
        async with self._lock:
            return await _find_submission(self._conn(), kind, document_id, submitted_sha256)

    async def due(self, limit: int) -> list[PendingRow]:
        rows = await self._fetch(
            "SELECT message_id, kind, document_id, body, body_sha256, first_sent_at_ms, attempts FROM outbox"
            " WHERE state = 'pending' AND next_attempt_at_ms <= ? ORDER BY next_attempt_at_ms, created_at_ms LIMIT ?",
            (self._clock(), limit),
        )
        return [PendingRow(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6]) for r in rows]

    async def next_due_ms(self) -> int | None:
        rows = await self._fetch("SELECT MIN(next_attempt_at_ms) FROM outbox WHERE state = 'pending'")
        return rows[0][0]

    async def mark_published(self, sent: Sequence[tuple[str, int, int]]) -> None:
        """Record publishes: (message_id, sent_at_ms, next_attempt_at_ms); sent-at keeps the first one."""
        async with self._lock:
            db = self._conn()
            await db.executemany(
                "UPDATE outbox SET first_sent_at_ms = COALESCE(first_sent_at_ms, ?1), last_sent_at_ms = ?1,"
                " attempts = attempts + 1, next_attempt_at_ms = ?2 WHERE message_id = ?3 AND state = 'pending'",
                [(at, nxt, mid) for mid, at, nxt in sent],
            )
            await db.commit()

    async def resend_all_pending(self) -> int:
        """After a broker epoch change: everything unconfirmed becomes due now."""
        return await self._write("UPDATE outbox SET next_attempt_at_ms = 0 WHERE state = 'pending'")

    async def count_pending(self) -> int:
        return int((await self._fetch("SELECT COUNT(*) FROM outbox WHERE state = 'pending'"))[0][0])

    async def oldest_pending_ms(self) -> int | None:
        """When the oldest unconfirmed outbox row was created (ms since the epoch), if any."""
        rows = await self._fetch("SELECT MIN(created_at_ms) FROM outbox WHERE state = 'pending'")
        return rows[0][0]

    async def apply_notice(self, notice: Notice) -> bool:
        """Apply the router's notice; False when it names a message this agent never sent."""
        at = notice.at_ms or self._clock()
        async with self._lock:
            db = self._conn()
            if notice.outcome == "undeliverable":
                cur = await db.execute(
                    "UPDATE sent SET state = 'undeliverable', reason = ? WHERE message_id = ? AND recipient = ?",
                    (notice.reason, notice.message_id, notice.recipient),
                )
            else:
                settled = "('pending', 'refused')" if notice.requeued else "('pending')"  # a requeue may undo a refusal
                cur = await db.execute(
                    "UPDATE outbox SET state = ?, reason = ?, confirmed_at_ms = ? WHERE message_id = ?"
                    f" AND state IN {settled}", (notice.outcome, notice.reason or None, at, notice.message_id),
                )
                target = "refused" if notice.outcome == "refused" else "accepted"
                await db.execute(
                    f"UPDATE sent SET state = ?, reason = ? WHERE message_id = ? AND state IN {settled}",
                    (target, notice.reason or None, notice.message_id),
                )
            await db.commit()
            return cur.rowcount > 0

    # -- received ------------------------------------------------------------------------------------------

    async def received(self, *, kind: Kind | None = None, pending_only: bool = False, limit: int = 1000,
                       document_id: str | None = None) -> list[ReceivedItem]:
        where, params = ["1=1"], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if pending_only:
            where.append("transport_status <> 'done'")  # 'fail' stays listed until acknowledged done
        if document_id is not None:
            where.append("document_id = ?")
            params.append(document_id)
        rows = await self._fetch(
            f"SELECT {_RECEIVED_COLS} FROM inbox WHERE {' AND '.join(where)} ORDER BY received_at_ms, rowid LIMIT ?",
            (*params, limit),
        )
        return [_received(r) for r in rows]

    async def received_item(self, message_id: str) -> ReceivedItem:
        rows = await self._fetch(f"SELECT {_RECEIVED_COLS} FROM inbox WHERE message_id = ?", (message_id,))
        if not rows:
            raise NotFound(f"no received package with message id {message_id!r}")
        return _received(rows[0])

    async def count_received(self, *, kind: Kind, pending_only: bool = True) -> int:
        extra = " AND transport_status <> 'done'" if pending_only else ""
        rows = await self._fetch(f"SELECT COUNT(*) FROM inbox WHERE kind = ?{extra}", (kind,))
        return int(rows[0][0])

    async def set_transport_status(self, message_id: str, status: TransportStatus, reason: str | None) -> None:
        if await self._write(
            "UPDATE inbox SET transport_status = ?, transport_reason = ?, updated_at_ms = ? WHERE message_id = ?"
            " AND (transport_status <> ? OR COALESCE(transport_reason, '') <> COALESCE(?, ''))",
            (status, reason, self._clock(), message_id, status, reason),
        ) == 0:
            await self.received_item(message_id)  # raises NotFound when absent; else it was already so

    async def has_received(self, message_id: str) -> bool:
        return bool(await self._fetch("SELECT 1 FROM inbox WHERE message_id = ?", (message_id,)))

    async def note_delivery(self, delivery_id: str, message_id: str) -> None:
        """A redelivery of something already stored: it only needs its `ack` again."""
        await self._write(
            "INSERT INTO deliveries (delivery_id, message_id) VALUES (?, ?) ON CONFLICT DO UPDATE SET acked = 0",
            (delivery_id, message_id))

    async def unacked_deliveries(self, limit: int = 500) -> list[str]:
        rows = await self._fetch("SELECT delivery_id FROM deliveries WHERE acked = 0 LIMIT ?", (limit,))
        return [r[0] for r in rows]

    async def mark_acked(self, delivery_ids: Sequence[str]) -> None:
        async with self._lock:
            db = self._conn()
            await db.executemany("UPDATE deliveries SET acked = 1 WHERE delivery_id = ?", [(d,) for d in delivery_ids])
            await db.commit()

    async def unexported(self, limit: int = 100) -> list[ReceivedItem]:
        rows = await self._fetch(f"SELECT {_RECEIVED_COLS} FROM inbox WHERE exported = 0 LIMIT ?", (limit,))
        return [_received(r) for r in rows]

    async def mark_exported(self, message_ids: Sequence[str]) -> None:
        async with self._lock:
            db = self._conn()
            await db.executemany("UPDATE inbox SET exported = 1 WHERE message_id = ?", [(m,) for m in message_ids])
            await db.commit()

    async def rejected(self) -> list[tuple[str, str, str, str]]:
        """(delivery_id, message_id, sender, reason) of deliveries whose signature did not verify."""
        return [tuple(r) for r in await self._fetch(  # type: ignore[misc]
            "SELECT delivery_id, message_id, sender, reason FROM rejected ORDER BY at_ms")]

    # -- sent and trail ------------------------------------------------------------------------------------

    async def sent(self, *, limit: int = 1000, document_id: str | None = None,
                   direction: Literal["asc", "desc"] = "desc") -> list[SentRecipient]:
        where, params = ("WHERE s.document_id = ?", [document_id]) if document_id is not None else ("", [])
        rows = await self._fetch(
            f"{_SENT_SQL} {where} ORDER BY o.created_at_ms {direction}, s.recipient LIMIT ?", (*params, limit))
        return [_sent(r) for r in rows]

    async def outbox_for_document(self, document_id: str) -> list[tuple[str, str, str, str | None, str, int]]:
        """(message_id, kind, recipients-json, status_code, description, created_at_ms) of what we sent about it."""
        return [tuple(r) for r in await self._fetch(  # type: ignore[misc]
            "SELECT message_id, kind, recipients, status_code, description, created_at_ms FROM outbox"
            " WHERE document_id = ? ORDER BY created_at_ms", (document_id,))]

    async def received_for_document(self, document_id: str) -> list[tuple[str, str, str, str | None, str, int]]:
        return [tuple(r) for r in await self._fetch(  # type: ignore[misc]
            "SELECT message_id, kind, sender, status_code, description, received_at_ms FROM inbox"
            " WHERE document_id = ? ORDER BY received_at_ms", (document_id,))]

    async def sent_body(self, kind: Kind, document_id: str) -> bytes | None:
        rows = await self._fetch(
            "SELECT body FROM outbox WHERE kind = ? AND document_id = ? ORDER BY created_at_ms DESC LIMIT 1",
            (kind, document_id))
        return bytes(rows[0][0]) if rows else None

    # -- directory -----------------------------------------------------------------------------------------

    async def upsert_directory(self, entry: DirectoryEntry) -> None:
        self._directory, self._directory_version = None, self._directory_version + 1
        await self._write(
            "INSERT INTO directory (organ_id, name, parent_id, active, email, updated_at_ms) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (organ_id) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id,"
            " active = excluded.active, email = excluded.email, updated_at_ms = excluded.updated_at_ms"
            " WHERE excluded.updated_at_ms >= directory.updated_at_ms",
            (entry.organ_id, entry.name, entry.parent_id, int(entry.active), entry.email, entry.updated_at_ms),
        )

    async def directory(self) -> Mapping[str, DirectoryEntry]:
        """The directory mirror by organ id (read once, again after it changes)."""
        cached, version = self._directory, self._directory_version
        if cached is None:
            rows = await self._fetch(
                "SELECT organ_id, name, parent_id, active, email, updated_at_ms FROM directory ORDER BY organ_id")
            cached = {r[0]: DirectoryEntry(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in rows}
            if version == self._directory_version:  # no upsert began meanwhile
                self._directory = cached
        return cached

    async def agencies(self) -> list[DirectoryEntry]:
        return list((await self.directory()).values())

    async def mark_directory_synced(self) -> None:
        """The directory was read to its end once: from now on the mirror is a true copy (if maybe stale)."""
        await self._write("INSERT OR IGNORE INTO meta (key, value) VALUES ('directory_synced_at_ms', ?)",
                          (str(self._clock()),))
        self.directory_synced = True
