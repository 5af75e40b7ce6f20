"""Errors from below translated to FAIL answers at the facade's edge (like httpx's map_httpcore_exceptions).

Bad input never becomes a 500: the agent's and the EDXML layer's errors say what is wrong, and the client
shows `ErrorDesc` to the clerk. Only a fault of the agent itself is a 5xx.
"""

from __future__ import annotations

from agents.errors import AgentError, AgentUnavailable, Conflict, InvalidInput, NotFound
from edxml import EdxmlError, PackageTooLarge

from ._answers import VdxpFailure
from ._registry import RegistryError

__all__ = ["to_failure"]


def to_failure(exc: Exception) -> VdxpFailure | None:
    """The FAIL answer for a known error; None for anything unexpected (a bug: logged, answered 500)."""
    if isinstance(exc, VdxpFailure):
        return exc
    if isinstance(exc, NotFound):
        return VdxpFailure(404, exc.code, f"no such package here: {exc.message}")
    if isinstance(exc, InvalidInput):
        return VdxpFailure(400, exc.code, exc.message)
    if isinstance(exc, Conflict):
        return VdxpFailure(409, exc.code, exc.message)
    if isinstance(exc, AgentUnavailable):
        return VdxpFailure(503, exc.code, f"the agent cannot serve now, try again later: {exc.message}")
    if isinstance(exc, AgentError):
        return VdxpFailure(400, exc.code, exc.message)
    if isinstance(exc, PackageTooLarge):
        return VdxpFailure(413, "too-large", str(exc))
    if isinstance(exc, EdxmlError):
        return VdxpFailure(400, "invalid-package", f"the file is not a usable EDXML package: {exc}")
    if isinstance(exc, RegistryError):
        return VdxpFailure(500, "registry-unreadable", f"the agent's SDK client list cannot be read: {exc}")
    return None
