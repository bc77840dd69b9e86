"""Fixtures for the simulator engine tests."""

from __future__ import annotations

import pytest

from exchanges.sim.engine import ManualClock, SimEvent, SimVenue

from .helpers import make_venue


@pytest.fixture
def clock_venue() -> tuple[SimVenue, ManualClock]:
    return make_venue()


@pytest.fixture
def venue(clock_venue: tuple[SimVenue, ManualClock]) -> SimVenue:
    return clock_venue[0]


@pytest.fixture
def clock(clock_venue: tuple[SimVenue, ManualClock]) -> ManualClock:
    return clock_venue[1]


@pytest.fixture
def events(venue: SimVenue) -> list[SimEvent]:
    out: list[SimEvent] = []
    venue.listen(out.append)
    return out
