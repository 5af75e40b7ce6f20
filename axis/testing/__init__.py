"""Testing against a real exchange with pytest: the `axis` plugin (`plugin`, loaded through the `pytest11`
entry point), its fixture factories (`factories`) and what the fixtures hand to a test.

`eventually(probe)` waits for something the exchange does on its own time, in a synchronous test.
"""

import time
from collections.abc import Callable
from typing import TypeVar

from . import factories
from ._exchange import AgentHandle
from .factories import BrokerProc, ExchangeUnderTest, PostgresProc

T = TypeVar("T")

__all__ = ["AgentHandle", "BrokerProc", "ExchangeUnderTest", "PostgresProc", "eventually", "factories"]


def eventually(probe: Callable[[], T], timeout_s: float = 30.0, interval_s: float = 0.1) -> T:
    """Call `probe` until it returns something truthy and return that; AssertionError with the last value
    after `timeout_s`. Deliveries and statuses cross the broker asynchronously: tests wait, never sleep."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s:.0f} s; last value: {value!r}")
        time.sleep(interval_s)
