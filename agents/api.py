"""The agent's own HTTP API (FastAPI): what a document system calls to send and receive documents.

The API serves as soon as the agent's store is open, also while the broker is unreachable: submissions go
to the durable outbox and leave when the broker answers; meanwhile `/health` says `degraded` (503) with
`broker` and `outbox_pending`. Every route except `/health` needs `Authorization: Bearer <token>` (the
agent's `token` file). Errors are JSON `{"error": code, "detail": message}`: 400 for an unreadable request,
422 for a package or fields that are wrong (the detail says where, e.g. `package.edxml:12: ...`), 404, 409,
413, 503. The national SDK facade (`agents.vdxp`) is mounted at `/vdxp` when present; it has its own
authentication.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, which use local names.
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import edxml
from axis.internal_errors import InternalErrors
from axis.proof import bundle_filename
from edxml import DocumentPackage, StaffInfo

from ._api_io import attachments_from_json, fields_from_json, parse_fields_text, received_json, to_json
from .bootstrap import Agent
from .errors import AgentError, AgentUnavailable, Conflict, InvalidInput, NotFound
from .model import AttachmentInput

__all__ = ["create_app"]

_log = logging.getLogger(__name__)
_STATUS = {InvalidInput: 422, NotFound: 404, Conflict: 409, AgentUnavailable: 503}
_RAW_TYPES = ("application/xml", "text/xml", "application/octet-stream", "application/edxml+xml")


class Staff(BaseModel):
    department: str = ""
    staff: str = ""
    email: str = ""
    mobile: str = ""


class StatusRequest(BaseModel):
    """A status about a document: 01..16 for received documents, 13 (withdraw) for our own."""

    code: str = Field(pattern=r"^\d{2}$", examples=["03"])
    description: str = ""
    staff: Staff | None = None


class DocumentStatusRequest(StatusRequest):
    document_id: str


class AckRequest(BaseModel):
    transport_status: Literal["done", "fail", "processing"]
    reason: str | None = None


def _error(exc: AgentError) -> JSONResponse:
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
    if exc.code == "too-large":
        status = 413
    return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidInput(f"request body is over the limit of {limit} bytes", code="too-large")
        chunks.append(chunk)
    return b"".join(chunks)


def _staff(staff: Staff | None) -> StaffInfo | None:
    return StaffInfo(**staff.model_dump()) if staff else None


_SUBMIT_DOC = {
    "requestBody": {"content": {
        "application/xml": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object", "description": "DocumentFields, plus attachments "
                                                                          "[{name, content_base64, content_type}]"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "fields": {"type": "string", "description": "DocumentFields as JSON"},
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "package": {"type": "string", "format": "binary", "description": "or: one EDXML package"}}}},
    }, "required": True},
}


class _InternalErrorsMiddleware:
    """An exception escaping a route is a fault of the agent: counted once per distinct error (see
    `axis.internal_errors`), answered 500 with its error id, and `/health` says degraded until the route works
    again. A route that answers (any status below 500) worked."""

    def __init__(self, app: ASGIApp, errors: InternalErrors) -> None:
        self.app = app
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            error = self.errors.record(_operation(scope), exc)
            if status:  # the answer had begun: nothing more can be said to this client
                raise
            detail = (f"the agent failed on this request (internal error {error.error_id}, seen {error.count} "
                      "time(s)); its operator finds it in the agent's log and /health")
            await JSONResponse({"error": "internal-error", "error_id": error.error_id, "detail": detail},
                               status_code=500)(scope, receive, send)
            return
        if status < 500:
            self.errors.succeeded(_operation(scope))


def _operation(scope: Scope) -> str:
    route = scope.get("route")
    return f"{scope.get('method', '')} {getattr(route, 'path', None) or scope.get('path', '')}"


def create_app(agent: Agent, *, manage_agent: bool = True) -> FastAPI:
    """The API of one agent; with `manage_agent` the app's lifespan starts and stops the agent."""
    service = agent.service
    limit = agent.settings.max_package_bytes + 1024 * 1024

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_agent:
            await agent.start()
        try:
            yield
        finally:
            if manage_agent:
                await agent.stop()

    bearer = HTTPBearer(auto_error=False)

    def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), agent.token.encode()):
            detail = "missing bearer token" if credentials is None else "wrong bearer token"
            raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(title=f"axis agent {agent.organ_id}", version="1", lifespan=lifespan)
    app.add_exception_handler(AgentError, lambda _r, exc: _error(exc))  # type: ignore[arg-type]
    app.add_middleware(_InternalErrorsMiddleware, errors=agent.errors)
    auth = [Depends(authorised)]

    @app.get("/health")
    async def health() -> JSONResponse:
        """200 only when everything runs; 503 otherwise, e.g. `degraded` while the broker is unreachable
        (documents are still accepted into the outbox then: `outbox_pending` says how many wait)."""
        report = await agent.health()
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    registry = agent.service.metrics.registry()

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics (counts and ages, no document content; no token needed, like /health)."""
        await agent.service.metrics.refresh(agent)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/documents", dependencies=auth, status_code=201, openapi_extra=_SUBMIT_DOC)
    async def submit(request: Request) -> JSONResponse:
        """Submit an EDXML package (raw body), DocumentFields as JSON, or multipart fields + files."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            data = parse_fields_text((await _read_limited(request, limit)).decode("utf-8", "replace"))
            sub = await service.submit_document(fields_from_json(data), attachments_from_json(data))
        elif ctype == "multipart/form-data":
            async with request.form(max_part_size=limit) as form:
                package = form.get("package")
                if isinstance(package, UploadFile):
                    sub = await service.submit_package(await package.read(), source=package.filename or "package")
                else:
                    text = form.get("fields")
                    if not isinstance(text, str):
                        raise InvalidInput("multipart: give a 'fields' part (JSON) or a 'package' file",
                                           code="invalid-fields")
                    files = [AttachmentInput(f.filename or f"file{i}", await f.read(), f.content_type or "")
                             for i, f in enumerate(form.getlist("files")) if isinstance(f, UploadFile)]
                    sub = await service.submit_document(fields_from_json(parse_fields_text(text)), files)
        elif ctype in _RAW_TYPES or not ctype:
            name = request.headers.get("x-filename") or "package.edxml"
            sub = await service.submit_package(await _read_limited(request, limit), source=name)
        else:
            raise HTTPException(415, f"send application/xml, application/json or multipart/form-data, not {ctype}")
        return JSONResponse(to_json(sub), status_code=200 if sub.duplicate else 201)

    @app.get("/received", dependencies=auth)
    async def received(kind: Literal["edoc", "status"] | None = None, pending_only: bool = False,
                       limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
        return [received_json(i) for i in await service.received(kind=kind, pending_only=pending_only, limit=limit)]

    @app.get("/received/{message_id}", dependencies=auth)
    async def received_item(message_id: str) -> dict[str, Any]:
        return received_json(await service.received_item(message_id))

    @app.get("/received/{message_id}/package", dependencies=auth)
    async def package(message_id: str) -> Response:
        item = await service.received_item(message_id)
        return Response(item.body, media_type="application/xml")

    async def _document(message_id: str) -> DocumentPackage:
        item = await service.received_item(message_id)
        pkg = edxml.parse_package(item.body)
        if not isinstance(pkg, DocumentPackage):
            raise NotFound(f"{message_id} is a status package; it has no attachments")
        return pkg

    @app.get("/received/{message_id}/attachments", dependencies=auth)
    async def attachments(message_id: str) -> list[dict[str, Any]]:
        pkg = await _document(message_id)
        return [{"index": i, "content_id": a.content_id, "name": a.name, "content_type": a.content_type,
                 "description": a.description} for i, a in enumerate(pkg.attachments)]

    @app.get("/received/{message_id}/attachments/{index}", dependencies=auth)
    async def attachment(message_id: str, index: int) -> Response:
        pkg = await _document(message_id)
        if not 0 <= index < len(pkg.attachments):
            raise NotFound(f"{message_id} has {len(pkg.attachments)} attachment(s); no index {index}")
        a = pkg.attachments[index]
        return Response(a.data, media_type=a.content_type or "application/octet-stream",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(a.name, safe='')}"})

    @app.post("/received/{message_id}/ack", dependencies=auth)
    async def acknowledge(message_id: str, body: AckRequest) -> dict[str, Any]:
        return received_json(await service.acknowledge(message_id, body.transport_status, body.reason))

    @app.post("/received/{message_id}/status", dependencies=auth, status_code=201)
    async def status_for_received(message_id: str, body: StatusRequest) -> dict[str, Any]:
        item = await service.received_item(message_id)
        if item.kind != "edoc":
            raise InvalidInput(f"{message_id} is a status package; statuses answer documents", code="bad-status")
        return to_json(await service.send_status(item.document_id, body.code, body.description, _staff(body.staff)))

    @app.post("/statuses", dependencies=auth, status_code=201)
    async def send_status(body: DocumentStatusRequest) -> dict[str, Any]:
        return to_json(await service.send_status(body.document_id, body.code, body.description, _staff(body.staff)))

    @app.get("/trail", dependencies=auth)
    async def trail(document_id: str) -> dict[str, Any]:
        return to_json(await service.trail(document_id))  # type: ignore[no-any-return]

    @app.get("/sent", dependencies=auth)
    async def sent(limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
        return [to_json(s) for s in await service.sent(limit=limit)]

    @app.get("/evidence", dependencies=auth)
    async def evidence(document_id: str, sender: str | None = None) -> Response:
        """The exchange's evidence bundle (zip) of a document this agency sent or received, as the exchange
        sealed it: check it offline with `axis evidence verify FILE --trust <exchange CA>`."""
        if agent.evidence is None:
            raise AgentUnavailable("this agent has no exchange to ask for evidence: set exchange_url")
        bundle = await agent.evidence.bundle(document_id, sender=sender)
        return Response(bundle, media_type="application/zip",
                        headers={"content-disposition": f'attachment; filename="{bundle_filename(document_id)}"'})

    @app.get("/agencies", dependencies=auth)
    async def agencies() -> list[dict[str, Any]]:
        return [json.loads(e.encode()) for e in await service.agencies()]

    _mount_vdxp(app, agent)
    return app


def _mount_vdxp(app: FastAPI, agent: Agent) -> None:
    try:
        from agents.vdxp import SdkClientRegistry, create_vdxp_app
    except ImportError:  # the facade is optional; the agent's own API works without it
        _log.info("agents.vdxp not importable: /vdxp not mounted")
        return
    registry = SdkClientRegistry(agent.directory / "sdk-clients.json")
    app.mount("/vdxp", create_vdxp_app(agent.service, registry, max_package_bytes=agent.settings.max_package_bytes,
                                       errors=agent.errors, metrics=agent.service.metrics))
