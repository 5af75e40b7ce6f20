"""Small value types the unit of work hands to the router: tracking rows and document references."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


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
