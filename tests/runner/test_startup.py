"""exchange_runner.startup: which venue errors at start are waited out, for how long, and the one line."""

from __future__ import annotations

import asyncio

import pytest

from exchange_runner.startup import TRANSPORT_TRIES, VenueStartupError, retry_startup
from exchanges.errors import (
    ExchangeError,
    InvalidRequest,
    IpBanned,
    RateLimited,
    ServiceUnavailable,
    TransportError,
)


class Venue:
    """Answers with the queued errors first, then ``"ok"``; records the waits asked for."""

    def __init__(self, *errors: ExchangeError) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.waits: list[float] = []

    async def call(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    async def sleep(self, s: float) -> None:
        self.waits.append(s)


def _deadline(s: float) -> float:
    return asyncio.get_running_loop().time() + s


async def test_rate_limits_wait_for_the_venues_reset_time() -> None:
    venue = Venue(
        RateLimited("Too many visits!", retry_after_s=1.5, venue_code=10006, venue="bybit"),
        RateLimited("Too many visits!", retry_after_s=0.0, venue_code=10006, venue="bybit"),
        ServiceUnavailable("busy"),
    )
    assert await retry_startup("instruments", venue.call, deadline_s=_deadline(60), sleep=venue.sleep) == "ok"
    assert venue.calls == 4
    assert venue.waits == [1.5, 0.05, 2.0]  # reset header, reset passed (min pause), backoff try 3


async def test_not_retryable_fails_at_once_in_one_line() -> None:
    for error in (InvalidRequest("bad\nsymbol", venue="okx"), IpBanned("banned", retry_after_s=600)):
        venue = Venue(error)
        with pytest.raises(VenueStartupError) as exc:
            await retry_startup("instruments", venue.call, deadline_s=_deadline(60), sleep=venue.sleep)
        assert venue.calls == 1 and venue.waits == []
        assert "\n" not in str(exc.value) and str(exc.value).startswith("instruments: ")


async def test_a_wait_past_the_deadline_fails_with_one_line() -> None:
    venue = Venue(RateLimited("slow down", retry_after_s=1.0), RateLimited("slow down", retry_after_s=30.0))
    with pytest.raises(VenueStartupError, match="startup deadline is reached"):
        await retry_startup("bybit venue start", venue.call, deadline_s=_deadline(10), sleep=venue.sleep)
    assert venue.calls == 2 and venue.waits == [1.0]


async def test_an_unreachable_venue_is_tried_a_few_times_only() -> None:
    venue = Venue(*(TransportError("connection refused") for _ in range(10)))
    with pytest.raises(TransportError):  # as it is: the CLI names the address in one line
        await retry_startup("binance venue start", venue.call, deadline_s=_deadline(600), sleep=venue.sleep)
    assert venue.calls == TRANSPORT_TRIES
