"""The agency directory: organ ids, names, hierarchy, the active flag and signing certificates.

`Directory` runs on a pool (CLI, read side) or inside a unit of work's connection (the router judges a
batch against the same snapshot it writes in). A package verifies only if its signer certificate's
SHA-256 fingerprint is registered, not retired, for its From organ: the exchange CA alone is not enough,
since one compromised agency could otherwise sign as itself with a certificate we never registered.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from axis.errors import LedgerIntegrityError, UnknownAgency
from axis.wire import DirectoryEntry

from ._pg import mapped


def fingerprint_of_pem(pem: str | bytes) -> str:
    """SHA-256 hex of the certificate's DER encoding (what signing.VerifiedSignature reports)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise LedgerIntegrityError(f"not a PEM certificate: {exc}") from exc
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@dataclass(frozen=True, slots=True)
class Agency:
    """One directory row with its certificate fingerprints (newest first)."""

    organ_id: str
    name: str
    parent_id: str | None
    active: bool
    email: str
    updated_at: datetime
    fingerprints: tuple[str, ...] = field(default_factory=tuple)

    def entry(self) -> DirectoryEntry:
        return DirectoryEntry(
            organ_id=self.organ_id, name=self.name, parent_id=self.parent_id, active=self.active,
            email=self.email, updated_at_ms=int(self.updated_at.timestamp() * 1000),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "organ_id": self.organ_id, "name": self.name, "parent_id": self.parent_id, "active": self.active,
            "email": self.email, "updated_at": self.updated_at.isoformat(), "fingerprints": list(self.fingerprints),
        }


_SELECT = (
    "SELECT a.organ_id, a.name, a.parent_id, a.active, a.email, a.updated_at,"
    " COALESCE(array_agg(c.fingerprint_sha256 ORDER BY c.added_at DESC)"
    "   FILTER (WHERE c.fingerprint_sha256 IS NOT NULL AND c.retired_at IS NULL), '{}') AS fingerprints"
    " FROM agencies a LEFT JOIN agency_certificates c ON c.organ_id = a.organ_id"
)


def _agency(row: Any) -> Agency:
    return Agency(
        row["organ_id"], row["name"], row["parent_id"], row["active"], row["email"], row["updated_at"],
        tuple(row["fingerprints"]),
    )


class Directory:
    """Directory queries and changes over an asyncpg pool or connection (both have fetch/execute)."""

    def __init__(self, db: Any) -> None:
        self._db = db

    async def get(self, organ_id: str) -> Agency | None:
        with mapped():
            row = await self._db.fetchrow(_SELECT + " WHERE a.organ_id = $1 GROUP BY a.organ_id", organ_id)
        return _agency(row) if row else None

    async def many(self, organ_ids: Sequence[str]) -> dict[str, Agency]:
        with mapped():
            rows = await self._db.fetch(
                _SELECT + " WHERE a.organ_id = ANY($1::text[]) GROUP BY a.organ_id", list(organ_ids)
            )
        return {row["organ_id"]: _agency(row) for row in rows}

    async def list(self) -> list[Agency]:
        with mapped():
            rows = await self._db.fetch(_SELECT + " GROUP BY a.organ_id ORDER BY a.organ_id")
        return [_agency(row) for row in rows]

    async def certificate_expiries(self) -> dict[str, tuple[str, datetime]]:
        """Fingerprint -> (organ id, not valid after) of every certificate in use by an active agency."""
        with mapped():
            rows = await self._db.fetch(
                "SELECT c.fingerprint_sha256, c.organ_id, c.pem FROM agency_certificates c"
                " JOIN agencies a ON a.organ_id = c.organ_id WHERE a.active AND c.retired_at IS NULL")
        return {r["fingerprint_sha256"]: (r["organ_id"], _not_after(r["pem"])) for r in rows}

    async def version(self) -> tuple[int, datetime | None]:
        """(count, latest change): cheap to poll, changes whenever an agency is added or changed."""
        with mapped():
            row = await self._db.fetchrow("SELECT count(*) AS n, max(updated_at) AS at FROM agencies")
        return int(row["n"]), row["at"]

    async def add(
        self, organ_id: str, name: str, *, parent_id: str | None = None, email: str = "",
        certificates: Sequence[str | bytes] = (), at: datetime,
    ) -> Agency:
        """Register (or re-activate and rename) an agency and add certificates to it."""
        fingerprints = [(fingerprint_of_pem(pem), pem) for pem in certificates]
        with mapped():
            await self._db.execute(
                "INSERT INTO agencies (organ_id, name, parent_id, email, active, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, true, $5, $5) ON CONFLICT (organ_id) DO UPDATE SET name = $2,"
                " parent_id = COALESCE($3, agencies.parent_id), email = $4, active = true, updated_at = $5",
                organ_id, name, parent_id, email, at,
            )
            for fingerprint, pem in fingerprints:
                text = pem.decode("ascii") if isinstance(pem, bytes) else pem
                await self._db.execute(
                    "INSERT INTO agency_certificates (fingerprint_sha256, organ_id, pem, added_at)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint_sha256) DO NOTHING",
                    fingerprint, organ_id, text, at,
                )
        agency = await self.get(organ_id)
        assert agency is not None  # just written in the same session
        for fingerprint, _ in fingerprints:
            if fingerprint not in agency.fingerprints:
                raise LedgerIntegrityError(f"certificate {fingerprint} is registered to another agency")
        return agency

    async def disable(self, organ_id: str, *, at: datetime) -> Agency:
        """Stop routing from and to an agency; its history stays."""
        with mapped():
            done = await self._db.fetchval(
                "UPDATE agencies SET active = false, updated_at = $2 WHERE organ_id = $1 RETURNING organ_id",
                organ_id, at,
            )
        if done is None:
            raise UnknownAgency(f"no agency {organ_id!r} in the directory")
        agency = await self.get(organ_id)
        assert agency is not None
        return agency

    async def retire_certificate(self, fingerprint: str, *, at: datetime) -> None:
        """A rotated-out key stops verifying new packages."""
        with mapped():
            await self._db.execute(
                "UPDATE agency_certificates SET retired_at = $2 WHERE fingerprint_sha256 = $1 AND retired_at IS NULL",
                fingerprint, at,
            )


class DirectorySnapshot:
    """Read-only directory lookups for one unit of work, each agency read at most once.

    The router judges a whole batch against one view of the directory; caching also turns a lookup per
    record (sender, recipients) into one query per batch when the batch's organ ids are loaded up front.
    """

    def __init__(self, db: Any) -> None:
        self._directory = Directory(db)
        self._known: dict[str, Agency | None] = {}

    async def many(self, organ_ids: Sequence[str]) -> dict[str, Agency]:
        missing = [o for o in dict.fromkeys(organ_ids) if o not in self._known]
        if missing:
            found = await self._directory.many(missing)
            self._known.update({o: found.get(o) for o in missing})
        return {o: a for o in organ_ids if (a := self._known[o]) is not None}

    async def get(self, organ_id: str) -> Agency | None:
        return (await self.many([organ_id])).get(organ_id)


@functools.lru_cache(maxsize=65536)
def _not_after(pem: str) -> datetime:
    """A certificate's end of validity (parsed once per certificate)."""
    return x509.load_pem_x509_certificate(pem.encode("ascii")).not_valid_after_utc
