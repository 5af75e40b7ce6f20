"""Stopping never hangs on one stubborn piece: tasks that swallow a cancellation, steps that never end."""

from __future__ import annotations

import asyncio
import logging

import pytest

from axis.lifecycle import cancel_and_wait, stop_within


async def test_a_task_that_swallows_its_first_cancellation_is_cancelled_again(caplog: pytest.LogCaptureFixture) -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="axis.lifecycle"):
        await cancel_and_wait(task, grace_s=0.1)
    assert task.cancelled() and swallowed == 2
    assert "ignored its cancellation" in caplog.text


async def test_a_task_that_never_ends_is_reported_and_left(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def deaf() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(deaf(), name="deaf")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="axis.lifecycle"):
        await cancel_and_wait(task, grace_s=0.05, tries=2)
    assert not task.done() and "did not stop after 2 cancellations" in caplog.text
    release.set()
    task.cancel()
    await asyncio.wait({task})


async def test_an_error_the_task_ended_with_is_raised() -> None:
    async def broken() -> None:
        raise RuntimeError("loop failed")

    task = asyncio.create_task(broken())
    await asyncio.wait({task})
    with pytest.raises(RuntimeError, match="loop failed"):
        await cancel_and_wait(task)


async def test_a_step_that_hangs_is_reported_not_awaited_forever(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="axis.lifecycle"):
        assert await stop_within(asyncio.sleep(3600), 0.05, "closing the thing") is False
    assert "closing the thing did not finish within" in caplog.text
    assert await stop_within(asyncio.sleep(0), 1.0, "a quick step") is True
