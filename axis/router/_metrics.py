"""Router counters as plain attributes: cheap to bump, read by the metrics endpoint and by tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RouterMetrics:
    """What the router did since it started."""

    accepted: int = 0
    duplicates: int = 0
    acks: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by reason code
    delivered: int = 0  # first publications to an inbox
    redelivered: int = 0
    undeliverable: int = 0
    notices: int = 0
    facts: int = 0  # ledger facts published on edx.events
    batches: int = 0
    records: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)
    failed_batches: int = 0
    epochs: int = 0

    def batch(self, size: int) -> None:
        self.batches += 1
        self.records += size
        self.batch_sizes[size] += 1
