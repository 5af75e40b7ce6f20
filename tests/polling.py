"""Waiting for asynchronous effects in tests: the broker and the components' loops run on their own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = 20.0) -> T:
    """Poll `probe` until it returns something truthy; fail with its last value after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout} s (last value {value!r})")
        await asyncio.sleep(0.05)
