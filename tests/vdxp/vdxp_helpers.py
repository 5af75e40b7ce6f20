"""Test doubles for the SDK facade: a client that behaves like the national SDK, and a small fake agent.

`SdkLikeClient` (in `tests/sdk_client.py`, shared with other test folders) is written from the recorded
facts of the Java SDK.

`FakeAgentService` stands in for `AgentService` in unit tests of the facade only; the replay and
end-to-end tests use the real agent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sdk_client import SECRET, SdkLikeClient, sdk_hex, sign  # noqa: F401 -- the vdxp tests import them from here
from shared_material import SDK_SAMPLES, SDK_WIRE

import edxml
from agents.errors import InvalidInput, NotFound
from agents.model import ReceivedItem, SentRecipient, Submission
from axis.wire import DirectoryEntry, new_message_id, sha256_hex

SAMPLES = SDK_SAMPLES
WIRE = SDK_WIRE
H13 = "002.00.20.H13"
H41 = "000.00.00.H41"
G22 = "000.00.00.G22"
SAAS = "vxp.saas.03"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _now() -> datetime:
    return datetime.now(timezone.utc)


class FakeAgentService:
    """An in-memory AgentService for unit tests: same calls, same idempotence, no store, broker or keys."""

    def __init__(self, organ_id: str) -> None:
        self.organ_id = organ_id
        self.outbox: list[tuple[Submission, bytes]] = []
        self.inbox: dict[str, ReceivedItem] = {}
        self.directory: list[DirectoryEntry] = []
        self.sent_rows: list[SentRecipient] = []

    async def submit_package(self, data: bytes, *, profile: Literal["strict", "lenient"] = "lenient",
                             source: str = "<api>", sign_as: str | None = None,
                             check: Callable[[edxml.Package], None] | None = None, via: str = "api") -> Submission:
        try:
            pkg = edxml.parse_package(data, profile=profile, source=source)
        except edxml.EdxmlError as exc:
            raise InvalidInput(str(exc)) from exc
        if check is not None:
            check(pkg)
        if pkg.sender != self.organ_id:
            raise InvalidInput(f"From/OrganId is {pkg.sender}", code="from-mismatch")
        sha = sha256_hex(data)
        for sub, body in self.outbox:
            if sub.document_id == pkg.document_id and sub.kind == pkg.kind and sha256_hex(body) == sha:
                return replace(sub, duplicate=True)
        sub = Submission(new_message_id(), pkg.document_id, pkg.kind, False, _now())
        self.outbox.append((sub, data))
        for recipient in pkg.recipients:
            self.sent_rows.append(SentRecipient(sub.message_id, pkg.document_id, recipient, pkg.kind, "subject",
                                                "X", _now(), "pending", None, None, None, None))
        return sub

    def deliver(self, body: bytes) -> ReceivedItem:
        """Put a package in the inbox as the receiver would."""
        pkg = edxml.parse_package(body, profile="lenient")
        code = None if pkg.kind == "edoc" else pkg.status_code.value  # type: ignore[union-attr]
        item = ReceivedItem(new_message_id(), pkg.kind, pkg.sender, pkg.document_id, pkg.recipients, "subject",
                            code, _now(), _now(), "pending", None, pkg.sender, body)
        self.inbox[item.message_id] = item
        return item

    async def received(self, *, kind: Literal["edoc", "status"] | None = None, pending_only: bool = False,
                       limit: int = 1000) -> list[ReceivedItem]:
        items = [i for i in self.inbox.values() if kind is None or i.kind == kind]
        if pending_only:  # "pending" for the SDK: not yet acknowledged done ("fail" stays listed)
            items = [i for i in items if i.transport_status != "done"]
        return items[:limit]

    async def received_item(self, message_id: str) -> ReceivedItem:
        try:
            return self.inbox[message_id]
        except KeyError:
            raise NotFound(f"no received package with message id {message_id!r}") from None

    async def acknowledge(self, message_id: str, transport_status: Literal["done", "fail", "processing"],
                          reason: str | None = None) -> ReceivedItem:
        item = await self.received_item(message_id)
        if (item.transport_status, item.transport_reason) != (transport_status, reason):
            item = replace(item, transport_status=transport_status, transport_reason=reason, updated_at=_now())
            self.inbox[message_id] = item
        return item

    async def count_received(self, *, kind: Literal["edoc", "status"], pending_only: bool = True) -> int:
        return len(await self.received(kind=kind, pending_only=pending_only))

    async def sent(self, *, limit: int = 1000) -> list[SentRecipient]:
        return self.sent_rows[:limit]

    async def agencies(self) -> list[DirectoryEntry]:
        return list(self.directory)


def wire_requests() -> list[dict[str, Any]]:
    """The recorded requests of the national Java SDK, in order."""
    return [json.loads(line) for line in WIRE.read_text(encoding="utf-8").splitlines() if line.strip()]


def wire_body(request: dict[str, Any]) -> bytes:
    """The body of a recorded request: a named sample file plus CRLF for sendEdoc, else the text."""
    text = request.get("body", "")
    if request["path"] == "/sendEdoc":
        data = sample(text.split(" ", 1)[0]) + b"\r\n"
        assert len(data) == request["body_length"]
        return data
    return text.encode("utf-8")
