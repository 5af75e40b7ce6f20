"""The ledger's side of the proof of delivery: batches, checkpoints, and what a proof or a verification reads.

Every unit of work that appends events writes one `event_batches` row (the Merkle root of its events' hashes)
in its own transaction, with no lock, so several routers append at once. A checkpoint (`axis.proof`) covers
the batches no checkpoint covers yet: `unsealed()` lists them, `add_checkpoint()` records the sealed result
under an advisory lock (one checkpoint at a time, whoever makes it). Time-stamp tokens arrive after the
checkpoint committed and are kept apart (`checkpoint_timestamps`), so every proof table is append-only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ._pg import mapped, transaction

__all__ = ["BatchRow", "CheckpointRow", "Proofs"]

_CHECKPOINT_LOCK = 0x61786963  # one checkpoint at a time across routers and the CLI
_UNSEALED = (
    "SELECT b.id, b.at, b.root, b.events FROM event_batches b WHERE (b.id > $1 OR b.at >= $2 OR $2 IS NULL)"
    " AND NOT EXISTS (SELECT 1 FROM checkpoint_batches c WHERE c.batch = b.id) ORDER BY b.id"
)
_EVENT_COLUMNS = (
    "seq, at, document, document_id, recipient, actor, kind, status_code, message_id, detail, signature,"
    " body_sha256, prev_hash, hash, batch, hash_version"
)


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    at: datetime
    root: str
    events: int


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    id: int
    at: datetime
    hash: str
    prev_hash: str
    root: str
    canonical: bytes
    seal: dict[str, str]
    timestamp: bytes | None
    batch_ids: tuple[int, ...]


class Proofs:
    """Queries and writes of the proof tables over one pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def unsealed(self, *, above: int = 0, since: datetime | None = None, limit: int = 100_000) -> list[BatchRow]:
        """Batches no checkpoint covers yet, oldest first: those with an id above `above` or written at or after
        `since` (a caller that sealed up to `above` looks back from `since` for transactions that committed
        late with a lower id), or all of them."""
        with mapped():
            rows = await self._pool.fetch(_UNSEALED + " LIMIT $3", above, since, limit)
        return [BatchRow(r["id"], r["at"], r["root"], r["events"]) for r in rows]

    async def last_checkpoint(self) -> tuple[int, str] | None:
        """(id, hash) of the newest checkpoint."""
        with mapped():
            row = await self._pool.fetchrow("SELECT id, hash FROM checkpoints ORDER BY id DESC LIMIT 1")
        return None if row is None else (row["id"], row["hash"])

    async def add_checkpoint(self, make: Any, *, above: int = 0, since: datetime | None = None) -> CheckpointRow | None:
        """Under the checkpoint lock: `await make(unsealed, last)` builds the sealed checkpoint (or None when
        there is nothing to seal), and it is recorded with its batches. None when another process holds the
        lock or there was nothing to seal. `above`/`since` as for `unsealed()`."""
        async with transaction(self._pool) as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _CHECKPOINT_LOCK):
                return None
            batches = [BatchRow(r["id"], r["at"], r["root"], r["events"])
                       for r in await conn.fetch(_UNSEALED, above, since)]
            last = await conn.fetchrow("SELECT id, hash FROM checkpoints ORDER BY id DESC LIMIT 1")
            made = await make(batches, None if last is None else (last["id"], last["hash"]))
            if made is None:
                return None
            await conn.execute(
                "INSERT INTO checkpoints (id, at, hash, prev_hash, root, canonical, seal) VALUES ($1,$2,$3,$4,$5,$6,$7)",
                made.id, made.at, made.hash, made.prev_hash, made.root, made.canonical, made.seal)
            await conn.executemany(
                "INSERT INTO checkpoint_batches (batch, checkpoint, position) VALUES ($1, $2, $3)",
                [(batch_id, made.id, position) for position, batch_id in enumerate(made.batch_ids)])
        return made  # type: ignore[no-any-return]

    async def add_timestamp(self, checkpoint_id: int, token: bytes) -> None:
        with mapped():
            await self._pool.execute(
                "INSERT INTO checkpoint_timestamps (checkpoint, token) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                checkpoint_id, token)

    async def without_timestamp(self) -> list[CheckpointRow]:
        """Checkpoints still waiting for their time-stamp (the TSA was down when they were made)."""
        with mapped():
            ids = [r["id"] for r in await self._pool.fetch(
                "SELECT id FROM checkpoints c WHERE NOT EXISTS"
                " (SELECT 1 FROM checkpoint_timestamps t WHERE t.checkpoint = c.id) ORDER BY id")]
        return await self.checkpoints(ids=ids) if ids else []

    async def checkpoints(self, *, since: datetime | None = None, ids: Sequence[int] | None = None) -> list[CheckpointRow]:
        """Checkpoints in id order (all, from `since`, or those in `ids`), with their batches and tokens."""
        where, args = "", []
        if ids is not None:
            where, args = "WHERE c.id = ANY($1::bigint[])", [list(ids)]
        elif since is not None:
            where, args = "WHERE c.at >= $1", [since]
        with mapped():
            rows = await self._pool.fetch(
                "SELECT c.id, c.at, c.hash, c.prev_hash, c.root, c.canonical, c.seal, t.token,"
                " ARRAY(SELECT batch FROM checkpoint_batches m WHERE m.checkpoint = c.id ORDER BY position) AS batches"
                f" FROM checkpoints c LEFT JOIN checkpoint_timestamps t ON t.checkpoint = c.id {where} ORDER BY c.id",
                *args)
        return [CheckpointRow(r["id"], r["at"], r["hash"], r["prev_hash"], r["root"], bytes(r["canonical"]),
                              dict(r["seal"]), bytes(r["token"]) if r["token"] is not None else None,
                              tuple(r["batches"])) for r in rows]

    async def previous_hash(self, checkpoint_id: int) -> str | None:
        """The hash of the checkpoint before `checkpoint_id` (None: it is the first)."""
        with mapped():
            return await self._pool.fetchval(  # type: ignore[no-any-return]
                "SELECT hash FROM checkpoints WHERE id < $1 ORDER BY id DESC LIMIT 1", checkpoint_id)

    async def batches(self, ids: Sequence[int]) -> dict[int, BatchRow]:
        with mapped():
            rows = await self._pool.fetch("SELECT id, at, root, events FROM event_batches WHERE id = ANY($1::bigint[])",
                                          list(ids))
        return {r["id"]: BatchRow(r["id"], r["at"], r["root"], r["events"]) for r in rows}

    async def batch_events(self, batch_id: int) -> list[dict[str, Any]]:
        """The events of one batch in seq order (the Merkle leaves' order)."""
        with mapped():
            rows = await self._pool.fetch(f"SELECT {_EVENT_COLUMNS} FROM events WHERE batch = $1 ORDER BY seq", batch_id)
        return [dict(r) for r in rows]

    async def walk_batches(self, *, since: datetime | None = None, page: int = 500) -> AsyncIterator[
            tuple[BatchRow, list[dict[str, Any]]]]:
        """Every batch (from `since`) with its events, in id order, a page of batches at a time."""
        after = 0
        while True:
            with mapped():
                rows = await self._pool.fetch(
                    "SELECT id, at, root, events FROM event_batches WHERE id > $1 AND ($2::timestamptz IS NULL OR"
                    " at >= $2) ORDER BY id LIMIT $3", after, since, page)
                if not rows:
                    return
                events = await self._pool.fetch(
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE batch = ANY($1::bigint[]) ORDER BY batch, seq",
                    [r["id"] for r in rows])
            by_batch: dict[int, list[dict[str, Any]]] = {}
            for e in events:
                by_batch.setdefault(e["batch"], []).append(dict(e))
            for r in rows:
                yield BatchRow(r["id"], r["at"], r["root"], r["events"]), by_batch.get(r["id"], [])
            after = rows[-1]["id"]

    async def legacy_events(self) -> list[dict[str, Any]]:
        """Events written before the proof tables (hash version 1: one chain, each linked to the previous)."""
        with mapped():
            rows = await self._pool.fetch(f"SELECT {_EVENT_COLUMNS} FROM events WHERE hash_version = 1 ORDER BY seq")
        return [dict(r) for r in rows]

    async def document_events(self, document: int) -> list[dict[str, Any]]:
        with mapped():
            rows = await self._pool.fetch(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE document = $1 ORDER BY seq", document)
        return [dict(r) for r in rows]

    async def documents_named(self, document_id: str, sender: str | None = None) -> list[dict[str, Any]]:
        """The document rows with this DocumentId (from `sender`), bodies included (or their archive)."""
        with mapped():
            rows = await self._pool.fetch(
                "SELECT id, document_id, sender, recipients, subject, body, archive FROM documents"
                " WHERE document_id = $1 AND ($2::text IS NULL OR sender = $2) ORDER BY id", document_id, sender)
        return [dict(r) for r in rows]

    async def statuses_of(self, document: int) -> list[dict[str, Any]]:
        with mapped():
            rows = await self._pool.fetch(
                "SELECT message_id, sender, status_code, body, archive FROM status_messages WHERE document = $1"
                " ORDER BY received_at, message_id", document)
        return [dict(r) for r in rows]

    async def certificates(self, fingerprints: Sequence[str]) -> dict[str, str]:
        """Fingerprint -> PEM of agency certificates (retired ones too: old packages were signed with them)."""
        with mapped():
            rows = await self._pool.fetch(
                "SELECT fingerprint_sha256, pem FROM agency_certificates WHERE fingerprint_sha256 = ANY($1::text[])",
                list(fingerprints))
        return {r["fingerprint_sha256"]: r["pem"] for r in rows}

    async def archivable(self, before: datetime, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Documents accepted before `before`, not archived, with every delivery settled (acked or given up),
        and their status messages; each with the SHA-256 the ledger recorded for its bytes."""
        with mapped():
            documents = await self._pool.fetch(
                "SELECT d.id, d.body, m.body_sha256 FROM documents d JOIN processed_messages m ON m.message_id ="
                " d.message_id WHERE d.received_at < $1 AND d.archive IS NULL AND NOT EXISTS (SELECT 1 FROM"
                " deliveries x WHERE x.document = d.id AND x.state IN ('pending', 'published'))"
                " ORDER BY d.id LIMIT $2", before, limit)
            statuses = await self._pool.fetch(
                "SELECT s.message_id, s.body, m.body_sha256 FROM status_messages s JOIN processed_messages m"
                " ON m.message_id = s.message_id WHERE s.document = ANY($1::bigint[]) AND s.archive IS NULL",
                [d["id"] for d in documents])
        return [dict(r) for r in documents], [dict(r) for r in statuses]

    async def mark_archived(self, name: str, documents: Sequence[int], statuses: Sequence[str]) -> None:
        """The bodies now live in archive `name`: clear them here (their hashes and proofs stay)."""
        async with transaction(self._pool) as conn:
            await conn.execute("UPDATE documents SET body = ''::bytea, archive = $1 WHERE id = ANY($2::bigint[])",
                               name, list(documents))
            await conn.execute("UPDATE status_messages SET body = ''::bytea, archive = $1"
                               " WHERE message_id = ANY($2::text[])", name, list(statuses))

    async def checkpoint_of(self, batch_id: int) -> int | None:
        with mapped():
            return await self._pool.fetchval(  # type: ignore[no-any-return]
                "SELECT checkpoint FROM checkpoint_batches WHERE batch = $1", batch_id)

