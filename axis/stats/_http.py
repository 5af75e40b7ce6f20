"""The stats app's HTTP surface on `http_host` (127.0.0.1 by default): `/metrics` (Prometheus), `/health`, and JSON for the console.

- `GET /health`: the service's report (JSON); 200 only when `status` is `ok`, else 503.
- `GET /stats/agencies?window=minute|hour|day[&at=ISO-8601]`: every agency with figures in the window that
  holds `at` (default now), or with overdue receipts: sent, received, deliveries, refusals, time to 01 and
  03 (count, p50, p90 in seconds), overdue receipts by late status. `ready` is false while the tables
  are still being rebuilt (figures then count only what was read so far).
- `GET /stats/overview[?at=ISO-8601]`: the whole exchange in the minute, the hour and the day holding `at`.

Metrics (Prometheus naming: base units, `_total` counters, bounded labels; docs/STATS.md says why):

- `axis_stats_documents_sent_total`, `axis_stats_documents_received_total`, `axis_stats_deliveries_total`,
  `axis_stats_refusals_total`: the running local day, whole exchange (they reset at local midnight, which
  Prometheus reads as a counter reset); absent while the tables are being rebuilt, so a rebuild never shows
  as a drop and a burst.
- `axis_stats_time_to_status_seconds{status="01|03", quantile="0.5|0.9", window="hour|day"}`.
- `axis_stats_overdue_receipts{agency, status}`: one series per agency with receipts past their deadline
  (the only per-agency label: at most one series per agency and status, and only while something is late).
- `axis_stats_healthy`, `axis_stats_ready`, `axis_stats_facts_total`, `axis_stats_duplicate_tallies_total`,
  `axis_stats_malformed_facts_total`, `axis_stats_rebuilds_total`, `axis_stats_broker_epochs_total`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from axis.serving import AsgiServer

from ._figures import COUNTS, DURATIONS, QUANTILES, WINDOWS, Figures, window_named

if TYPE_CHECKING:
    from ._service import StatsService

__all__ = ["StatsCollector", "stats_http"]

_COUNTERS = {
    "sent": ("documents_sent", "Documents accepted from their sender, this local day"),
    "received": ("documents_received", "Documents delivered to a recipient, this local day"),
    "deliveries": ("deliveries", "Deliveries of documents to a recipient, counted for the sender, this local day"),
    "refusals": ("refusals", "Packages refused by the router, this local day"),
}


def _total(figures: dict[str, Figures]) -> Figures:
    total = Figures()
    for one in figures.values():
        total.merge(one)
    return total


class StatsCollector(Collector):
    """Reads the service's engine and overdue counts at each scrape."""

    def __init__(self, service: StatsService) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        service, engine = self._service, self._service.engine
        health = service.health()
        yield GaugeMetricFamily("axis_stats_healthy", "1 while the stats app is ok (its /health answers 200)",
                                value=int(health["status"] == "ok"))
        yield GaugeMetricFamily("axis_stats_ready", "1 when the tables hold the ledger's figures (rebuild counted)",
                                value=int(engine is not None and engine.ready))
        yield CounterMetricFamily("axis_stats_rebuilds_total", "Rebuilds of the tables from the ledger",
                                  value=service.rebuilds)
        yield CounterMetricFamily("axis_stats_broker_epochs_total", "Times the broker was found to have lost its data",
                                  value=service.epochs_seen)
        yield from self._overdue(service.overdue)
        if engine is None:
            return
        yield CounterMetricFamily("axis_stats_facts_total", "Ledger facts read from edx.events by this engine",
                                  value=engine.facts)
        yield CounterMetricFamily("axis_stats_duplicate_tallies_total", "Tallies dropped as repeats (by fact id)",
                                  value=engine.duplicates)
        yield CounterMetricFamily("axis_stats_malformed_facts_total", "Records on edx.events that are not facts",
                                  value=engine.malformed)
        if not engine.ready:
            return
        now = service.clock()
        by_window = {w.name: _total(engine.figures(w, now)) for w in WINDOWS if w.name in ("hour", "day")}
        for measure in COUNTS:
            name, doc = _COUNTERS[measure]
            yield CounterMetricFamily(f"axis_stats_{name}", doc, value=getattr(by_window["day"], measure))
        times = GaugeMetricFamily("axis_stats_time_to_status_seconds",
                                  "Seconds from acceptance to a recipient's first status, quantile over the window",
                                  labels=["status", "quantile", "window"])
        for window, figures in by_window.items():
            for measure in DURATIONS:
                for q in QUANTILES:
                    value = getattr(figures, measure).quantile(q)
                    if value is not None:
                        times.add_metric([measure.removeprefix("to_"), str(q), window], value)
        yield times

    @staticmethod
    def _overdue(overdue: dict[str, Counter[str]] | None) -> Iterator[Metric]:
        if overdue is None:
            return
        family = GaugeMetricFamily("axis_stats_overdue_receipts", "Receipts past their deadline, by recipient agency",
                                   labels=["agency", "status"])
        for agency, late in sorted(overdue.items()):
            for status, count in sorted(late.items()):
                family.add_metric([agency, status], count)
        yield family


def _at(request: Request, service: StatsService) -> datetime:
    raw = request.query_params.get("at")
    if not raw:
        return service.clock()
    at = datetime.fromisoformat(raw)  # ValueError: answered 400
    return at if at.tzinfo else at.replace(tzinfo=service.settings.tz)


def stats_http(service: StatsService, port: int) -> AsgiServer:
    """The HTTP server of one service (not started)."""
    registry = CollectorRegistry()
    registry.register(StatsCollector(service))
    tz = service.settings.tz

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def health(request: Request) -> Response:
        report = service.health()
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    def read(request: Request) -> tuple[Any, datetime] | Response:
        engine = service.engine
        if engine is None:
            return JSONResponse({"error": "the stats app is starting", "health": service.health()}, status_code=503)
        try:
            return engine, _at(request, service)
        except ValueError as exc:
            return JSONResponse({"error": f"at: {exc}"}, status_code=400)

    async def agencies(request: Request) -> Response:
        try:
            window = window_named(request.query_params.get("window", "day"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        found = read(request)
        if isinstance(found, Response):
            return found
        engine, at = found
        figures = engine.figures(window, at)
        overdue = service.overdue or {}
        start, end = window.bounds(at, tz)
        rows = [{"agency": agency, **figures.get(agency, Figures()).report(),
                 "overdue_receipts": dict(sorted(overdue.get(agency, Counter()).items()))}
                for agency in sorted(set(figures) | set(overdue))]
        return JSONResponse({"window": window.name, "start": start.isoformat(), "end": end.isoformat(),
                             "ready": engine.ready, "agencies": rows})

    async def overview(request: Request) -> Response:
        found = read(request)
        if isinstance(found, Response):
            return found
        engine, at = found
        windows = {}
        for window in WINDOWS:
            figures = engine.figures(window, at)
            start, end = window.bounds(at, tz)
            windows[window.name] = {"start": start.isoformat(), "end": end.isoformat(), "agencies": len(figures),
                                    **_total(figures).report()}
        late: Counter[str] = sum((service.overdue or {}).values(), Counter())
        return JSONResponse({"status": service.health()["status"], "ready": engine.ready, "windows": windows,
                             "overdue_receipts": dict(sorted(late.items()))})

    app = Starlette(routes=[
        Route("/metrics", metrics), Route("/health", health),
        Route("/stats/agencies", agencies), Route("/stats/overview", overview),
    ])
    return AsgiServer(app, port, host=service.settings.http_host, setting="stats_port (AXIS_STATS_PORT, --port)")
