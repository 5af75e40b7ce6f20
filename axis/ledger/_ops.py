"""What the operators' surfaces read and ask of the ledger: facts to publish, dead letters, operator actions.

Facts (`edx.events`, docs/ARCHITECTURE.md): the unit of work writes a pointer (`event_outbox.fact_id`) in the
transaction of each event (refusals are events too); `facts_of()` builds the `LedgerFact` of each pointer from
the rows it points at; the relay's claim (`_outbox.Claim`) publishes them and deletes the pointers.

Dead letters: every refused record with its bytes; an operator's requeue request is a mark the router's relay
claims and publishes, so the console needs only the database, like `axis agency add`.
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
from ._uow import UnitOfWork

__all__ = ["Operations", "RequeueDue"]

_EVENT_FACTS = """
SELECT o.id AS pointer, o.fact_id, e.at, e.kind, e.document_id, COALESCE(d.sender, e.actor) AS sender, e.recipient,
       e.actor, e.status_code, e.message_id, d.received_at AS accepted_at,
       COALESCE(e.detail->>'reason', (e.detail->>'action') || ' ' || (e.detail->>'target'), '') AS reason,
       COALESCE(e.detail->>'package_kind', '') AS package_kind
FROM event_outbox o JOIN events e ON e.seq = substr(o.fact_id, 2)::bigint LEFT JOIN documents d ON d.id = e.document
WHERE o.id = ANY($1::bigint[]) AND o.fact_id LIKE 'e%'
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


async def facts_of(uow: Any, pointers: Sequence[int]) -> list[tuple[int, LedgerFact]]:
    """The facts the pointers name, in pointer order (one way to build a fact: for the first publication
    and the republication after a broker epoch change alike). A pointer whose row is gone is dropped."""
    if not pointers:
        return []
    events = await uow.fetch(_EVENT_FACTS, list(pointers))
    facts = [(r["pointer"], _event_fact(r)) for r in events]
    found = {p for p, _ in facts}
    orphans = [p for p in pointers if p not in found]
    if orphans:
        await uow.fetch("DELETE FROM event_outbox WHERE id = ANY($1::bigint[])", orphans)
    return sorted(facts, key=lambda pf: pf[0])


class Operations:
    """Facts, dead letters and operator actions over one pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- facts -------------------------------------------------------------------------------------

    async def republish_facts(self, since: datetime) -> int:
        """After the broker lost its data: every fact recorded at or after `since` is to be published again."""
        async with transaction(self._pool) as conn:
            return int(await conn.fetchval(
                "WITH ins AS (INSERT INTO event_outbox (fact_id) SELECT 'e' || seq FROM events WHERE at >= $1"
                " ORDER BY seq RETURNING 1)"
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
        async with UnitOfWork(self._pool) as uow:
            marked = await uow.fetchval(
                "UPDATE dead_letters SET requeue_requested_at = $2, requeued_by = $3 WHERE message_id = $1"
                " AND requeue_requested_at IS NULL AND headers ? 'message-id' RETURNING message_id",
                message_id, at, operator)
            if marked is None:
                return False
            await operator_action(uow, operator, "requeue", message_id, {}, at)
            await uow.commit()
        return True

    async def record_operator_action(self, operator: str, action: str, target: str, detail: dict[str, Any],
                                     at: datetime) -> None:
        async with UnitOfWork(self._pool) as uow:
            await operator_action(uow, operator, action, target, detail, at)
            await uow.commit()


def _event_fact(r: Any) -> LedgerFact:
    return LedgerFact(
        r["fact_id"], r["at"], r["kind"], document_id=r["document_id"], sender=r["sender"] or "",
        recipient=r["recipient"] or "", actor=r["actor"], status_code=r["status_code"] or "",
        message_id=r["message_id"] or "", accepted_at=r["accepted_at"], reason=r["reason"],
        package_kind=r["package_kind"] or ("edoc" if r["kind"] == "received" else ""),
    )


async def operator_action(uow: UnitOfWork, operator: str, action: str, target: str, detail: dict[str, Any],
                          at: datetime) -> None:
    """An operator's action as a ledger event (`kind` operator, no document), sealed like every other fact."""
    await uow.append_event(None, at=at, kind="operator", actor=operator, document_id="",
                           detail={"action": action, "target": target, **json.loads(json.dumps(detail, default=str))})
