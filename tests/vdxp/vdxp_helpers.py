"""Test doubles for the SDK facade: a client that behaves like the national SDK, and a small fake agent.

`SdkLikeClient` is written from the recorded facts of the Java SDK (see ../shared/vdxp-sdk-wire):
one header map for the client object's whole life (headers of earlier calls stay), a timestamp fixed at
creation, HMAC-SHA256 over the `sign-header` JSON keyed with the secret's UTF-8 bytes, and `sendEdoc`
posting the raw file plus CRLF with `hash-file` in the SDK's short hex form.

`FakeAgentService` stands in for `AgentService` in unit tests of the facade only; the replay and
end-to-end tests use the real agent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import httpx
from shared_material import SDK_SAMPLES, SDK_WIRE

import edxml
from agents.errors import InvalidInput, NotFound
from agents.model import ReceivedItem, SentRecipient, Submission
from axis.wire import DirectoryEntry, new_message_id, sha256_hex

SAMPLES = SDK_SAMPLES
WIRE = SDK_WIRE
SECRET = "S3cretKeyForTesting"
H13 = "002.00.20.H13"
H41 = "000.00.00.H41"
G22 = "000.00.00.G22"
SAAS = "vxp.saas.03"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sdk_hex(data: bytes) -> str:
    """SHA-256 hex the way the SDK writes it: each byte without its leading zero."""
    return "".join(format(b, "x") for b in hashlib.sha256(data).digest())


def sign(sign_header: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode("utf-8"), sign_header.encode("utf-8"), hashlib.sha256).hexdigest()


class SdkLikeClient:
    """Makes calls as the national SDK does, including its accumulated headers and frozen timestamp."""

    def __init__(self, http: httpx.AsyncClient, system_id: str, secret: str = SECRET,
                 timestamp: str = "26112026T014339+0215") -> None:
        self.http = http
        self.secret = secret
        self.params: dict[str, str] = {"systemid": system_id}
        self.timestamp = timestamp

    async def call(self, path: str, params: dict[str, str] | None = None, *, method: str = "POST",
                   body: bytes = b"", content_type: str = "application/json",
                   tamper: dict[str, str] | None = None) -> httpx.Response:
        """One call; `tamper` overrides header values after signing (an attacker's edit)."""
        self.params.update(params or {})
        self.params["timestamp"] = self.timestamp
        self.params["Content-Type"] = content_type
        sign_header = json.dumps({f"XroadVnpt-{k}": v for k, v in self.params.items()},
                                 separators=(",", ":"), ensure_ascii=False)
        headers = {f"XroadVnpt-{k}": v for k, v in self.params.items()}
        headers.update({
            "Content-Type": content_type,
            "XroadVnpt-sign-header-key": ";".join(self.params),
            "XroadVnpt-sign-header": sign_header,
            "XroadVnpt-hash-header": sign(sign_header, self.secret),
            "XroadVnpt-version": "3.0.201608",
            "User-Agent": "JAVASDKAgent/1.0.0 XRoad/VPCP",
        })
        headers.update(tamper or {})
        encoded = [(k.encode(), v.encode("utf-8")) for k, v in headers.items()]
        return await self.http.request(method, path, headers=encoded, content=body)

    async def send_edoc(self, file: bytes, *, messagetype: str = "edoc", from_: str | None = None,
                        to: str | None = None) -> httpx.Response:
        params = {"servicetype": "eDoc", "messagetype": messagetype, "hash-file": sdk_hex(file)}
        if from_ is not None:
            params["from"] = from_
        if to is not None:
            params["to"] = to
        return await self.call("/sendEdoc", params, body=file + b"\r\n", content_type="application/octet-stream")

    async def received_list(self, messagetype: str = "edoc") -> list[dict[str, Any]]:
        answer = (await self.call("/getReceivedEdocList", {"servicetype": "eDoc", "messagetype": messagetype})).json()
        assert answer["status"] == "OK", answer
        return answer["data"]

    async def get_edoc(self, doc_id: str, file_path: str = "xml") -> bytes:
        answer = (await self.call("/getEdoc", {"docId": doc_id, "filePath": file_path}, body=b"{}")).json()
        assert answer["status"] == "OK", answer
        return base64.b64decode(answer["data"])

    async def update_status(self, doc_id: str, status: str) -> dict[str, Any]:
        return (await self.call("/updateStatus", {"docId": doc_id, "status": status}, body=b"{}")).json()

    async def receive_loop(self, folder: Path, messagetype: str = "edoc") -> list[Path]:
        """The SDK's receive loop: list, get, store as `<folder>/<yyyy>/<MM>/<docId>.edxml`, updateStatus done."""
        stored = []
        for row in await self.received_list(messagetype):
            data = await self.get_edoc(row["docId"], str(folder))
            now = datetime.now()
            path = folder / f"{now:%Y}" / f"{now:%m}" / f"{row['docId']}.edxml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            answer = await self.update_status(row["docId"], "done")
            assert answer["status"] == "OK", answer
            stored.append(path)
        return stored


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

    async def submit_package(self, data: bytes, *, profile: Literal["strict", "lenient"] = "strict",
                             source: str = "<api>", sign_as: str | None = None) -> Submission:
        try:
            pkg = edxml.parse_package(data, profile=profile, source=source)
        except edxml.EdxmlError as exc:
            raise InvalidInput(str(exc)) from exc
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
