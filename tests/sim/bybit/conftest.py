"""Fixtures: a fresh offline Bybit venue per test on a free port, with a signed REST client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from exchanges.bybit.sim import BybitSim, BybitSimOptions
from tests.helpers import free_port

from .helpers import Rest

TEST_OPTIONS = BybitSimOptions(depth1_resend_s=0.3)


@pytest.fixture
async def sim() -> AsyncIterator[BybitSim]:
    """A running venue with its random walk paused (books still re-quote every 50 ms)."""
    venue = BybitSim(port=free_port(), seed=7, options=TEST_OPTIONS, step_ms=50)
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def rest(sim: BybitSim) -> AsyncIterator[Rest]:
    client = Rest(sim)
    yield client
    await client.close()
