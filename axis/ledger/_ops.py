"""What the operators' surfaces read and ask of the ledger: facts to publish, dead letters, operator actions.

Facts (`edx.events`, docs/ARCHITECTURE.md): the unit of work writes a pointer (`event_outbox.fact_id`) in the
transaction of each event and refusal; `pending_facts()` builds the `LedgerFact` of each pointer from the rows
it points at (one way to build a fact, for the first publication and the republication after a broker epoch
change alike), and `facts_published()` deletes the pointers once the broker acknowledged them.

Dead letters: every refused record with its bytes; an operator's requeue request is a mark the router picks
up (`requeues_due()`), so the console needs only the database, like `axis agency add`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from axis.wire import LedgerFact

from ._pg import mapped, transaction
from ._refs import DeadLetter

__all__ = ["Operations", "RequeueDue"]

_EVENT_FACTS = """
SELECT o.id AS pointer, o.fact_id, e.at, e.kind, e.document_id, d.sender, e.recipient, e.actor, e.status_code,
       e.message_id, d.received_at AS accepted_at, COALESCE(e.detail->>'reason', '') AS reason
FROM event_outbox o JOIN events e ON e.seq = substr(o.fact_id, 2)::bigint JOIN documents d ON d.id = e.document
WHERE o.id = ANY($1::bigint[]) AND o.fact_id LIKE 'e%'
"""
_REFUSAL_FACTS = """
SELECT o.id AS pointer, o.fact_id, p.processed_at AS at, p.document_id, p.sender, p.message_id, p.reason, p.kind,
       (SELECT received_at FROM documents d WHERE d.document_id = p.document_id AND p.document_id <> ''
        ORDER BY d.id LIMIT 1) AS accepted_at
FROM event_outbox o JOIN processed_messages p ON p.message_id = substr(o.fact_id, 2)
WHERE o.id = ANY($1::bigint[]) AND o.fact_id LIKE 'r%'
"""
_OPERATOR_FACTS = """
SELECT o.id AS pointer, o.fact_id, a.at, a.operator, a.action, a.target
FROM event_outbox o JOIN operator_actions a ON a.id = substr(o.fact_id, 2)::bigint
WHERE o.id = ANY($1::bigint[]) AND o.fact_id LIKE 'o%'
"""
_DEAD_LETTER_COLUMNS = (
    "message_id, sender, kind, document_id, reason_code, reason, refused_at, requeue_requested_at, requeued_by,"
    " requeued_at, requeue_message_id"
)


@dataclass(frozen=True, slots=True)
class RequeueDue:
    """A dead letter an operator asked to requeue: what the router publishes again."""

    message_id: str
    headers: dict[str, str]
    key: bytes
    body: bytes


class Operations:
    """Facts, dead letters and operator actions over one pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- facts -------------------------------------------------------------------------------------

    async def pending_facts(self, limit: int) -> list[tuple[int, LedgerFact]]:
        """The oldest unpublished facts, each with its pointer id, in pointer order."""
        with mapped():
            pointers = [r["id"] for r in await self._pool.fetch(
                "SELECT id FROM event_outbox ORDER BY id LIMIT $1", limit)]
            if not pointers:
                return []
            events = await self._pool.fetch(_EVENT_FACTS, pointers)
            refusals = await self._pool.fetch(_REFUSAL_FACTS, pointers)
            actions = await self._pool.fetch(_OPERATOR_FACTS, pointers)
        facts = [(r["pointer"], _event_fact(r)) for r in events]
        facts += [(r["pointer"], _refusal_fact(r)) for r in refusals]
        facts += [(r["pointer"], LedgerFact(r["fact_id"], r["at"], "operator", actor=r["operator"],
                                            reason=f"{r['action']} {r['target']}".strip())) for r in actions]
        found = {p for p, _ in facts}
        orphans = [p for p in pointers if p not in found]  # a pointer whose row is gone cannot be published
        if orphans:
            await self.facts_published(orphans)
        return sorted(facts, key=lambda pf: pf[0])

    async def facts_published(self, pointers: Sequence[int]) -> None:
        with mapped():
            await self._pool.execute("DELETE FROM event_outbox WHERE id = ANY($1::bigint[])", list(pointers))

    async def republish_facts(self, since: datetime) -> int:
        """After the broker lost its data: every fact recorded at or after `since` is to be published again."""
        async with transaction(self._pool) as conn:
            return int(await conn.fetchval(
                "WITH facts AS ("
                "  SELECT 'e' || seq AS fact_id, at FROM events WHERE at >= $1"
                "  UNION ALL SELECT 'r' || message_id, processed_at FROM processed_messages"
                "    WHERE outcome = 'refused' AND processed_at >= $1"
                "  UNION ALL SELECT 'o' || id, at FROM operator_actions WHERE at >= $1),"
                " ins AS (INSERT INTO event_outbox (fact_id) SELECT fact_id FROM facts ORDER BY at RETURNING 1)"
                " SELECT count(*) FROM ins", since))

    # -- dead letters ------------------------------------------------------------------------------

    async def dead_letters(self, *, limit: int = 100, after: str | None = None) -> list[DeadLetter]:
        """Newest first; `after` is the `token` of the last row of the previous page (keyset, no OFFSET)."""
        with mapped():
            if after:
                at, _, message_id = after.partition("|")
                rows = await self._pool.fetch(
                    f"SELECT {_DEAD_LETTER_COLUMNS} FROM dead_letters WHERE (refused_at, message_id) < ($1, $2)"
                    " ORDER BY refused_at DESC, message_id DESC LIMIT $3", datetime.fromisoformat(at), message_id, limit)
            else:
                rows = await self._pool.fetch(
                    f"SELECT {_DEAD_LETTER_COLUMNS} FROM dead_letters ORDER BY refused_at DESC, message_id DESC"
                    " LIMIT $1", limit)
        return [DeadLetter(**dict(r)) for r in rows]

    async def request_requeue(self, message_id: str, operator: str, at: datetime) -> bool:
        """Mark a dead letter for requeue and record who asked; False if unknown, headerless or already asked."""
        async with transaction(self._pool) as conn:
            marked = await conn.fetchval(
                "UPDATE dead_letters SET requeue_requested_at = $2, requeued_by = $3 WHERE message_id = $1"
                " AND requeue_requested_at IS NULL AND headers ? 'message-id' RETURNING message_id",
                message_id, at, operator)
            if marked is None:
                return False
            await _action(conn, operator, "requeue", message_id, {}, at)
        return True

    async def requeues_due(self, limit: int) -> list[RequeueDue]:
        with mapped():
            rows = await self._pool.fetch(
                "SELECT message_id, headers, document_id, body FROM dead_letters WHERE requeue_requested_at IS NOT NULL"
                " AND requeued_at IS NULL ORDER BY requeue_requested_at LIMIT $1", limit)
        return [RequeueDue(r["message_id"], dict(r["headers"]), (r["document_id"] or "").encode(), bytes(r["body"]))
                for r in rows]

    async def requeued(self, message_id: str, new_message_id: str, at: datetime) -> None:
        with mapped():
            await self._pool.execute(
                "UPDATE dead_letters SET requeued_at = $2, requeue_message_id = $3 WHERE message_id = $1",
                message_id, at, new_message_id)

    # -- operator actions --------------------------------------------------------------------------

    async def record_operator_action(self, operator: str, action: str, target: str, detail: dict[str, Any],
                                     at: datetime) -> int:
        async with transaction(self._pool) as conn:
            return await _action(conn, operator, action, target, detail, at)


async def _action(conn: Any, operator: str, action: str, target: str, detail: dict[str, Any], at: datetime) -> int:
    """An operator's action, and its fact to publish, in the caller's transaction."""
    action_id = int(await conn.fetchval(
        "INSERT INTO operator_actions (at, operator, action, target, detail) VALUES ($1,$2,$3,$4,$5) RETURNING id",
        at, operator, action, target, json.loads(json.dumps(detail, default=str))))
    await conn.execute("INSERT INTO event_outbox (fact_id) VALUES ($1)", f"o{action_id}")
    return action_id


def _event_fact(r: Any) -> LedgerFact:
    return LedgerFact(
        r["fact_id"], r["at"], r["kind"], document_id=r["document_id"], sender=r["sender"], recipient=r["recipient"],
        actor=r["actor"], status_code=r["status_code"], message_id=r["message_id"], accepted_at=r["accepted_at"],
        reason=r["reason"], package_kind="edoc" if r["kind"] == "received" else "",
    )


def _refusal_fact(r: Any) -> LedgerFact:
    return LedgerFact(
        r["fact_id"], r["at"], "refused", document_id=r["document_id"], sender=r["sender"], actor=r["sender"],
        message_id=r["message_id"], accepted_at=r["accepted_at"], reason=r["reason"], package_kind=r["kind"],
    )
