"""Router counters and latency histograms: cheap to bump on the hot path, read by `/metrics` and by tests.

Counters are plain attributes (the endpoint's collector turns them into families at scrape time). Latencies
and sizes are prometheus_client histograms in the router's own registry: a document's time from acceptance
to storage at each recipient, to each receipt (by status code), the ledger transaction of a batch and the
batch's size. Observations of a batch are applied only after its transaction committed, so a retried batch
is not counted twice. No label names an agency: thousands of organs would make thousands of series.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Histogram

# From a quiet exchange's tens of milliseconds to a queue of minutes.
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
# Receipts: 01 within seconds (automatic), 03 within the working day, 06 within days.
RECEIPT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 8 * 3600.0,
                   86400.0, 3 * 86400.0, 7 * 86400.0)
TRANSACTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


@dataclass(frozen=True, slots=True)
class Latency:
    """One latency a batch measured: `what` is "delivery" or "receipt" (then `code` is the status code)."""

    what: str
    seconds: float
    code: str = ""


def since(accepted_at: datetime | None, now: datetime) -> float | None:
    """Seconds from a document's acceptance to `now`; None when the acceptance time is not known."""
    return None if accepted_at is None else max(0.0, (now - accepted_at).total_seconds())


@dataclass
class RouterMetrics:
    """What the router did since it started."""

    accepted: int = 0
    duplicates: int = 0
    acks: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by reason code
    signature_failures: Counter[str] = field(default_factory=Counter)  # by signing.REASONS
    dead_letters: int = 0
    delivered: int = 0  # first publications to an inbox
    redelivered: int = 0
    undeliverable: int = 0
    notices: int = 0
    facts: int = 0  # ledger facts published on edx.events
    requeued: int = 0
    batches: int = 0
    records: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)
    failed_batches: int = 0
    epochs: int = 0
    consumer_lag: int | None = None  # records on edx.outbound not yet read (its assigned partitions)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.delivery_latency = Histogram(
            "axis_delivery_latency_seconds", "From a document's acceptance to its storage at a recipient",
            buckets=DELIVERY_BUCKETS, registry=self.registry)
        self.receipt_latency = Histogram(
            "axis_receipt_latency_seconds", "From a document's acceptance to each receipt, by status code",
            ["code"], buckets=RECEIPT_BUCKETS, registry=self.registry)
        self.transaction_time = Histogram(
            "axis_ledger_transaction_seconds", "Time of one batch's ledger transaction (judged, recorded, committed)",
            buckets=TRANSACTION_BUCKETS, registry=self.registry)
        self.batch_size = Histogram(
            "axis_router_batch_records", "Records per batch read from edx.outbound", buckets=BATCH_BUCKETS,
            registry=self.registry)

    def batch(self, size: int, seconds: float, latencies: list[Latency]) -> None:
        """A batch committed: count it and apply what it measured."""
        self.batches += 1
        self.records += size
        self.batch_sizes[size] += 1
        self.batch_size.observe(size)
        self.transaction_time.observe(seconds)
        for latency in latencies:
            if latency.what == "delivery":
                self.delivery_latency.observe(latency.seconds)
            else:
                self.receipt_latency.labels(code=latency.code).observe(latency.seconds)
