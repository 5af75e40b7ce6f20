"""Health of the exchange's components as the overview shows it: one probe per component, each answering a
dict with at least `status` (`ok`, `degraded`, `unhealthy`, `unreachable`).

In `axis up` the router runs in the same process and is asked directly; `axis console` next to a production
router asks the router's `/health` (and the stats app's) over HTTP. A probe never raises: a component that
cannot be asked is `unreachable`, with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import httpx

__all__ = ["Probe", "http_probe", "probe_all", "router_probe"]

Probe = Callable[[], Awaitable[dict[str, Any]]]


class _HasHealth(Protocol):
    def health(self) -> dict[str, Any]: ...


def router_probe(router: _HasHealth) -> Probe:
    """Ask a router running in this process."""

    async def probe() -> dict[str, Any]:
        return router.health()

    return probe


def http_probe(url: str, *, timeout_s: float = 0.5) -> Probe:
    """GET a component's `/health` (JSON); 503 answers still carry the component's own report. The timeout is
    short because the overview waits for it."""

    async def probe() -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=timeout_s) as client:
                response = await client.get(url)
            report = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return {"status": "unreachable", "url": url, "error": str(exc) or type(exc).__name__}
        if not isinstance(report, dict) or "status" not in report:
            return {"status": "unreachable", "url": url, "error": f"HTTP {response.status_code}, not a health report"}
        return {**report, "url": url}

    return probe


async def probe_all(probes: Mapping[str, Probe]) -> dict[str, dict[str, Any]]:
    """Every component's report, in the order given, asked at once (a hung one costs one timeout, not several)."""
    reports = await asyncio.gather(*(probe() for probe in probes.values()))
    return dict(zip(probes, reports, strict=True))
