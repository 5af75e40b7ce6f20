"""A checkpoint: what the exchange signs to vouch for every ledger event up to a moment.

Events are grouped in batches (each unit of work that appends events writes one batch row with the Merkle
root of its events' hashes, in the same transaction, with no lock). A checkpoint covers the batches written
since the previous one: its `root` is the Merkle root of their roots, in batch order, and `prev_hash` is
the previous checkpoint's hash, so the checkpoints form one chain however many routers append events.
The checkpoint's canonical JSON is what the exchange seals and what a time-stamping authority stamps
(SHA-256 of it); an event is proved by its batch proof, its batch's proof, and the sealed checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["GENESIS_CHECKPOINT", "CheckpointBody"]

GENESIS_CHECKPOINT = "0" * 64


@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """The signed content of one checkpoint."""

    id: int
    at: datetime
    exchange: str  # the exchange's organ id (the subject of its sealing certificate)
    prev_hash: str
    root: str  # Merkle root of the covered batches' roots, in batch id order
    batch_ids: tuple[int, ...]
    events: int

    def canonical(self) -> bytes:
        data: dict[str, Any] = asdict(self)
        data["at"] = self.at.astimezone(timezone.utc).isoformat(timespec="microseconds")
        data["batch_ids"] = list(self.batch_ids)
        data["v"] = 1
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def digest(self) -> bytes:
        """What a time-stamping authority stamps."""
        return hashlib.sha256(self.canonical()).digest()

    @classmethod
    def from_canonical(cls, data: bytes) -> CheckpointBody:
        raw = json.loads(data)
        return cls(raw["id"], datetime.fromisoformat(raw["at"]), raw["exchange"], raw["prev_hash"], raw["root"],
                   tuple(raw["batch_ids"]), raw["events"])
