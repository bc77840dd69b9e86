"""``within``: ``asyncio.wait_for`` without Python 3.11's lost cancellation.

On 3.11, ``asyncio.wait_for`` runs what it awaits in a task of its own; a cancellation that
arrives in the instant that inner task finishes is dropped — ``wait_for`` returns the result and
the caller carries on as if never cancelled. A loop around it (a bridge lane waiting for work,
a poll) then outlives a stop that cancelled it once, and whatever waits for it — a TaskGroup, a
shutdown — hangs (a bridge test's stop did, once in a full run). 3.12 rebuilt ``wait_for`` on
``asyncio.timeout``; :func:`within` is that, for every version: the awaitable runs in the
caller's own task, so a cancellation always reaches it, and the time limit raises
``TimeoutError`` as ``wait_for`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["within"]

T = TypeVar("T")


async def within(aw: Awaitable[T], timeout_s: float | None) -> T:
    """``await aw``, raising ``TimeoutError`` after ``timeout_s`` (None: no limit); on the
    timeout ``aw`` is cancelled (a task or future awaited here too, as with ``wait_for``)."""
    async with asyncio.timeout(timeout_s):
        return await aw
