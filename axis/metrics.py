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
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from axis.errors import AxisError, NotAParty, ProofError, UnknownDocument
from axis.ledger import Ledger
from axis.lifecycle import AsyncService, cancel_and_wait
from axis.proof import EVIDENCE_REQUEST_HEADER, EvidenceDesk, EvidenceRequestRefused, bundle_filename
from axis.router import Router
from axis.serving import AsgiServer

__all__ = ["MetricsServer", "RouterCollector"]

_log = logging.getLogger(__name__)


class RouterCollector(Collector):
    """Reads a router's counters, and what the refresh task last read from the ledger, at each scrape."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self.overdue: int | None = None
        self.soonest_expiry: datetime | None = None  # of the certificates active agencies sign with

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
            "dead_letters": ("Refused records written to edx.dead-letter and kept in the ledger", m.dead_letters),
            "facts_published": ("Ledger facts published on edx.events", m.facts),
            "requeued": ("Dead letters requeued at an operator's request", m.requeued),
            "batches": ("Batches consumed from edx.outbound", m.batches),
            "records": ("Records consumed from edx.outbound", m.records),
            "failed_batches": ("Batches whose transaction failed and was retried", m.failed_batches),
            "broker_epochs": ("Times the broker was found to have lost its data", m.epochs),
            "internal_errors": ("Internal errors of the router (see /health for which)", self._router.errors.total),
        }
        for name, (doc, value) in plain.items():
            yield CounterMetricFamily(f"axis_router_{name}", doc, value=value)
        for name, doc, label, counts in (
            ("axis_router_refused", "Packages refused, by reason code", "reason", m.refused),
            ("axis_signature_failures", "Packages whose signature did not verify, by reason", "reason",
             m.signature_failures),
        ):
            family = CounterMetricFamily(name, doc, labels=[label])
            for value, count in sorted(counts.items()):
                family.add_metric([value], count)
            yield family
        yield GaugeMetricFamily("axis_router_healthy", "1 while every router loop runs", value=int(self._router.healthy))
        yield GaugeMetricFamily("axis_router_leader", "1 while this router leads the replicas (publishes the directory)",
                                value=int(self._router.leader))
        yield GaugeMetricFamily("axis_router_degraded", "1 while requests fail with internal errors",
                                value=int(bool(self._router.errors.failing())))
        if m.consumer_lag is not None:
            yield GaugeMetricFamily("axis_router_consumer_lag_records",
                                    "Records on edx.outbound not yet read by this router", value=m.consumer_lag)
        if self.overdue is not None:
            yield GaugeMetricFamily("axis_overdue_receipts", "Receipts (01, 03/02) past their deadline", value=self.overdue)
        if self.soonest_expiry is not None:
            left = (self.soonest_expiry - datetime.now(UTC)).total_seconds()
            yield GaugeMetricFamily("axis_certificate_expiry_seconds",
                                    "Seconds until the soonest expiry of an active agency's signing certificate",
                                    value=left)


class MetricsServer(AsyncService):
    """Serves `/metrics` (Prometheus) and `/health` (JSON; 200 only when `ok`) on `host:port` for one
    router; `start()`/`stop()` or `async with`."""

    def __init__(self, router: Router, ledger: Ledger, port: int, *, host: str = "127.0.0.1",
                 refresh_s: float = 15.0, evidence: EvidenceDesk | None = None) -> None:
        self.registry = router.metrics.registry  # the router's histograms live there
        self.collector = RouterCollector(router)
        self.registry.register(self.collector)
        self._router = router
        self._ledger = ledger
        self._refresh_s = refresh_s
        self._evidence = evidence
        routes = [Route("/metrics", self._metrics), Route("/health", self._health)]
        if evidence is not None:
            routes.append(Route("/evidence", self._evidence_bundle))
        self._http = AsgiServer(Starlette(routes=routes), port, host=host, setting="metrics_port (AXIS_METRICS_PORT)")
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self._http.port

    async def _metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def _health(self, request: Request) -> Response:
        report = self._router.health()
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    async def _evidence_bundle(self, request: Request) -> Response:
        """An agency's evidence request (`axis.proof.sign_evidence_request`): the bundle of a document it
        sent or received; 401 for a request that does not verify, 403 not its document, 404 none such."""
        assert self._evidence is not None
        document_id, sender = request.query_params.get("document_id"), request.query_params.get("sender")
        header = request.headers.get(EVIDENCE_REQUEST_HEADER)
        if not document_id or not header:
            return JSONResponse({"detail": f"needs ?document_id= and the {EVIDENCE_REQUEST_HEADER} header"},
                                status_code=400)
        try:
            bundle = await self._evidence.bundle_for_agency(document_id, sender=sender, request_header=header)
        except ProofError as exc:
            status = {EvidenceRequestRefused: 401, NotAParty: 403, UnknownDocument: 404}.get(type(exc), 409)
            return JSONResponse({"detail": str(exc)}, status_code=status)
        return Response(bundle, media_type="application/zip",
                        headers={"content-disposition": f'attachment; filename="{bundle_filename(document_id)}"'})

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
                expiries = await self._ledger.directory.certificate_expiries()
                self.collector.soonest_expiry = min((at for _, at in expiries.values()), default=None)
            except AxisError as exc:  # the ledger may be briefly unreachable; keep serving counters
                _log.warning("metrics: reading the ledger failed: %s", exc)
            await asyncio.sleep(self._refresh_s)
