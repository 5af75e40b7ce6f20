"""The console's edge to asyncpg: driver errors become ledger errors, and counts give up instead of waiting.

Like Datasette's counts: a count over a big table runs under `SET LOCAL statement_timeout` in its own
transaction, and a count that would take longer than its budget answers None ("many") rather than slowing
the page down.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from axis.ledger import mapped

__all__ = ["COUNT_BUDGET_MS", "bounded_count", "mapped"]

COUNT_BUDGET_MS = 80



async def bounded_count(conn: asyncpg.Connection, sql: str, *args: Any, budget_ms: int = COUNT_BUDGET_MS) -> int | None:
    """`SELECT count(*) ...` within `budget_ms`; None when it gave up. `conn` must not be in a transaction."""
    with mapped():
        try:
            async with conn.transaction(readonly=True):
                await conn.execute(f"SET LOCAL statement_timeout = {int(budget_ms)}")
                return int(await conn.fetchval(sql, *args))
        except asyncpg.QueryCanceledError:
            return None
