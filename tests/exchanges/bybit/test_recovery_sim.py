"""Recovery in seconds against the offline Bybit venue (issue 12, defect 5).

The private stream is killed again and again: every reconnect waits the *first* backoff delay
(the attempt counter resets at the connection's first good message — the auth answer — not
after 10 s of uptime), and events flow on the last connection. A refused key keeps backing
off. Wall-clock recovery times are printed (``-s``), the assertions are on the mechanism.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from decimal import Decimal

import pytest

from exchanges.base import OrderUpdate, StreamStatus, UserEvent
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.sim import BybitSim
from exchanges.bybit.user_stream import USER_STREAM, BybitUserStream
from exchanges.credentials import Credentials
from exchanges.transport.backoff import Backoff
from strategy_client.model import InstrumentKey, OrderRequest, OrderStatus, OrderType, Side
from tests.helpers import free_port

# the mechanism asserted (the first delay every time) fails from the second drop on broken code;
# 20 drops (docs/runner.md's measured p50/p99) print the same figures with -s, 8 keep the suite short
DROPS = 8
PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")


@pytest.fixture
async def sim() -> AsyncIterator[BybitSim]:
    async with BybitSim(port=free_port(), seed=3, step_ms=50) as venue:
        yield venue


async def next_status(events: AsyncIterator[UserEvent], timeout: float = 15.0) -> StreamStatus:
    async with asyncio.timeout(timeout):
        async for ev in events:
            if isinstance(ev, StreamStatus):
                return ev
    raise AssertionError("the user stream ended")


def report(what: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"\n[recovery] {what}: n={len(samples)} p50={statistics.median(samples) * 1000:.0f}ms "
        f"p99={p99 * 1000:.0f}ms max={ordered[-1] * 1000:.0f}ms"
    )


async def test_repeated_private_stream_kills_reconnect_after_the_first_delay(sim: BybitSim) -> None:
    creds = Credentials(sim.api_key, sim.api_secret)
    async with BybitAdapter(sim.urls, creds) as adapter:
        user = BybitUserStream(sim.urls.private, creds, adapter.clock, adapter.symbols)  # default backoff
        async with aclosing(user.events()) as events:
            assert (await next_status(events)).connected
            took: list[float] = []
            for _ in range(DROPS):
                start = time.monotonic()
                assert sim.dialect.kill_ws(None, "user") == 1
                down, up = await next_status(events), await next_status(events)
                took.append(time.monotonic() - start)
                assert not down.connected and up.connected and up.reason.startswith("reconnected")
            report("bybit private stream after a WS kill (authenticated and subscribed again)", took)
            attempts = [attempt for attempt, _ in user.pacers()[USER_STREAM].history]
            assert len(attempts) == DROPS and attempts == [0] * DROPS, attempts
            req = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01"), client_id="rec-1")
            await adapter.place_order(req)
            async with asyncio.timeout(10):
                async for ev in events:
                    if isinstance(ev, OrderUpdate) and ev.order.status is OrderStatus.FILLED:
                        assert ev.order.client_id == "rec-1"
                        break


async def test_a_refused_key_keeps_backing_off(sim: BybitSim) -> None:
    """The auth answer is a message, but a refusal is not a healthy connection."""
    creds = Credentials(sim.api_key, "not-the-secret")
    async with BybitAdapter(sim.urls, creds) as adapter:
        fast = Backoff(initial_s=0.01, max_s=1.0, jitter=0.0)
        user = BybitUserStream(sim.urls.private, creds, adapter.clock, adapter.symbols, backoff=fast)
        async with aclosing(user.events()) as events:
            for _ in range(4):
                status = await next_status(events)
                assert not status.connected and status.reason.startswith("auth failed")
            attempts = [attempt for attempt, _ in user.pacers()[USER_STREAM].history]
            assert attempts[:4] == [0, 1, 2, 3]
