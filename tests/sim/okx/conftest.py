"""Fixtures: a fresh offline OKX venue per test on a free port, with a signed REST client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from exchanges.okx.sim import OkxSim, OkxSimOptions
from tests.helpers import free_port

from .helpers import Rest

TEST_OPTIONS = OkxSimOptions(ws_connects_per_s=0)


@pytest.fixture
async def sim() -> AsyncIterator[OkxSim]:
    """A running venue with its random walk paused (books still re-quote every 50 ms)."""
    venue = OkxSim(port=free_port(), seed=7, options=TEST_OPTIONS, step_ms=50)
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def rest(sim: OkxSim) -> AsyncIterator[Rest]:
    client = Rest(sim)
    yield client
    await client.close()
