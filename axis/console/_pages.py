"""The console's pages (read only; any signed-in user). Each returns HTML, or the same data as JSON.

Lists are paged by keyset: `?next=` carries the token the previous page gave (its last row's sort key).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from signing import DevPki

from . import _queries as queries
from ._auth import signed_in
from ._health import probe_all
from ._render import page
from ._state import ConsoleState, state_of

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(signed_in)])
SEEN_RECENTLY = timedelta(minutes=15)
SILENT_AFTER = timedelta(hours=24)
SILENT_SHOWN = 20


def _today(state: ConsoleState) -> tuple[datetime, datetime]:
    now = state.clock()
    return queries.day_bounds(now.astimezone(state.settings.tz).date(), state.settings.tz)


@router.get("/")
async def overview(request: Request) -> Response:
    state = state_of(request)
    now = state.clock()
    start, end = _today(state)
    overdue = await state.receipts.count(now)
    lag = await state.receipts.lag()
    seen = await queries.last_seen(state.ledger.pool)
    silent = sorted((a for a in seen if a["last_seen"] is None or now - a["last_seen"] > SILENT_AFTER),
                    key=lambda a: (a["last_seen"] is not None, a["last_seen"] or now))
    return page(request, "overview.html", {
        "day": start.date(),
        "today": await queries.today_figures(state.ledger.pool, start, end),
        "overdue": {"01": overdue.arrival, "03": overdue.acceptance, "total": overdue.total},
        "receipts_projection": {"seq": lag.seq, "behind": lag.behind, "updated_at": lag.updated_at},
        "components": await probe_all(state.probes),
        "agents": {
            "active": len(seen),
            "seen_recently": sum(1 for a in seen if a["last_seen"] and now - a["last_seen"] <= SEEN_RECENTLY),
            "silent": len(silent),
            "silent_shown": silent[:SILENT_SHOWN],
        },
    })


@router.get("/agencies")
async def agencies(request: Request, next: str | None = None) -> Response:
    state = state_of(request)
    start, end = _today(state)
    rows, token = await queries.list_agencies(state.ledger.pool, after=next, limit=state.page_size)
    organs = [r.organ_id for r in rows]
    today = await queries.today_by_agency(state.ledger.pool, start, end, organs)
    overdue = await state.receipts.by_recipient(organs)
    seen = {a["organ_id"]: a["last_seen"] for a in await queries.last_seen(state.ledger.pool, organs)}
    return page(request, "agencies.html", {
        "day": start.date(),
        "agencies": [{**r.as_dict(), **today[r.organ_id], "overdue": overdue.get(r.organ_id, 0),
                      "last_seen": seen.get(r.organ_id)} for r in rows],
        "next": token,
    })


@router.get("/documents")
async def documents(request: Request, q: str = "", next: str | None = None) -> Response:
    state = state_of(request)
    found = await queries.search_documents(state.ledger.pool, q, after=next, limit=state.page_size)
    return page(request, "documents.html", {
        "q": q, "mode": found.mode, "documents": found.rows, "next": found.next, "count": found.count,
        "min_text": queries.MIN_TEXT,
    })


@router.get("/documents/{document_id:path}")
async def document(request: Request, document_id: str, sender: str | None = None) -> Response:
    state = state_of(request)
    trail = await state.ledger.trail(document_id, sender)
    refusals = await queries.refusals(state.ledger.pool, document_id)
    data: dict[str, Any] = {
        "document_id": document_id, "trail": trail, "refusals": refusals,
        "senders": await queries.document_senders(state.ledger.pool, document_id),
    }
    return page(request, "document.html", data, status_code=200 if trail or refusals else 404)


@router.get("/dead-letters")
async def dead_letters(request: Request, next: str | None = None) -> Response:
    state = state_of(request)
    letters = await state.ledger.dead_letters(limit=state.page_size + 1, after=next)
    shown = letters[:state.page_size]
    return page(request, "dead_letters.html", {
        "dead_letters": [_letter(d) for d in shown],
        "next": shown[-1].token if len(letters) > state.page_size else None,
    })


def _letter(letter: Any) -> dict[str, Any]:
    return {name: getattr(letter, name) for name in (
        "message_id", "sender", "kind", "document_id", "reason_code", "reason", "refused_at",
        "requeue_requested_at", "requeued_by", "requeued_at", "requeue_message_id")}


@router.get("/overdue")
async def overdue(request: Request, next: str | None = None, recipient: str | None = None) -> Response:
    state = state_of(request)
    now = state.clock()
    late, token = await state.receipts.page(now=now, after=next, limit=state.page_size, recipient=recipient or None)
    count = await state.receipts.count(now)
    return page(request, "overdue.html", {
        "recipient": recipient, "overdue": [o.as_dict() for o in late], "next": token,
        "count": {"01": count.arrival, "03": count.acceptance, "total": count.total},
    })


@router.get("/directory")
async def directory(request: Request, next: str | None = None) -> Response:
    state = state_of(request)
    rows, token = await queries.list_agencies(state.ledger.pool, after=next, limit=state.page_size)
    return page(request, "directory.html", {
        "agencies": [r.as_dict() for r in rows], "next": token,
        "dev_pki": DevPki(state.settings.pki_dir).ca_path.exists(),
    })
