"""Console accounts: a name, a role and an argon2id password hash in the ledger's `console_users` table.

A viewer reads every page; an operator also acts (requeue, directory changes). Passwords are hashed with
argon2-cffi's defaults (argon2id, salted, parameters kept in the hash) off the event loop, since a hash costs
tens of milliseconds of CPU on purpose. A wrong password and an unknown name cost the same time and give
the same answer, so a login form does not tell which names exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from axis.errors import ConsoleError

from ._db import mapped

__all__ = ["MIN_PASSWORD_LENGTH", "ROLES", "ConsoleUser", "ConsoleUsers", "Role"]

Role = Literal["viewer", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "operator")
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_HASHER = PasswordHasher()
# Verified against when the name is unknown, so both failures take one argon2 verification.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """One account; `password_hash` never prints."""

    name: str
    role: Role
    created_at: datetime
    updated_at: datetime
    password_hash: str = field(repr=False)

    @property
    def may_act(self) -> bool:
        """Only operators change anything; viewers read."""
        return self.role == "operator"

    @property
    def session_stamp(self) -> str:
        """Kept in the session: a new password (or a removed account) ends every session opened before."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


def _user(row: Any) -> ConsoleUser:
    return ConsoleUser(row["name"], cast(Role, row["role"]), row["created_at"], row["updated_at"], row["password_hash"])


class ConsoleUsers:
    """Accounts over the ledger's pool; driver errors arrive as `LedgerError`s, input errors as `ConsoleError`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        with mapped():
            return list(await self._pool.fetch(sql, *args))

    async def add(self, name: str, role: str, password: str, *, replace: bool = False) -> ConsoleUser:
        """Create an account (or, with `replace`, give an existing one a new role and password)."""
        if not _NAME.match(name):
            raise ConsoleError(f"user name {name!r}: use 1 to 64 letters, digits or . _ @ -")
        if role not in ROLES:
            raise ConsoleError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ConsoleError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        password_hash = await asyncio.to_thread(_HASHER.hash, password)
        conflict = ("DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash, updated_at = now()"
                    if replace else "DO NOTHING")
        rows = await self._fetch(
            "INSERT INTO console_users (name, role, password_hash) VALUES ($1, $2, $3)"
            f" ON CONFLICT (name) {conflict} RETURNING *", name, role, password_hash,
        )
        if not rows:
            raise ConsoleError(f"user {name!r} exists; remove it first, or add it again with --replace")
        return _user(rows[0])

    async def get(self, name: str) -> ConsoleUser | None:
        rows = await self._fetch("SELECT * FROM console_users WHERE name = $1", name)
        return _user(rows[0]) if rows else None

    async def list(self) -> list[ConsoleUser]:
        return [_user(r) for r in await self._fetch("SELECT * FROM console_users ORDER BY name")]

    async def remove(self, name: str) -> None:
        """Delete an account; its open sessions end at their next request."""
        if not await self._fetch("DELETE FROM console_users WHERE name = $1 RETURNING name", name):
            raise ConsoleError(f"no console user {name!r}")

    async def authenticate(self, name: str, password: str) -> ConsoleUser | None:
        """The account when the password matches, else None (same cost and answer for an unknown name)."""
        user = await self.get(name) if _NAME.match(name) else None
        if not await asyncio.to_thread(_verify, user.password_hash if user else _DUMMY_HASH, password) or user is None:
            return None
        if _HASHER.check_needs_rehash(user.password_hash):  # argon2's defaults grew since it was hashed
            await self._fetch("UPDATE console_users SET password_hash = $2 WHERE name = $1", name,
                              await asyncio.to_thread(_HASHER.hash, password))
            user = await self.get(name) or user
        return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
