"""One leader among the routers, by a PostgreSQL session advisory lock held on a connection of its own.

Any number of routers share `edx.outbound` and the relay's rows; a few duties are for one of them only
(publishing the directory when it changes). The leader is whoever holds the lock; the lock lives as long as
its connection, so a leader killed with kill -9 loses it when PostgreSQL sees the connection gone, and the
next router to ask takes over. `is_leader()` checks the held connection with a round trip: a connection
that died unnoticed (PostgreSQL restarted, the network cut) no longer holds the lock, and a leader that kept
believing it would lead beside the next one.
"""

from __future__ import annotations

import asyncpg

from ._pg import mapped

__all__ = ["Leadership"]

_LEADER_LOCK = 0x6178696C  # "axil"


class Leadership:
    """`await is_leader()` as often as a duty comes round; `await close()` gives the lead up."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None

    async def is_leader(self) -> bool:
        """True while this process holds the lock; tries to take it when it does not."""
        if self._conn is not None and not self._conn.is_closed():
            try:
                await self._conn.fetchval("SELECT 1", timeout=5.0)
                return True
            except (asyncpg.PostgresError, OSError, TimeoutError):
                pass  # lost with its connection: try to take it again below
        await self.close()
        with mapped():
            conn = await asyncpg.connect(self._dsn)
            try:
                held = await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK)
            except BaseException:
                await conn.close()
                raise
        if not held:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=5.0)
            except (asyncpg.PostgresError, OSError, TimeoutError):
                conn.terminate()
