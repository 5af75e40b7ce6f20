"""Apply `axis/migrations/NNNN_name.sql` in order, once each, recorded in `schema_migrations`.

Plain SQL files so a DBA can read and apply them by hand. An advisory lock serialises concurrent
starters (router and CLI starting together); each file runs in its own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from axis.errors import MigrationError

from ._pg import mapped

_LOCK_KEY = 0x61786973  # "axis"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """The migrations shipped with the code, in version order."""
    found = []
    for entry in resources.files("axis").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {[m.name for m in found]}")
    return found


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Bring the schema up to date; returns the names of the files applied now."""
    migrations = available()
    applied_now: list[str] = []
    with mapped():
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                unknown = done - {m.version for m in migrations}
                if unknown:
                    raise MigrationError(
                        f"the database has migrations {sorted(unknown)} that this code does not know; "
                        "upgrade axis before running it against this database"
                    )
                for migration in migrations:
                    if migration.version in done:
                        continue
                    try:
                        async with conn.transaction():
                            await conn.execute(migration.sql)
                            await conn.execute(
                                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                migration.version,
                                migration.name,
                            )
                    except asyncpg.PostgresError as exc:
                        raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
                    applied_now.append(migration.name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
