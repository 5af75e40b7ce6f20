"""What every handler of the facade is given: the agent, the client registry and the facade's options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Awaitable, Callable

from agents.metrics import AgentMetrics
from axis.internal_errors import InternalErrors
from starlette.requests import Request
from starlette.responses import Response

from ._auth import SignedCall
from ._registry import SdkClientRegistry
from ._service import DirectoryAdmin, VdxpService

__all__ = ["Facade", "Handler"]


@dataclass(frozen=True, slots=True)
class Facade:
    """The wiring of one facade; built once by `create_vdxp_app`."""

    service: VdxpService
    registry: SdkClientRegistry
    clock: Callable[[], datetime]
    max_package_bytes: int
    operator: bool
    directory_admin: DirectoryAdmin | None
    list_limit: int
    errors: InternalErrors
    metrics: AgentMetrics


Handler = Callable[[Facade, Request, SignedCall], Awaitable[Response]]
