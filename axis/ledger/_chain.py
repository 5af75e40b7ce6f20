"""Event hashes: version 2 covers an event's fields and the bytes it concerns; version 1 was a chain.

Version 2 (every event since the proof tables): SHA-256 of the event's fields, length-prefixed, including
`body_sha256` (the bytes concerned) and `signature` (how their signature verified). Events carry no
link to a previous event: batches (a Merkle root per unit of work) and sealed checkpoints prove the set and
its order (`axis.proof`), so several writers append without a lock. Version 1 (events written before): each
hash also covered the previous event's hash, one chain for the whole ledger; `verify_rows` still walks it.
Canonical JSON (sorted keys, no spaces, UTF-8, times in UTC ISO 8601 with microseconds) makes a hash
independent of the database and the driver.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64

HASHED_FIELDS = (
    "seq", "at", "document_id", "recipient", "actor", "kind", "status_code", "message_id", "detail", "signature",
)
HASHED_FIELDS_V2 = (*HASHED_FIELDS, "body_sha256")


def _utc(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _digest(payload: dict[str, Any]) -> str:
    payload["at"] = _utc(payload["at"])
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """Version 1: SHA-256 hex of the canonical JSON of the hashed fields plus `prev_hash`."""
    return _digest({**{name: row[name] for name in HASHED_FIELDS}, "prev_hash": prev_hash})


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_V2 = b"axis-event-v2"
_AT, _DETAIL = HASHED_FIELDS_V2.index("at"), HASHED_FIELDS_V2.index("detail")
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


class JsonText(str):
    """JSON already encoded (canonically): the ledger's jsonb codec writes it as it is, not encoded again."""


def canonical_json(value: Any) -> JsonText:
    """Sorted keys, no spaces, UTF-8 text: what an event's `detail` is hashed (and, as is, stored) as."""
    return value if isinstance(value, JsonText) else JsonText(_encode(value))


def event_digest(row: Mapping[str, Any]) -> str:
    """Version 2: SHA-256 hex over the event's fields in `HASHED_FIELDS_V2` order, each as UTF-8 prefixed with
    its length (4 bytes, big-endian); `at` as integer microseconds since the Unix epoch, `detail` as canonical
    JSON. Length prefixes make the encoding unambiguous without JSON's cost on the hot path."""
    texts = [str(row[name]) if name not in ("at", "detail") else "" for name in HASHED_FIELDS_V2]
    texts[_AT] = str((row["at"] - _EPOCH) // _MICROSECOND)
    texts[_DETAIL] = canonical_json(row["detail"])
    data = [text.encode("utf-8") for text in texts]
    return hashlib.sha256(_V2 + b"".join(len(d).to_bytes(4, "big") + d for d in data)).hexdigest()


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
