"""The ledger's side of the statistics, in SQL: the facts a rebuild replays, and the figures as SQL counts them.

The ledger is the truth. `ledger_facts()` reads the facts the stats count straight from the ledger's tables
(`events` joined to `documents`; refusals from their tracking rows in `processed_messages`, where every
refused package is, however the router tells it as events) with the fields the router gives them on
`edx.events` (docs/ARCHITECTURE.md), so that a rebuild and the broker's copy make the same tallies and
deduplicate against each other (a test holds the two to the same tallies). `ledger_figures()` computes
every figure of every window independently of the stream, with exact percentiles (`percentile_disc`): it is
what the stats app's own figures are compared with.

Both read from a time on: events by `at` (index `events_at`), refusals by `processed_at`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from axis.ledger import mapped
from axis.wire import LedgerFact

from ._figures import COUNTS, DURATIONS, QUANTILES, Window
from ._tallies import COUNTED_KINDS, STATUS_MEASURES

__all__ = ["FigureKey", "ledger_facts", "ledger_figures"]

FigureKey = tuple[str, datetime]  # (agency, window start)

_EVENT_FACTS = """
SELECT 'e' || e.seq AS id, e.at, e.kind, e.document_id, d.sender, e.recipient, e.actor, e.status_code, e.message_id,
       d.received_at AS accepted_at
FROM events e JOIN documents d ON d.id = e.document
WHERE e.at >= $1 AND (e.kind = ANY($2::text[]) OR (e.kind = 'status' AND e.status_code = ANY($3::text[])))
ORDER BY e.seq
"""
_REFUSAL_FACTS = """
SELECT 'r' || p.message_id AS id, p.processed_at AS at, p.document_id, p.sender, p.message_id, p.reason, p.kind
FROM processed_messages p WHERE p.outcome = 'refused' AND p.processed_at >= $1 ORDER BY p.processed_at
"""

# One row per counted fact: (agency, measure, at, seconds). A duration counts the first status of its code
# for the (document, recipient), as the stream does; the status rules allow no second one anyway.
_COUNTED = """
SELECT d.sender AS agency, 'sent' AS measure, e.at, NULL::float8 AS seconds
  FROM events e JOIN documents d ON d.id = e.document WHERE e.kind = 'received' AND e.at >= $1
UNION ALL
SELECT e.recipient, 'received', e.at, NULL FROM events e WHERE e.kind = 'delivered' AND e.at >= $1
UNION ALL
SELECT d.sender, 'deliveries', e.at, NULL
  FROM events e JOIN documents d ON d.id = e.document WHERE e.kind = 'delivered' AND e.at >= $1
UNION ALL
SELECT p.sender, 'refusals', p.processed_at, NULL
  FROM processed_messages p WHERE p.outcome = 'refused' AND p.processed_at >= $1
UNION ALL
SELECT e.recipient, 'to_' || e.status_code, e.at, extract(epoch FROM e.at - d.received_at)::float8
  FROM events e JOIN documents d ON d.id = e.document
  WHERE e.kind = 'status' AND e.status_code IN ('01', '03') AND e.at >= $1
    AND NOT EXISTS (SELECT 1 FROM events f WHERE f.document = e.document AND f.recipient = e.recipient
                    AND f.kind = 'status' AND f.status_code = e.status_code AND f.seq < e.seq)
"""


def _figures_sql() -> str:
    counts = [f"count(*) FILTER (WHERE measure = '{m}') AS {m}" for m in COUNTS]
    for m in DURATIONS:
        counts.append(f"count(*) FILTER (WHERE measure = '{m}') AS {m}_count")
        counts += [f"percentile_disc({q}) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE measure = '{m}')"
                   f" AS {m}_p{round(q * 100)}" for q in QUANTILES]
    return (f"WITH counted AS ({_COUNTED}) SELECT agency, date_trunc($2, at, $3) AS start, {', '.join(counts)}"
            " FROM counted GROUP BY 1, 2")


_FIGURES = _figures_sql()



def _event_fact(r: Any) -> LedgerFact:
    return LedgerFact(r["id"], r["at"], r["kind"], document_id=r["document_id"], sender=r["sender"],
                      recipient=r["recipient"], actor=r["actor"], status_code=r["status_code"],
                      message_id=r["message_id"], accepted_at=r["accepted_at"],
                      package_kind="edoc" if r["kind"] == "received" else "")


def _refusal_fact(r: Any) -> LedgerFact:
    return LedgerFact(r["id"], r["at"], "refused", document_id=r["document_id"], sender=r["sender"],
                      actor=r["sender"], message_id=r["message_id"], reason=r["reason"], package_kind=r["kind"])


async def ledger_facts(pool: asyncpg.Pool, since: datetime, *, batch: int = 2000) -> AsyncIterator[list[LedgerFact]]:
    """The facts the stats count, recorded at or after `since`, in batches (a cursor: a busy day stays cheap)."""
    with mapped():
        async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            for sql, args, build in (
                (_EVENT_FACTS, (since, list(COUNTED_KINDS), list(STATUS_MEASURES)), _event_fact),
                (_REFUSAL_FACTS, (since,), _refusal_fact),
            ):
                cursor = await conn.cursor(sql, *args)
                while rows := await cursor.fetch(batch):
                    yield [build(r) for r in rows]


async def ledger_figures(
    pool: asyncpg.Pool, window: Window, tz: ZoneInfo, since: datetime
) -> dict[FigureKey, dict[str, Any]]:
    """Per (agency, window start) from `since` on: the figures as `Figures.report()` shapes them, exact."""
    with mapped():
        rows = await pool.fetch(_FIGURES, since, window.name, tz.key if window.local else "UTC")
    figures: dict[FigureKey, dict[str, Any]] = {}
    for r in rows:
        report: dict[str, Any] = {m: r[m] for m in COUNTS}
        for m in DURATIONS:
            report[f"time_{m}_seconds"] = {"count": r[f"{m}_count"],
                                           **{f"p{round(q * 100)}": r[f"{m}_p{round(q * 100)}"] for q in QUANTILES}}
        figures[(r["agency"], r["start"].astimezone(tz))] = report
    return figures
