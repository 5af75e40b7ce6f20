"""The asyncpg edge: the pool, and the one place where driver errors become `axis.errors` ledger errors.

Like httpx's `map_httpcore_exceptions()`: everything above this module catches `LedgerError` and reads
`retriable`; nothing else imports asyncpg's exception classes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Iterator

import asyncpg

from axis.errors import (
    LedgerAppendOnly,
    LedgerConflict,
    LedgerError,
    LedgerIntegrityError,
    LedgerUnavailable,
)

APPEND_ONLY_SQLSTATE = "AXAPP"

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InterfaceError,
)
_CONFLICT: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.LockNotAvailableError,
)


def translate(exc: BaseException) -> LedgerError | None:
    """The ledger error for a driver error, or None when `exc` is not one (it then propagates as is)."""
    if isinstance(exc, LedgerError):
        return None
    if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == APPEND_ONLY_SQLSTATE:
        return LedgerAppendOnly(str(exc))
    if isinstance(exc, _CONFLICT):
        return LedgerConflict(str(exc))
    if isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError):
        return LedgerIntegrityError(str(exc))
    if isinstance(exc, _UNAVAILABLE):
        return LedgerUnavailable(f"PostgreSQL unavailable: {exc or type(exc).__name__}")
    if isinstance(exc, (asyncpg.PostgresError, asyncpg.exceptions.InterfaceWarning)):
        return LedgerError(f"{type(exc).__name__}: {exc}")
    return None


@contextlib.contextmanager
def mapped() -> Iterator[None]:
    """Run a block and re-raise driver errors as ledger errors, chained to the original."""
    try:
        yield
    except BaseException as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    """A pool whose connections return jsonb as Python values (the events' `detail`)."""

    async def init(conn: asyncpg.Connection) -> None:
        import json

        from ._chain import JsonText

        def encode(value: Any) -> str:
            return value if isinstance(value, JsonText) else json.dumps(value)

        await conn.set_type_codec("jsonb", encoder=encode, decoder=json.loads, schema="pg_catalog")

    with mapped():
        return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=init)


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction, driver errors translated (commit on success, else rollback)."""
    with mapped():
        async with pool.acquire() as conn:
            async with conn.transaction():
                yield conn
