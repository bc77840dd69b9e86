"""Startup calls to the venue (clock, instruments): retried through rate limits and outages.

A venue that answers 429 (Binance -1003, Bybit 10006, OKX 50011), 5xx or times out while the
runner loads is waited for, not fatal: :func:`retry_startup` repeats the call after the venue's
own reset time (``RateLimited.retry_after_s``: ``Retry-After`` /
``X-Bapi-Limit-Reset-Timestamp``) or, without one, an exponential backoff (0.5 s doubling to
10 s), as long as the wait ends before the startup deadline. Every retry is one warning line.
An unreachable venue (:class:`~exchanges.errors.TransportError`) is tried
:data:`TRANSPORT_TRIES` times only: a wrong address should be said at once, not after the
deadline; the last transport failure is raised as it is (the CLI names the address). What is
not retryable (bad request, refused key, IP ban) or an exhausted deadline ends the start with
:class:`VenueStartupError`: one line, no traceback (the CLI prints it as ``runner: error: ...``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from loguru import logger

from exchanges.errors import ExchangeError, RateLimited, TransportError

from .config import ConfigError

__all__ = ["VenueStartupError", "retry_startup", "startup_wait_s", "TRANSPORT_TRIES"]

T = TypeVar("T")

TRANSPORT_TRIES = 3
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 10.0
MIN_WAIT_S = 0.05  # a reset time already passed on our clock: a short pause, never a spin


class VenueStartupError(ConfigError):
    """The venue could not be loaded at start; reported in one line like a configuration error."""


def startup_wait_s(exc: ExchangeError, attempt: int) -> float:
    """How long to wait before attempt ``attempt + 1``: the venue's reset time when it gave one."""
    if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
        return max(MIN_WAIT_S, exc.retry_after_s)
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0**attempt)


async def retry_startup(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    deadline_s: float,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """``await call()`` until it answers; ``deadline_s``: loop-clock time after which no retry starts."""
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        try:
            return await call()
        except ExchangeError as exc:
            line = " ".join(str(exc).split())
            if not exc.retryable:
                raise VenueStartupError(f"{what}: {line}") from None
            attempt += 1
            if isinstance(exc, TransportError) and attempt >= TRANSPORT_TRIES:
                raise  # the CLI says "cannot reach the <venue> venue at <address>" in one line
            wait = startup_wait_s(exc, attempt - 1)
            if loop.time() + wait > deadline_s:
                raise VenueStartupError(
                    f"{what}: {line} — still failing after {attempt} tries; the startup deadline is reached"
                ) from None
            logger.warning("{}: {}; retrying in {:.2f}s (try {})", what, line, wait, attempt + 1)
            await sleep(wait)
