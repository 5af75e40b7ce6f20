"""Small value types the unit of work hands to the router: tracking rows and document references."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def delivery_id_for(message_id: str, recipient: str) -> str:
    """Deterministic per (message, recipient): a replayed batch recreates the same id."""
    return hashlib.sha256(f"{message_id}\x00{recipient}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """The tracking row of an outbound message already handled."""

    message_id: str
    kind: str
    sender: str
    document_id: str
    outcome: str
    reason: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A document row as the router needs it to judge statuses and links."""

    id: int
    document_id: str
    sender: str
    recipients: tuple[str, ...]
    business_type: int
    accepted_at: datetime | None = None  # when the router accepted it (for latencies); None where not read


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """A refused record as it is kept: its exact bytes and headers, and why it was refused."""

    message_id: str  # the record's message-id, or 'x' + SHA-256 of its value when it had none
    sender: str
    kind: str
    document_id: str
    reason_code: str
    reason: str
    headers: dict[str, str]
    body: bytes
    refused_at: datetime

    def row(self) -> tuple[Any, ...]:
        return (self.message_id, self.sender, self.kind, self.document_id, self.reason_code, self.reason,
                self.headers, self.body, self.refused_at)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter as the console lists it (without its bytes)."""

    message_id: str
    sender: str
    kind: str
    document_id: str
    reason_code: str
    reason: str
    refused_at: datetime
    requeue_requested_at: datetime | None
    requeued_by: str | None
    requeued_at: datetime | None
    requeue_message_id: str | None

    @property
    def token(self) -> str:
        """The keyset token of this row: pass it as `after` for the next page."""
        return f"{self.refused_at.isoformat()}|{self.message_id}"
