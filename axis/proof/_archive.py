"""`axis ledger archive`: move old package bodies out of PostgreSQL into signed archive files.

At national volume the bodies are most of the ledger's size, while the proofs (events, batches, checkpoints)
are small. Bodies of documents accepted before a date, whose deliveries are all settled, and the bodies of
their status packages, are written to a zip (`documents/<row id>.edxml`, `statuses/<message id>.edxml`,
`manifest.json` with each entry's SHA-256, `manifest.seal.json`: the exchange's seal over the manifest),
written to a temporary name, synced and renamed; only then are the bodies cleared in the database, each one
checked against the SHA-256 the ledger recorded when it was accepted. The hashes and the proofs stay in
PostgreSQL; an evidence bundle for an archived document reads its bytes back from the archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from axis.errors import ProofError
from axis.ledger import Ledger
from signing import SigningIdentity

from ._seal import seal

__all__ = ["ArchiveReport", "archive_before", "read_archived"]


@dataclass(frozen=True, slots=True)
class ArchiveReport:
    file: Path | None
    documents: int
    statuses: int
    bytes: int


def _entry(row: dict[str, Any]) -> str:
    return f"statuses/{row['message_id']}.edxml" if "message_id" in row else f"documents/{row['id']}.edxml"


async def archive_before(ledger: Ledger, before: datetime, out_dir: Path, identity: SigningIdentity, *,
                         limit: int = 10_000) -> ArchiveReport:
    """Archive up to `limit` settled documents accepted before `before` (and their statuses) into one file."""
    documents, statuses = await ledger.proofs.archivable(before, limit)
    if not documents:
        return ArchiveReport(None, 0, 0, 0)
    entries = {_entry(d): bytes(d["body"]) for d in documents} | {_entry(s): bytes(s["body"]) for s in statuses}
    for row in [*documents, *statuses]:
        if hashlib.sha256(bytes(row["body"])).hexdigest() != row["body_sha256"]:
            raise ProofError(f"{_entry(row)}: its bytes do not match the SHA-256 the ledger recorded; not archived")
    now = datetime.now(UTC)
    name = f"axis-archive-{before:%Y%m%d}-{now:%Y%m%dT%H%M%S%f}.zip"
    manifest = json.dumps({"v": 1, "before": before.isoformat(), "created_at": now.isoformat(),
                           "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(entries.items())}},
                          sort_keys=True, indent=2).encode("utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
        zf.writestr("manifest.json", manifest)
        zf.writestr("manifest.seal.json", json.dumps(seal(identity, manifest).as_json()))
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    partial.replace(target)
    await ledger.proofs.mark_archived(name, [d["id"] for d in documents], [s["message_id"] for s in statuses])
    return ArchiveReport(target, len(documents), len(statuses), sum(len(v) for v in entries.values()))


def read_archived(path: Path, row: dict[str, Any]) -> bytes:
    """The body of `row` (a document or a status message row) from its archive file, checked against its
    manifest (the evidence then checks it against the ledger's SHA-256 too)."""
    entry = _entry(row)
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            data = zf.read(entry)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise ProofError(f"{path}: cannot read {entry}: {exc}") from exc
    if manifest["files"].get(entry) != hashlib.sha256(data).hexdigest():
        raise ProofError(f"{path}: {entry} does not match the archive's manifest")
    return data
