"""The calls of the SDK's receive loop (list, get or download, updateStatus) and the counters.

The receive loop of a document system is: `getReceivedEdocList`, then for each row `getEdoc` (or
`downloadEdoc`), store the file, and `updateStatus done`. "done" is the transport acknowledgement: the package
leaves the pending list. "fail" keeps it listed (the system will try again) and records why. Business
statuses (01-16) are not set here: they travel as status packages through `sendEdoc`.
"""

from __future__ import annotations

import base64
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from ._answers import VdxpFailure, ok
from ._auth import SignedCall
from ._context import Facade
from ._rows import received_row

__all__ = ["count_edoc", "count_status", "download_edoc", "get_edoc", "received_list", "update_status"]

_TRANSPORT = ("done", "fail", "processing")


def _kind(call: SignedCall) -> Literal["edoc", "status"]:
    value = (call.optional("messagetype") or "edoc").lower()
    if value not in ("edoc", "status"):
        raise VdxpFailure(400, "bad-messagetype", f"XroadVnpt-messagetype must be edoc or status, not {value!r}")
    return "edoc" if value == "edoc" else "status"


async def received_list(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`getReceivedEdocList`: packages of the asked kind not yet acknowledged `done`."""
    items = await facade.service.received(kind=_kind(call), pending_only=True, limit=facade.list_limit)
    return ok(data=[received_row(item) for item in items])


async def get_edoc(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`getEdoc`: the exact signed package in base64 (the client writes `<filePath>/<yyyy>/<MM>/<docId>.edxml`)."""
    item = await facade.service.received_item(call.param("docId"))
    return ok(data=base64.b64encode(item.body).decode("ascii"))


async def download_edoc(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`downloadEdoc`: the same package, raw."""
    item = await facade.service.received_item(call.param("docId"))
    return Response(item.body, media_type="application/octet-stream")


async def update_status(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`updateStatus`: the transport acknowledgement; repeating it changes nothing."""
    doc_id = call.param("docId")
    status = call.param("status").lower()
    if status not in _TRANSPORT:
        raise VdxpFailure(
            400, "bad-status",
            f"XroadVnpt-status must be done, fail or processing, not {status!r} (business statuses 01-16 "
            "travel as status packages through sendEdoc)",
        )
    reason = None
    if status == "fail":
        reason = call.optional("description") or f"reported as failed by document system {call.client.system_id}"
    await facade.service.acknowledge(doc_id, status, reason)  # type: ignore[arg-type]  # checked above
    return ok()


async def _count(facade: Facade, kind: Literal["edoc", "status"]) -> Response:
    return ok(count=await facade.service.count_received(kind=kind, pending_only=True))


async def count_edoc(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`countReceiveEdoc`: documents waiting for the document system."""
    return await _count(facade, "edoc")


async def count_status(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`countReceiveStatus`: status packages waiting for the document system."""
    return await _count(facade, "status")
