"""Read side of the ledger: a document's trail per recipient, overdue statuses, the chain check.

`trail()` returns plain dicts (JSON-ready) because three callers print or serve it: `axis status`, the
agent API's facade and the tests.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from ._deadlines import Overdue, WorkCalendar, late_statuses
from ._pg import mapped
from ._status import LoggedEvent, current_state, withdrawal_outcome

BUSINESS = {0: "new", 1: "revoke", 2: "update", 3: "replace"}


def _event_dict(row: Any) -> dict[str, Any]:
    return {
        "seq": row["seq"], "at": row["at"].isoformat(), "kind": row["kind"], "actor": row["actor"],
        "status_code": row["status_code"], "message_id": row["message_id"], "detail": row["detail"],
    }


async def trail(pool: asyncpg.Pool, document_id: str, sender: str | None = None) -> dict[str, Any] | None:
    """Everything the ledger knows about one document; None when unknown."""
    with mapped():
        async with pool.acquire() as conn:
            doc = await conn.fetchrow(
                "SELECT id, document_id, sender, subject, code, business_type, business_reason, recipients,"
                " received_at, message_id FROM documents WHERE document_id = $1 AND ($2::text IS NULL OR sender = $2)"
                " ORDER BY id LIMIT 1",
                document_id, sender,
            )
            if doc is None:
                return None
            links = await conn.fetch(
                "SELECT l.document, l.concerns, l.business_type, l.organ_ids, a.document_id AS doc_a,"
                " b.document_id AS doc_b FROM document_links l JOIN documents a ON a.id = l.document"
                " JOIN documents b ON b.id = l.concerns WHERE l.document = $1 OR l.concerns = $1",
                doc["id"],
            )
            deliveries = await conn.fetch(
                "SELECT recipient, delivery_id, state, attempts, first_published_at, acked_at, reason"
                " FROM deliveries WHERE document = $1 AND kind = 'edoc'", doc["id"],
            )
            events = await conn.fetch(
                "SELECT e.seq, e.at, e.recipient, e.actor, e.kind, e.status_code, e.message_id, e.detail,"
                " s.status_at FROM events e LEFT JOIN status_messages s ON s.message_id = e.message_id"
                " AND e.kind = 'status' WHERE e.document = $1 ORDER BY e.seq", doc["id"],
            )
    per_recipient: dict[str, list[Any]] = defaultdict(list)
    document_events = []
    for row in events:
        (per_recipient[row["recipient"]] if row["recipient"] else document_events).append(row)
    recipients: dict[str, Any] = {}
    by_recipient = {d["recipient"]: d for d in deliveries}
    for organ in doc["recipients"]:
        rows = per_recipient.get(organ, [])
        log = [LoggedEvent(r["kind"], r["status_code"], r["status_at"]) for r in rows]
        delivery = by_recipient.get(organ)
        state, code = current_state(log, delivery["state"] if delivery else "pending")
        recipients[organ] = {
            "state": state,
            "status_code": code,
            "withdrawal": withdrawal_outcome(log),
            "delivery": None if delivery is None else {
                "delivery_id": delivery["delivery_id"], "state": delivery["state"], "attempts": delivery["attempts"],
                "delivered_at": delivery["first_published_at"].isoformat() if delivery["first_published_at"] else None,
                "acked_at": delivery["acked_at"].isoformat() if delivery["acked_at"] else None,
                "reason": delivery["reason"],
            },
            "events": [_event_dict(r) for r in rows],
        }
    return {
        "document_id": doc["document_id"],
        "sender": doc["sender"],
        "message_id": doc["message_id"],
        "subject": doc["subject"],
        "code": doc["code"],
        "business_type": BUSINESS[doc["business_type"]],
        "business_reason": doc["business_reason"],
        "received_at": doc["received_at"].isoformat(),
        "concerns": [
            {"document_id": l["doc_b"], "business_type": BUSINESS[l["business_type"]], "organ_ids": list(l["organ_ids"])}
            for l in links if l["document"] == doc["id"]
        ],
        "concerned_by": [
            {"document_id": l["doc_a"], "business_type": BUSINESS[l["business_type"]], "organ_ids": list(l["organ_ids"])}
            for l in links if l["concerns"] == doc["id"]
        ],
        "recipients": recipients,
        "events": [_event_dict(r) for r in document_events],
    }


async def overdue(
    pool: asyncpg.Pool, *, now: datetime, calendar: WorkCalendar, arrival_deadline: timedelta
) -> list[Overdue]:
    """Every (document, recipient) whose 01, or 03/02, is late at `now`, oldest first."""
    with mapped():
        rows = await pool.fetch(
            "SELECT doc.document_id, doc.sender, d.recipient, d.first_published_at,"
            " COALESCE(array_agg(DISTINCT e.status_code) FILTER (WHERE e.kind = 'status'"
            "   AND e.status_code IN ('01','02','03','04','05','06')), '{}') AS codes"
            " FROM deliveries d JOIN documents doc ON doc.id = d.document"
            " LEFT JOIN events e ON e.document = d.document AND e.recipient = d.recipient"
            " WHERE d.kind = 'edoc' AND d.state IN ('published', 'acked') AND d.first_published_at IS NOT NULL"
            " GROUP BY doc.document_id, doc.sender, d.recipient, d.first_published_at"
            " ORDER BY d.first_published_at",
        )
    result = []
    for row in rows:
        for code, due in late_statuses(
            delivered_at=row["first_published_at"], codes=set(row["codes"]), now=now, calendar=calendar,
            arrival_deadline=arrival_deadline,
        ):
            result.append(Overdue(row["document_id"], row["sender"], row["recipient"], code, due, row["first_published_at"]))
    return result
