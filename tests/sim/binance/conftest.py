"""Fixtures: a fresh offline Binance venue per test on free ports, with REST clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from tests.helpers import free_port_pair

from .helpers import Rest

TEST_OPTIONS = BinanceSimOptions(spot_stream_msgs_per_s=50, futures_stream_msgs_per_s=50)


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSim]:
    """A running venue with its random walk paused (books still re-quote every 50 ms)."""
    venue = BinanceSim(port_base=free_port_pair(), seed=7, options=TEST_OPTIONS, step_ms=50)
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def spot(sim: BinanceSim) -> AsyncIterator[Rest]:
    rest = Rest(sim, "spot")
    yield rest
    await rest.close()


@pytest.fixture
async def fut(sim: BinanceSim) -> AsyncIterator[Rest]:
    rest = Rest(sim, "futures")
    yield rest
    await rest.close()
