"""The values the agent hands to document systems: plain frozen dataclasses, no I/O.

They are the vocabulary of `AgentService` (docs/ARCHITECTURE.md, "The agent"); the HTTP API, the drop folder
and the SDK facade translate them to their own formats. Times are aware UTC datetimes; the store keeps
milliseconds since the epoch and converts at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Literal

Kind = Literal["edoc", "status"]
TransportStatus = Literal["pending", "processing", "done", "fail"]
RecipientState = Literal["pending", "accepted", "refused", "delivered", "undeliverable"]
OutboxState = Literal["pending", "accepted", "refused", "duplicate"]
Superseded = Literal["revoked", "updated", "replaced"]


def ms_to_dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class Submission:
    """What the agent answers when it has durably accepted a package into its outbox."""

    message_id: str
    document_id: str
    kind: Kind
    duplicate: bool
    created_at: datetime
    warnings: tuple[str, ...] = ()  # what was repaired or assumed to bring the package to the signed form


@dataclass(frozen=True, slots=True)
class ReceivedItem:
    """A package delivered to this agency, verified and stored; `body` is the exact signed bytes.

    Beyond the contract's fields: `superseded`/`superseded_by` mark a document that a later revoke, update or
    replace package concerns (so the document system sees it), and `sent_at` (the sender's first publish) with
    `received_at` (stored here) give the end-to-end latency.
    """

    message_id: str
    kind: Kind
    sender: str
    document_id: str
    recipients: tuple[str, ...]
    subject: str
    status_code: str | None
    received_at: datetime
    updated_at: datetime
    transport_status: TransportStatus
    transport_reason: str | None
    signer: str
    body: bytes
    doc_type: int | None = None
    superseded: Superseded | None = None
    superseded_by: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SentRecipient:
    """One (sent package, recipient) pair and what is known of its fate."""

    message_id: str
    document_id: str
    recipient: str
    kind: Kind
    subject: str
    code_notation: str
    sent_at: datetime | None
    state: RecipientState
    reason: str | None
    last_status_code: str | None
    last_status_description: str | None
    last_status_at: datetime | None


@dataclass(frozen=True, slots=True)
class TrailEvent:
    """One step of a document's life as this agent saw it: a package it sent or received about the document."""

    at: datetime
    direction: Literal["out", "in"]
    kind: Kind
    organ_id: str
    message_id: str
    status_code: str | None
    description: str


@dataclass(frozen=True, slots=True)
class DocumentTrail:
    """Everything this agent knows about one document id: per-recipient states and the event list."""

    document_id: str
    recipients: tuple[SentRecipient, ...]
    events: tuple[TrailEvent, ...]


@dataclass(frozen=True, slots=True)
class OrganInput:
    """A receiving organ named by a document system; only the id is required, the rest may come from the
    directory mirror."""

    organ_id: str
    name: str = ""
    address: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class DocumentFields:
    """The fields a document system fills in instead of writing EDXML itself.

    `document_id` defaults to `{OrganId},{yyyy/MM/dd},{CodeNumber}/{CodeNotation}` of the sender.
    `doc_type` 0 new / 1 revoke / 2 update / 3 replace; `replaces` lists the document ids a 1/2/3 concerns.
    """

    to: tuple[OrganInput, ...]
    subject: str
    code_number: str
    code_notation: str
    promulgation_date: date | None = None
    place: str = ""
    document_type: int = 1
    type_name: str = ""
    content: str = ""
    signer_name: str = ""
    signer_position: str = ""
    steering_type: int = 0
    priority: int = 0
    due_date: date | None = None
    doc_type: int = 0
    doc_reason: str = ""
    replaces: tuple[str, ...] = field(default_factory=tuple)
    document_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttachmentInput:
    """A file to attach; `content_type` defaults from the name."""

    name: str
    data: bytes
    content_type: str = ""
    description: str = ""
