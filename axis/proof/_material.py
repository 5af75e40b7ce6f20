"""What an evidence bundle is made of, read from the ledger (or its archive) before it is written.

Kept apart from the zip layout (`_bundle.py`) and from the database (`axis.ledger`), so the bundle writer
and the offline verifier share one description of the parts, and tests can read it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["EventProof", "EvidenceMaterial", "ProvedEvent", "SealedCheckpoint"]

@dataclass(frozen=True, slots=True)
class EventProof:
    """Where an event sits: leaf `index` of a tree of `size` leaves, and the sibling hashes up to its root."""

    index: int
    size: int
    path: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "path": list(self.path)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventProof:
        return cls(int(data["index"]), int(data["size"]), tuple(data["path"]))


@dataclass(frozen=True, slots=True)
class ProvedEvent:
    """A ledger event with its hash, its batch, and the proofs from it to its batch and to the checkpoint."""

    row: dict[str, Any]  # the hashed fields, `at` as ISO text
    hash: str
    batch_id: int
    batch_root: str
    in_batch: EventProof
    checkpoint_id: int
    in_checkpoint: EventProof  # of the batch root among the checkpoint's batches

    def as_json(self) -> dict[str, Any]:
        return {"event": self.row, "hash": self.hash, "batch": {"id": self.batch_id, "root": self.batch_root,
                                                                "proof": self.in_batch.as_json()},
                "checkpoint": {"id": self.checkpoint_id, "proof": self.in_checkpoint.as_json()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProvedEvent:
        return cls(data["event"], data["hash"], int(data["batch"]["id"]), data["batch"]["root"],
                   EventProof.from_json(data["batch"]["proof"]), int(data["checkpoint"]["id"]),
                   EventProof.from_json(data["checkpoint"]["proof"]))


@dataclass(frozen=True, slots=True)
class SealedCheckpoint:
    """A checkpoint as the exchange signed it: its canonical bytes, the seal, and a time-stamp token if any."""

    id: int
    canonical: bytes
    seal: dict[str, str]
    timestamp: bytes | None = None


@dataclass
class EvidenceMaterial:
    """Everything one document's bundle holds."""

    document_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    package: bytes  # the document's package as sent (signed bytes)
    statuses: dict[str, bytes]  # message id -> status package as sent
    events: list[ProvedEvent]
    checkpoints: list[SealedCheckpoint]
    ca_pem: str
    signer_certificates: dict[str, str] = field(default_factory=dict)  # fingerprint -> PEM
    exchange: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
