"""Read-only queries behind the console's pages, each through an index (see migrations/0003_console.sql).

Big tables are paged by keyset (the last row's sort key as the next page's token, never OFFSET); figures
"for today" start from the documents received today (`documents_received_at`); counts over a search give
up past their budget (`bounded_count`). Trails and overdue receipts come from `Ledger.trail()` and the
console's receipts projection (`_receipts.py`), not from here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

import asyncpg
from cryptography import x509

from axis.errors import ConsoleError

from ._db import bounded_count, mapped

__all__ = [
    "AgencyRow",
    "SearchPage",
    "certificate_expiry",
    "day_bounds",
    "document_senders",
    "last_seen",
    "list_agencies",
    "refusals",
    "search_documents",
    "today_by_agency",
    "today_figures",
]

SearchMode = Literal["organ", "document", "text", "empty", "too-short"]
MIN_TEXT = 3
_DOCUMENT_COLUMNS = "id, document_id, sender, subject, code, recipients, received_at"
# The trigram index is on this expression: a search must use it word for word.
_TEXT = "(document_id || ' ' || subject)"


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Start and end of a calendar day in the exchange's time zone."""
    start = datetime.combine(day, time(0), tz)
    return start, start + timedelta(days=1)


async def today_figures(pool: asyncpg.Pool, start: datetime, end: datetime) -> dict[str, Any]:
    """The day's volume, deliveries, refusals, and median/p90 seconds from acceptance to 01 and to 03."""
    with mapped():
        async with pool.acquire() as conn:
            volume = await conn.fetchrow(
                "WITH docs AS (SELECT id FROM documents WHERE received_at >= $1 AND received_at < $2)"
                " SELECT (SELECT count(*) FROM docs) AS documents, count(d.recipient) AS deliveries,"
                " count(*) FILTER (WHERE d.state = 'acked') AS delivered,"
                " count(*) FILTER (WHERE d.state = 'undeliverable') AS undeliverable"
                " FROM docs JOIN deliveries d ON d.document = docs.id AND d.kind = 'edoc'", start, end)
            times = await conn.fetch(
                "SELECT e.status_code AS code, count(*) AS n,"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - doc.received_at)) AS p50,"
                " percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - doc.received_at)) AS p90"
                " FROM documents doc JOIN events e ON e.document = doc.id"
                " WHERE doc.received_at >= $1 AND doc.received_at < $2 AND e.kind = 'status'"
                " AND e.status_code IN ('01', '03') GROUP BY e.status_code", start, end)
            refused = await bounded_count(
                conn, "SELECT count(*) FROM processed_messages WHERE outcome = 'refused'"
                " AND processed_at >= $1 AND processed_at < $2", start, end)
    deliveries, delivered = int(volume["deliveries"]), int(volume["delivered"])
    return {
        "documents": int(volume["documents"]),
        "deliveries": deliveries,
        "delivered": delivered,
        "undeliverable": int(volume["undeliverable"]),
        "delivery_rate": round(delivered / deliveries, 4) if deliveries else None,
        "refused": refused,
        "time_to": {r["code"]: {"count": int(r["n"]), "p50_s": round(r["p50"], 1), "p90_s": round(r["p90"], 1)}
                    for r in times},
    }


async def today_by_agency(
    pool: asyncpg.Pool, start: datetime, end: datetime, organ_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Per agency of one page, for the day: documents sent, received, median seconds to its 01 and 03."""
    stats: dict[str, dict[str, Any]] = {o: {"sent": 0, "received": 0, "p50_01_s": None, "p50_03_s": None}
                                        for o in organ_ids}
    with mapped():
        async with pool.acquire() as conn:
            for row in await conn.fetch(
                "SELECT sender, count(*) AS n FROM documents WHERE received_at >= $1 AND received_at < $2"
                " AND sender = ANY($3::text[]) GROUP BY sender", start, end, organ_ids):
                stats[row["sender"]]["sent"] = int(row["n"])
            for row in await conn.fetch(
                "SELECT d.recipient, count(*) AS n FROM documents doc JOIN deliveries d ON d.document = doc.id"
                " WHERE doc.received_at >= $1 AND doc.received_at < $2 AND d.kind = 'edoc' AND d.state = 'acked'"
                " AND d.recipient = ANY($3::text[]) GROUP BY d.recipient", start, end, organ_ids):
                stats[row["recipient"]]["received"] = int(row["n"])
            for row in await conn.fetch(
                "SELECT e.actor, e.status_code,"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - doc.received_at)) AS p50"
                " FROM documents doc JOIN events e ON e.document = doc.id"
                " WHERE doc.received_at >= $1 AND doc.received_at < $2 AND e.kind = 'status'"
                " AND e.status_code IN ('01', '03') AND e.actor = ANY($3::text[]) GROUP BY e.actor, e.status_code",
                start, end, organ_ids):
                stats[row["actor"]][f"p50_{row['status_code']}_s"] = round(row["p50"], 1)
    return stats


async def last_seen(pool: asyncpg.Pool, organ_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """When the router last recorded something from each agency's agent (a document, status or ack).

    Every active agency, or the given ones; one index probe each (`events_actor_at`).
    """
    with mapped():
        rows = await pool.fetch(
            "SELECT a.organ_id, a.name, (SELECT max(e.at) FROM events e WHERE e.actor = a.organ_id) AS last_seen"
            " FROM agencies a WHERE ($1::text[] IS NULL AND a.active) OR a.organ_id = ANY($1::text[])"
            " ORDER BY a.organ_id", organ_ids)
    return [dict(r) for r in rows]


@dataclass(frozen=True, slots=True)
class AgencyRow:
    """A directory row as the console lists it, with the soonest expiry of its current certificates."""

    organ_id: str
    name: str
    parent_id: str | None
    active: bool
    email: str
    certificates: int
    certificate_expiry: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "organ_id": self.organ_id, "name": self.name, "parent_id": self.parent_id, "active": self.active,
            "email": self.email, "certificates": self.certificates,
            "certificate_expiry": self.certificate_expiry.isoformat() if self.certificate_expiry else None,
        }


@functools.lru_cache(maxsize=16384)
def certificate_expiry(fingerprint: str, pem: str) -> datetime | None:
    """The certificate's notAfter (cached by fingerprint); None if the stored PEM does not parse."""
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii")).not_valid_after_utc
    except ValueError:
        return None


async def list_agencies(pool: asyncpg.Pool, *, after: str | None, limit: int) -> tuple[list[AgencyRow], str | None]:
    """One page of the directory by organ id; the token of the next page is the last organ id."""
    with mapped():
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT organ_id, name, parent_id, active, email FROM agencies"
                " WHERE ($1::text IS NULL OR organ_id > $1) ORDER BY organ_id LIMIT $2", after or None, limit + 1)
            page = rows[:limit]
            certs = await conn.fetch(
                "SELECT organ_id, fingerprint_sha256, pem FROM agency_certificates"
                " WHERE organ_id = ANY($1::text[]) AND retired_at IS NULL", [r["organ_id"] for r in page])
    expiries: dict[str, list[datetime]] = {}
    counts: dict[str, int] = {}
    for c in certs:
        counts[c["organ_id"]] = counts.get(c["organ_id"], 0) + 1
        expiry = certificate_expiry(c["fingerprint_sha256"], c["pem"])
        if expiry is not None:
            expiries.setdefault(c["organ_id"], []).append(expiry)
    agencies = [
        AgencyRow(r["organ_id"], r["name"], r["parent_id"], r["active"], r["email"], counts.get(r["organ_id"], 0),
                  min(expiries[r["organ_id"]]) if r["organ_id"] in expiries else None)
        for r in page
    ]
    return agencies, (page[-1]["organ_id"] if len(rows) > limit else None)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of documents found: how `q` was read, the rows, the next page's token, a count or None."""

    mode: SearchMode
    rows: list[dict[str, Any]]
    next: str | None
    count: int | None


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_documents(pool: asyncpg.Pool, q: str, *, after: str | None, limit: int) -> SearchPage:
    """Documents newest first matching `q`: an organ id of the directory (as sender or recipient), a
    DocumentId exactly, or at least 3 characters of a DocumentId (code and notation included) or subject."""
    q = q.strip()
    if not q:
        return SearchPage("empty", [], None, None)
    try:
        before = int(after) if after else None
    except ValueError:
        raise ConsoleError(f"page token {after!r} was not made by this page; start from its first page") from None
    with mapped():
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT 1 FROM agencies WHERE organ_id = $1", q):
                mode: SearchMode = "organ"
                where, arg = "(sender = $1 OR recipients @> ARRAY[$1::text])", q
            elif await conn.fetchval("SELECT 1 FROM documents WHERE document_id = $1 LIMIT 1", q):
                mode, where, arg = "document", "document_id = $1", q
            elif len(q) >= MIN_TEXT:
                mode, where, arg = "text", f"{_TEXT} ILIKE $1", _like(q)
            else:
                return SearchPage("too-short", [], None, None)
            rows = await conn.fetch(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE {where} AND ($2::bigint IS NULL OR id < $2)"
                " ORDER BY id DESC LIMIT $3", arg, before, limit + 1)
            count = await bounded_count(conn, f"SELECT count(*) FROM documents WHERE {where}", arg)
    page = [_document(r) for r in rows[:limit]]
    return SearchPage(mode, page, str(rows[limit - 1]["id"]) if len(rows) > limit else None, count)


def _document(row: Any) -> dict[str, Any]:
    return {"document_id": row["document_id"], "sender": row["sender"], "subject": row["subject"],
            "code": row["code"], "recipients": list(row["recipients"]), "received_at": row["received_at"]}


async def document_senders(pool: asyncpg.Pool, document_id: str) -> list[str]:
    """Every sender that used this DocumentId (it is unique per sender, not across the exchange)."""
    with mapped():
        rows = await pool.fetch("SELECT sender FROM documents WHERE document_id = $1 ORDER BY id", document_id)
    return [r["sender"] for r in rows]


async def refusals(pool: asyncpg.Pool, document_id: str) -> list[dict[str, Any]]:
    """Packages about this DocumentId that the router refused (the document itself, or statuses), oldest first."""
    with mapped():
        rows = await pool.fetch(
            "SELECT message_id, sender, kind, reason_code, reason, refused_at, requeued_at, requeue_message_id"
            " FROM dead_letters WHERE document_id = $1 ORDER BY refused_at, message_id", document_id)
    return [dict(r) for r in rows]
