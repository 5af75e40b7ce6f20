"""The router's Prometheus endpoint and `/health`: what it routed, refused and redelivered, what is overdue,
and whether it works.

Counters live as plain attributes on `RouterMetrics` (cheap on the hot path); a collector turns them into
Prometheus families at scrape time. The overdue count needs a database query, so a background task
refreshes it every `refresh_s` instead of querying on each scrape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from axis.errors import AxisError
from axis.ledger import Ledger
from axis.lifecycle import AsyncService, cancel_and_wait
from axis.router import Router
from axis.serving import AsgiServer

__all__ = ["MetricsServer", "RouterCollector"]

_log = logging.getLogger(__name__)


class RouterCollector(Collector):
    """Reads a router's counters and the last known overdue count at each scrape."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self.overdue: int | None = None

    def collect(self) -> Iterator[Metric]:
        m = self._router.metrics
        plain = {
            "accepted": ("Packages accepted into the ledger", m.accepted),
            "duplicates": ("Packages recognised as already recorded (by message id)", m.duplicates),
            "acks": ("Delivery acknowledgements from agents", m.acks),
            "delivered": ("First publications of a delivery to an inbox", m.delivered),
            "redelivered": ("Publications of a delivery again (no ack in time, or broker data lost)", m.redelivered),
            "undeliverable": ("Deliveries given up after the redelivery limit", m.undeliverable),
            "notices": ("Notices published to senders", m.notices),
            "batches": ("Batches consumed from edx.outbound", m.batches),
            "records": ("Records consumed from edx.outbound", m.records),
            "failed_batches": ("Batches whose transaction failed and was retried", m.failed_batches),
            "broker_epochs": ("Times the broker was found to have lost its data", m.epochs),
        }
        for name, (doc, value) in plain.items():
            yield CounterMetricFamily(f"axis_router_{name}", doc, value=value)
        refused = CounterMetricFamily("axis_router_refused", "Packages refused, by reason code", labels=["reason"])
        for reason, count in sorted(m.refused.items()):
            refused.add_metric([reason], count)
        yield refused
        yield GaugeMetricFamily("axis_router_healthy", "1 while every router loop runs", value=int(self._router.healthy))
        if self.overdue is not None:
            yield GaugeMetricFamily("axis_overdue_receipts", "Receipts (01, 03/02) past their deadline", value=self.overdue)


class MetricsServer(AsyncService):
    """Serves `/metrics` (Prometheus) and `/health` (JSON; 200 only when `ok`) on 127.0.0.1:`port` for one
    router; `start()`/`stop()` or `async with`."""

    def __init__(self, router: Router, ledger: Ledger, port: int, *, refresh_s: float = 15.0) -> None:
        self.registry = CollectorRegistry()
        self.collector = RouterCollector(router)
        self.registry.register(self.collector)
        self._router = router
        self._ledger = ledger
        self._refresh_s = refresh_s
        self._http = AsgiServer(Starlette(routes=[
            Route("/metrics", self._metrics), Route("/health", self._health),
        ]), port, setting="metrics_port (AXIS_METRICS_PORT)")
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self._http.port

    async def _metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def _health(self, request: Request) -> Response:
        report = self._router.health()
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    async def start(self) -> None:
        if self._task is not None:
            return
        await self._http.start()
        self._task = asyncio.create_task(self._refresh(), name="axis-metrics-refresh")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self._http.stop()

    async def _refresh(self) -> None:
        while True:
            try:
                self.collector.overdue = await self._ledger.overdue_count()
            except AxisError as exc:  # the ledger may be briefly unreachable; keep serving counters
                _log.warning("metrics: overdue count failed: %s", exc)
            await asyncio.sleep(self._refresh_s)
