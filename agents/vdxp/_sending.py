"""`sendEdoc`: take a package exactly as a document system wrote it and hand it to the agent.

The SDK posts the raw file followed by one CRLF (`application/octet-stream`); other clients post
multipart with the file in `file_doc`. The HMAC does not cover the body, and a captured request can be
replayed forever (the timestamp never changes), so the signed `hash-file` is what binds the body to the
authenticated headers: it is required, and accepted in both hex forms the SDKs write (with and without each
byte's leading zero), over the file with and without the trailing CRLF.

Recipients come from the package (`To`, or `ResponseFor` for a status); a `to` header must agree. The agent
signs only as its own organ, so `from` must be that organ *and* one the client may send for.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from agents.model import Submission
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from ._answers import VdxpFailure, ok
from ._auth import SignedCall
from ._context import Facade
from ._rows import sent_row
from ._service import VdxpService

__all__ = ["hex_forms", "parse_to_header", "read_package", "send_edoc", "sent_list", "submit_sent_package"]

_CRLF = b"\r\n"


def hex_forms(data: bytes) -> set[str]:
    """The SHA-256 of `data` as 64 hex digits and as the SDK writes it (each byte without its leading zero)."""
    digest = hashlib.sha256(data).digest()
    return {digest.hex(), "".join(format(b, "x") for b in digest)}


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise VdxpFailure(413, "too-large", f"the request body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart_file(request: Request, body: bytes) -> bytes:
    """The `file_doc` field of a multipart body already read (and size-checked) into memory."""
    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=4, max_fields=64)
    except Exception as exc:  # python-multipart raises several unrelated types on malformed input
        raise VdxpFailure(400, "bad-multipart", f"the multipart body cannot be read: {exc}") from exc
    try:
        field: Any = form.get("file_doc")
        if field is None:
            raise VdxpFailure(400, "missing-file", "the multipart body has no field file_doc")
        data = await field.read() if hasattr(field, "read") else str(field).encode("utf-8")
    finally:
        await form.close()
    return bytes(data)


def _match_hash(payload: bytes, hash_file: str) -> bytes:
    """The file whose hash was signed: the payload less its trailing CRLF, or the payload itself."""
    wanted = hash_file.strip().lower()
    candidates = [payload[: -len(_CRLF)], payload] if payload.endswith(_CRLF) else [payload]
    for candidate in candidates:
        if wanted in hex_forms(candidate):
            return candidate
    raise VdxpFailure(
        400, "bad-hash-file",
        "XroadVnpt-hash-file does not match the file sent (checked the SHA-256 with and without the trailing "
        "CRLF, in both hex forms)",
    )


async def read_package(request: Request, call: SignedCall, *, max_bytes: int) -> bytes:
    """The file of a `sendEdoc`, from either body form, verified against the signed `hash-file`."""
    hash_file = call.param("hash-file")
    body = await _read_capped(request, max_bytes)
    content_type = request.headers.get("content-type", "").lower()
    payload = await _multipart_file(request, body) if content_type.startswith("multipart/") else body
    if not payload.strip():
        raise VdxpFailure(400, "empty-file", "sendEdoc carries no file")
    return _match_hash(payload, hash_file)


def parse_to_header(value: str) -> set[str]:
    """Organ ids from a `to` header: a JSON list, the SDK's JSON-quoted JSON list, or a comma-separated list."""
    text = value.strip()
    for _ in range(3):  # the SDK quotes the caller's JSON once more: "[\"000.00.00.G22\"]"
        if not text.startswith(("[", '"')):
            break
        try:
            decoded = json.loads(text)
        except ValueError:
            break
        if isinstance(decoded, list):
            return {str(o).strip() for o in decoded if str(o).strip()}
        if not isinstance(decoded, str):
            break
        text = decoded.strip()
    return {o.strip() for o in re.split(r"[,;]", text) if o.strip()}


def _check_routing(package: Any, call: SignedCall, organ_id: str) -> None:
    """messagetype, to and from must agree with the package, the client's rights and the agent's key."""
    messagetype = call.optional("messagetype")
    if messagetype is not None and messagetype.lower() not in ("edoc", "status"):
        raise VdxpFailure(400, "bad-messagetype", f"XroadVnpt-messagetype must be edoc or status, not {messagetype!r}")
    if messagetype is not None and messagetype.lower() != package.kind:
        raise VdxpFailure(
            400, "messagetype-mismatch",
            f"XroadVnpt-messagetype is {messagetype} but the file is a{'n' if package.kind == 'edoc' else ''} "
            f"{package.kind} package",
        )
    to = call.optional("to")
    if to is not None and parse_to_header(to) != set(package.recipients):
        where = "To" if package.kind == "edoc" else "ResponseFor/OrganId"
        raise VdxpFailure(
            400, "to-mismatch",
            f"XroadVnpt-to names {sorted(parse_to_header(to))} but the package's {where} names "
            f"{sorted(package.recipients)}",
        )
    sender = call.optional("from") or package.sender
    if sender != package.sender:
        raise VdxpFailure(
            400, "from-mismatch",
            f"XroadVnpt-from is {sender} but the package's From/OrganId is {package.sender}",
        )
    client = call.client
    if sender not in client.may_send_for:
        raise VdxpFailure(
            403, "from-not-allowed",
            f"system {client.system_id} may not send for organ {sender} (it may send for "
            f"{', '.join(client.may_send_for)})",
        )
    if sender != organ_id:
        raise VdxpFailure(
            403, "from-not-this-agent",
            f"this agent signs only as organ {organ_id}; packages from organ {sender} must go through that "
            f"organ's own agent (axis agent --organ-id {sender})",
        )


async def submit_sent_package(service: VdxpService, call: SignedCall, data: bytes) -> Submission:
    """Submit the package leniently, checked against the call once completed; the agent's Submission.

    The agent's submission is idempotent, so a replayed or re-sent file gets the DocId of the first one.
    """
    return await service.submit_package(data, profile="lenient", source=f"sendEdoc from {call.client.system_id}",
                                        check=lambda package: _check_routing(package, call, service.organ_id),
                                        via="facade")


async def send_edoc(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`sendEdoc` (`messagetype` edoc or status): answer the package's `DocId`, and what the agent repaired or
    assumed (`warnings`; the SDK reads only `status` and `DocId`)."""
    data = await read_package(request, call, max_bytes=facade.max_package_bytes + 4096)
    submission = await submit_sent_package(facade.service, call, data)
    return ok(DocId=submission.message_id, warnings=list(submission.warnings))


async def sent_list(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`getSentEdocList`: one row per receiver of each sent package, from the agent's ledger mirror."""
    rows = await facade.service.sent(limit=facade.list_limit)
    return ok(data=[sent_row(r, sender=facade.service.organ_id) for r in rows])
