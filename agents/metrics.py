"""The agent's Prometheus metrics: what its IT staff watch (`GET /metrics` on the agent's HTTP port).

Counts and ages only, never document content: submissions by door and result, SDK facade calls by method and
result, receipts (status packages) sent, publish failures, internal errors; and, read from the store at each
scrape, the outbox (how many wait, the age of the oldest), the documents waiting for the document system and
the broker connection. `/metrics` needs no bearer token, like `/health`: it tells volume, not content, and
the agent listens on 127.0.0.1 unless configured otherwise (put it behind the same network rules as the API).
No label names an agency: each agent is its own scrape target.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from .bootstrap import Agent

__all__ = ["AgentMetrics", "SubmissionResult"]

SubmissionResult = str  # "accepted" | "duplicate" | "refused" | "error"


@dataclass
class AgentMetrics:
    """Counters bumped where things happen; gauges read from the store when scraped."""

    submissions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (via, result)
    facade_calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, result)
    receipts_sent: Counter[str] = field(default_factory=Counter)  # by status code
    gauges: dict[str, float] = field(default_factory=dict)  # filled by `refresh()` before a scrape

    def submitted(self, via: str, result: SubmissionResult) -> None:
        self.submissions[(via, result)] += 1

    def facade_call(self, method: str, result: str) -> None:
        self.facade_calls[(method, result)] += 1

    async def refresh(self, agent: Agent) -> None:
        """Read what the gauges show (a few indexed SQLite counts)."""
        store = agent.store
        oldest = await store.oldest_pending_ms()
        self.gauges = {
            "outbox_pending": await store.count_pending(),
            "outbox_oldest_pending_age_seconds": 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000),
            "inbox_waiting_edoc": await store.count_received(kind="edoc"),
            "inbox_waiting_status": await store.count_received(kind="status"),
            "broker_connected": float(agent.connected and agent.watch.healthy),
            "publish_failures": float(agent.relay.publish_failures),
            "internal_errors": float(agent.errors.total),
            "degraded": float(bool(agent.errors.failing())),
        }

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        registry.register(_Families(self))
        return registry


class _Families(Collector):
    def __init__(self, metrics: AgentMetrics) -> None:
        self._m = metrics

    def collect(self) -> list[Metric]:
        m, g = self._m, self._m.gauges
        submissions = CounterMetricFamily("axis_agent_submissions", "Packages submitted, by door and result",
                                          labels=["via", "result"])
        for (via, result), count in sorted(m.submissions.items()):
            submissions.add_metric([via, result], count)
        calls = CounterMetricFamily("axis_agent_facade_calls", "National SDK facade calls, by method and result",
                                    labels=["method", "result"])
        for (method, result), count in sorted(m.facade_calls.items()):
            calls.add_metric([method, result], count)
        receipts = CounterMetricFamily("axis_agent_receipts_sent", "Status packages this agency sent, by code",
                                       labels=["code"])
        for code, count in sorted(m.receipts_sent.items()):
            receipts.add_metric([code], count)
        waiting = GaugeMetricFamily("axis_agent_inbox_waiting", "Received packages the document system has not "
                                    "marked done, by kind", labels=["kind"])
        waiting.add_metric(["edoc"], g.get("inbox_waiting_edoc", 0))
        waiting.add_metric(["status"], g.get("inbox_waiting_status", 0))
        return [
            submissions, calls, receipts, waiting,
            GaugeMetricFamily("axis_agent_outbox_pending", "Packages in the outbox the router has not confirmed",
                              value=g.get("outbox_pending", 0)),
            GaugeMetricFamily("axis_agent_outbox_oldest_pending_age_seconds",
                              "Age of the oldest unconfirmed outbox package (0 when none)",
                              value=g.get("outbox_oldest_pending_age_seconds", 0)),
            GaugeMetricFamily("axis_agent_broker_connected", "1 while the agent is connected to the broker",
                              value=g.get("broker_connected", 0)),
            GaugeMetricFamily("axis_agent_degraded", "1 while requests fail with internal errors",
                              value=g.get("degraded", 0)),
            CounterMetricFamily("axis_agent_publish_failures", "Attempts to publish the outbox that failed",
                                value=g.get("publish_failures", 0)),
            CounterMetricFamily("axis_agent_internal_errors", "Internal errors (see /health for which)",
                                value=g.get("internal_errors", 0)),
        ]
