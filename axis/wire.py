"""What travels on the broker: topic names, record headers and the router's notices.

Shared by the router and the agents so that both sides read and write one format. Pure data, no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal, Sequence

OUTBOUND = "edx.outbound"
DEAD_LETTER = "edx.dead-letter"
DIRECTORY = "edx.directory"
EPOCH = "edx.epoch"
EVENTS = "edx.events"
INBOX_PREFIX = "edx.inbox."

PackageKind = Literal["edoc", "status", "ack", "notice"]
NoticeOutcome = Literal["accepted", "refused", "duplicate", "undeliverable"]

_TOPIC_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


class WireFormatError(ValueError):
    """A record on the broker does not carry what the wire format requires."""


def inbox_topic(organ_id: str) -> str:
    """The inbox topic of one agency; organ ids are used verbatim, so they must be topic-safe."""
    if not _TOPIC_SAFE.match(organ_id):
        raise WireFormatError(f"organ id {organ_id!r} cannot name a topic (allowed: letters, digits, '.', '_', '-')")
    return INBOX_PREFIX + organ_id


def new_message_id() -> str:
    """A message id: fixed when a package enters an outbox and identical on every resend."""
    return uuid.uuid4().hex


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class RecordHeaders:
    """The headers of a record on `edx.outbound` or an inbox topic."""

    message_id: str
    kind: PackageKind
    sender: str
    body_sha256: str
    sent_at_ms: int
    delivery_id: str | None = None
    attempt: int | None = None
    reason: str | None = None
    requeued_from: str | None = None  # an operator requeued the dead letter of this message id

    def encode(self) -> list[tuple[str, bytes]]:
        pairs = [
            ("message-id", self.message_id),
            ("package-kind", self.kind),
            ("sender", self.sender),
            ("body-sha256", self.body_sha256),
            ("sent-at", str(self.sent_at_ms)),
        ]
        if self.delivery_id is not None:
            pairs.append(("delivery-id", self.delivery_id))
        if self.attempt is not None:
            pairs.append(("attempt", str(self.attempt)))
        if self.reason is not None:
            pairs.append(("reason", self.reason))
        if self.requeued_from is not None:
            pairs.append(("requeued-from", self.requeued_from))
        return [(k, v.encode("utf-8")) for k, v in pairs]

    @classmethod
    def decode(cls, headers: Sequence[tuple[str, bytes]]) -> "RecordHeaders":
        values = {k: v.decode("utf-8", "replace") for k, v in headers}
        missing = [k for k in ("message-id", "package-kind", "sender", "body-sha256") if not values.get(k)]
        if missing:
            raise WireFormatError(f"record lacks header(s) {', '.join(missing)}")
        kind = values["package-kind"]
        if kind not in ("edoc", "status", "ack", "notice"):
            raise WireFormatError(f"unknown package-kind {kind!r}")
        try:
            sent_at = int(values.get("sent-at") or 0)
            attempt = int(values["attempt"]) if values.get("attempt") else None
        except ValueError as exc:
            raise WireFormatError(f"bad numeric header: {exc}") from exc
        return cls(
            message_id=values["message-id"],
            kind=kind,  # type: ignore[arg-type]
            sender=values["sender"],
            body_sha256=values["body-sha256"],
            sent_at_ms=sent_at,
            delivery_id=values.get("delivery-id"),
            attempt=attempt,
            reason=values.get("reason"),
            requeued_from=values.get("requeued-from"),
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """The router's answer to a sender about one outbound message, or about a recipient it gave up on."""

    message_id: str
    outcome: NoticeOutcome
    reason: str = ""
    document_id: str = ""
    recipients: tuple[str, ...] = field(default_factory=tuple)
    recipient: str = ""
    at_ms: int = 0
    requeued: bool = False  # the outcome of an operator's requeue: it replaces an earlier refusal

    def encode(self) -> bytes:
        data = asdict(self)
        data["recipients"] = list(self.recipients)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, body: bytes) -> "Notice":
        try:
            data = json.loads(body)
            return cls(
                message_id=data["message_id"],
                outcome=data["outcome"],
                reason=data.get("reason", ""),
                document_id=data.get("document_id", ""),
                recipients=tuple(data.get("recipients", ())),
                recipient=data.get("recipient", ""),
                at_ms=int(data.get("at_ms", 0)),
                requeued=bool(data.get("requeued", False)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WireFormatError(f"malformed notice: {exc}") from exc


def encode_ack(delivery_ids: Sequence[str]) -> bytes:
    """The value of an `ack` record: the deliveries an agent has stored durably."""
    return json.dumps({"delivery_ids": list(delivery_ids)}).encode("utf-8")


def decode_ack(body: bytes) -> list[str]:
    try:
        ids = json.loads(body)["delivery_ids"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WireFormatError(f"malformed ack: {exc}") from exc
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise WireFormatError("malformed ack: delivery_ids must be a list of strings")
    return ids


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One agency as the router publishes it on `edx.directory` (key: organ id; compacted)."""

    organ_id: str
    name: str
    parent_id: str | None = None
    active: bool = True
    email: str = ""
    updated_at_ms: int = 0

    def encode(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, body: bytes) -> "DirectoryEntry":
        try:
            return cls(**json.loads(body))
        except (ValueError, TypeError) as exc:
            raise WireFormatError(f"malformed directory entry: {exc}") from exc


FactKind = Literal[
    "received", "published", "delivered", "status", "status-refused", "undeliverable", "revoked", "updated",
    "replaced", "receiver-removed", "refused", "operator",
]


@dataclass(frozen=True, slots=True)
class LedgerFact:
    """One fact the ledger committed, as published on `edx.events` (docs/ARCHITECTURE.md): no bodies.

    `id` is stable across republication (`e<seq>`: refusals and operators' actions are ledger events too),
    so a consumer drops repeats by it. Times are aware (UTC on the wire).
    """

    id: str
    at: datetime
    kind: FactKind
    document_id: str = ""
    sender: str = ""
    recipient: str = ""
    actor: str = ""
    status_code: str = ""
    message_id: str = ""
    accepted_at: datetime | None = None
    reason: str = ""
    package_kind: str = ""

    @property
    def key(self) -> bytes:
        return (self.document_id or self.sender).encode("utf-8")

    def encode(self) -> bytes:
        data = {"v": 1, **asdict(self)}
        data["at"] = self.at.isoformat()
        data["accepted_at"] = self.accepted_at.isoformat() if self.accepted_at else None
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, body: bytes) -> "LedgerFact":
        try:
            data = json.loads(body)
            data.pop("v", None)
            data["at"] = datetime.fromisoformat(data["at"])
            if data.get("accepted_at"):
                data["accepted_at"] = datetime.fromisoformat(data["accepted_at"])
            return cls(**data)
        except (ValueError, KeyError, TypeError) as exc:
            raise WireFormatError(f"malformed ledger fact: {exc}") from exc
