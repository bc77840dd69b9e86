"""``within``: a cancellation that arrives as the awaited thing finishes still cancels."""

from __future__ import annotations

import asyncio

import pytest

from strategy_client.aio import within


async def test_a_loop_around_within_ends_on_a_cancel_that_meets_its_wake_up() -> None:
    """The bridge lane's shape: a loop waiting for work with a time limit. The wake-up and the
    cancel land in the same turn of the loop — 3.11's ``wait_for`` returns the wake-up and the
    loop runs on forever (it did in this very test); ``within`` ends it."""
    work = asyncio.Event()
    rounds = 0

    async def lane() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            work.clear()
            try:
                await within(work.wait(), 10)
            except TimeoutError:
                pass

    task = asyncio.create_task(lane())
    while rounds == 0:
        await asyncio.sleep(0)
    work.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled() and rounds == 1


async def test_the_time_limit_raises_timeout_and_cancels_what_was_awaited() -> None:
    inner = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await within(inner, 0.01)
    assert inner.cancelled()
    assert await within(asyncio.sleep(0, "value"), None) == "value"
