"""The ASGI app that serves the national exchange's SDK clients from an agent (mounted at `/vdxp`).

Each call is authenticated (`_auth`), dispatched to its handler, and every failure is answered in the
SDK's own FAIL format. An agency moves to this exchange by pointing `service.endpoint` at this app.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Awaitable, Callable

from agents.metrics import AgentMetrics
from axis.internal_errors import InternalErrors
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _directory, _receiving, _sending
from ._answers import VdxpFailure, fail
from ._auth import authenticate, read_headers
from ._context import Facade, Handler
from ._errors import to_failure
from ._registry import SdkClientRegistry
from ._service import DirectoryAdmin, VdxpService

__all__ = ["CALLS", "create_vdxp_app"]

log = logging.getLogger("agents.vdxp")

CALLS: dict[str, Handler] = {
    "sendEdoc": _sending.send_edoc,
    "getSentEdocList": _sending.sent_list,
    "getReceivedEdocList": _receiving.received_list,
    "getEdoc": _receiving.get_edoc,
    "downloadEdoc": _receiving.download_edoc,
    "updateStatus": _receiving.update_status,
    "countReceiveEdoc": _receiving.count_edoc,
    "countReceiveStatus": _receiving.count_status,
    "getAgenciesList": _directory.agencies_list,
    "getAgenciesListQD20": _directory.agencies_list_qd20,
    "getSynchronizeUnit": _directory.synchronize_unit,
    "registerAgency": _directory.register_agency,
    "deleteAgency": _directory.delete_agency,
}


def _endpoint(facade: Facade, name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """One call: authenticate, run the handler, and answer every failure in the SDK's FAIL format.

    A failure that is no known error is a fault of the agent: counted in `facade.errors` (one log line per
    distinct error, `/health` degraded while the call keeps failing) and answered 500 with its error id."""
    operation = f"vdxp {name}"

    async def endpoint(request: Request) -> Response:
        system_id = "?"
        try:
            call = authenticate(read_headers(request.scope["headers"]), facade.registry, now=facade.clock)
            system_id = call.client.system_id
            answer = await handler(facade, request, call)
        except Exception as exc:
            failure = to_failure(exc)
            if failure is None:
                error = facade.errors.record(operation, exc)
                failure = VdxpFailure(500, "internal-error", f"the agent failed on {name} (internal error "
                                      f"{error.error_id}); its operator finds it in the agent's log and /health")
                facade.metrics.facade_call(name, "error")
                return fail(failure)
            log.info("vdxp %s from %s: %s %s", name, system_id, failure.code, failure.description)
            facade.metrics.facade_call(name, "fail")
            answer = fail(failure)
        else:
            facade.metrics.facade_call(name, "ok")
        facade.errors.succeeded(operation)
        return answer

    endpoint.__name__ = name
    return endpoint


async def _unknown_call(request: Request) -> Response:
    return fail(VdxpFailure(404, "unknown-call", f"unknown call {request.url.path!r}"))


def create_vdxp_app(
    service: VdxpService,
    registry: SdkClientRegistry,
    *,
    operator: bool = False,
    directory_admin: DirectoryAdmin | None = None,
    max_package_bytes: int = 50 * 1024 * 1024,
    list_limit: int = 1000,
    clock: Callable[[], datetime] | None = None,
    errors: InternalErrors | None = None,
    metrics: AgentMetrics | None = None,
) -> Starlette:
    """The facade for one agent.

    `operator`: this agent is the exchange operator's own, so operator clients may call `registerAgency` and
    `deleteAgency` (through `directory_admin`); everywhere else they answer FAIL. `clock` exists for the
    freshness window that clients may be registered with (off by default: the SDK never refreshes its
    timestamp).
    """
    facade = Facade(
        service=service,
        registry=registry,
        clock=clock or (lambda: datetime.now(timezone.utc)),
        max_package_bytes=max_package_bytes,
        operator=operator,
        directory_admin=directory_admin,
        list_limit=list_limit,
        errors=errors or InternalErrors("SDK facade", log),
        metrics=metrics or AgentMetrics(),
    )
    routes = [Route(f"/{name}", _endpoint(facade, name, h), methods=["GET", "POST"]) for name, h in CALLS.items()]
    routes.append(Route("/{rest:path}", _unknown_call, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]))
    return Starlette(routes=routes)
