"""The event hash chain: each event's hash covers its content and the previous event's hash.

Anyone holding an export of the events table can recompute the chain; changing, inserting or removing
one event breaks every hash after it. Canonical JSON (sorted keys, no spaces, UTF-8, times in UTC ISO
8601 with microseconds) makes the hash independent of the database and the driver.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64

HASHED_FIELDS = (
    "seq", "at", "document_id", "recipient", "actor", "kind", "status_code", "message_id", "detail", "signature",
)


def _utc(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def event_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 hex of the canonical JSON of the hashed fields plus `prev_hash`."""
    payload = {name: row[name] for name in HASHED_FIELDS}
    payload["at"] = _utc(payload["at"])
    payload["prev_hash"] = prev_hash
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of walking the chain: `ok`, how many events, and the first bad sequence number."""

    ok: bool
    events: int
    first_bad_seq: int | None = None
    problem: str = ""


class ChainWalker:
    """Checks events one at a time in `seq` order, so a caller can stream the table through it."""

    def __init__(self) -> None:
        self._prev = GENESIS
        self._count = 0
        self._bad: ChainReport | None = None

    def feed(self, row: Mapping[str, Any]) -> bool:
        """Check the next event; False once the chain is broken (later rows are then ignored)."""
        if self._bad is not None:
            return False
        self._count += 1
        if row["prev_hash"] != self._prev:
            self._bad = ChainReport(False, self._count, row["seq"], "prev_hash does not match the previous event")
        elif event_hash(row, self._prev) != row["hash"]:
            self._bad = ChainReport(False, self._count, row["seq"], "hash does not match the event's content")
        else:
            self._prev = row["hash"]
        return self._bad is None

    def report(self) -> ChainReport:
        return self._bad or ChainReport(True, self._count)


def verify_rows(rows: Iterable[Mapping[str, Any]]) -> ChainReport:
    """Walk events in `seq` order and recompute every link."""
    walker = ChainWalker()
    for row in rows:
        if not walker.feed(row):
            break
    return walker.report()
