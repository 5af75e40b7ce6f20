"""The directory calls: the agencies one can send to, and (operator only) changes to the directory.

The agent answers from its mirror of `edx.directory`, which the router publishes from the exchange's
directory; agencies are added and disabled by the exchange operator (`axis agency add|disable`), not by
document systems, so `registerAgency`/`deleteAgency` fail unless an operator client calls a facade that the
operator runs with a `DirectoryAdmin`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._answers import VdxpFailure, ok
from ._auth import SignedCall
from ._context import Facade
from ._rows import agency_row, organ_level, sync_row
from ._service import DirectoryAdmin

__all__ = ["agencies_list", "agencies_list_qd20", "delete_agency", "register_agency", "synchronize_unit"]

_MAX_JSON_BODY = 64 * 1024


async def agencies_list(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`getAgenciesList`: the active agencies."""
    entries = await facade.service.agencies()
    return ok(data=[agency_row(e) for e in entries if e.active])


async def agencies_list_qd20(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`getAgenciesListQD20`: the active agencies of one administrative `level` (all when not given)."""
    raw = call.optional("level")
    level: int | None = None
    if raw not in (None, ""):
        try:
            level = int(raw)  # type: ignore[arg-type]
        except ValueError:
            raise VdxpFailure(400, "bad-level", f"XroadVnpt-level must be a number, not {raw!r}") from None
    entries = await facade.service.agencies()
    rows = [agency_row(e) for e in entries if e.active and (level is None or organ_level(e.organ_id) == level)]
    return ok(data=rows)


async def synchronize_unit(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`getSynchronizeUnit`: every agency, disabled ones marked deleted."""
    entries = await facade.service.agencies()
    return ok(data=[sync_row(e) for e in entries])


def _admin(facade: Facade, call: SignedCall) -> DirectoryAdmin:
    if not call.client.operator:
        raise VdxpFailure(
            403, "operator-only",
            "the directory is managed by the exchange operator; ask the operator to add or remove the agency",
        )
    if not facade.operator or facade.directory_admin is None:
        raise VdxpFailure(
            403, "operator-only",
            "the directory is managed by the exchange operator: this agent cannot change it "
            "(the operator uses axis agency add|disable)",
        )
    return facade.directory_admin


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > _MAX_JSON_BODY:
        raise VdxpFailure(413, "too-large", "the request body is too large")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise VdxpFailure(400, "bad-json", "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise VdxpFailure(400, "bad-json", "the request body must be a JSON object")
    return data


async def register_agency(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`registerAgency` (operator only): body `{"id","pcode","code","name","mail","mobile","fax"}`."""
    admin = _admin(facade, call)
    data = await _json_body(request)
    code, name = str(data.get("code") or "").strip(), str(data.get("name") or "").strip()
    if not code or not name:
        raise VdxpFailure(400, "bad-agency", "registerAgency needs code and name")
    await admin.register_agency(code, name, parent_id=str(data.get("pcode") or "") or None, email=str(data.get("mail") or ""))
    return ok()


async def delete_agency(facade: Facade, request: Request, call: SignedCall) -> Response:
    """`deleteAgency` (operator only): the agency in header `AgencyCode`."""
    admin = _admin(facade, call)
    await admin.delete_agency(call.param("AgencyCode"))
    return ok()
