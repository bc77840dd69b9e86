"""Binance's WS-API counts in the same budget as REST (one REQUEST_WEIGHT and ORDERS quota per
IP and account): two "processes" (two budget registries on one private Redis) against the
offline venue, one placing orders over the WS-API, the other over REST."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from exchange_runner.localredis import LocalRedisServer
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.parse import spot_key
from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from exchanges.credentials import Credentials
from exchanges.errors import IpBanned, RateLimited
from exchanges.sim.faults import FaultRequest
from exchanges.transport.ratelimit import BudgetRegistry, SharedBudget, active_budgets
from strategy_client.model import OrderRequest, OrderType, Side, round_down
from tests.helpers import eventually, free_port_pair

BTC = spot_key("BTCUSDT")
ORDERS_10S = 12
OPTIONS = BinanceSimOptions(spot_orders_per_10s=ORDERS_10S, ban_after_violations=1)


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSim]:
    venue = BinanceSim(port_base=free_port_pair(), seed=5, options=OPTIONS, step_ms=50)
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def redis_client(private_redis: LocalRedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    yield client
    await client.aclose()


@contextmanager
def _budgets(registry: BudgetRegistry | None) -> Iterator[None]:
    token = active_budgets.set(registry)
    try:
        yield
    finally:
        active_budgets.reset(token)


async def _adapter(sim: BinanceSim, registry: BudgetRegistry | None, *, ws_api: bool) -> BinanceAdapter:
    """A process's adapter: the runner installs its registry while the adapter is built."""
    with _budgets(registry):
        adapter = BinanceAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), use_ws_api=ws_api)
    await adapter.start()
    if ws_api:
        await eventually(lambda: adapter.ws_api["spot"].connected, what="WS-API connected")
    return adapter


def _budget(adapter: BinanceAdapter) -> SharedBudget:
    budget = adapter.rest.budget("spot")
    assert budget is not None
    return budget


async def _passive(adapter: BinanceAdapter, n: int) -> OrderRequest:
    inst = adapter.instrument(BTC)
    assert inst is not None
    book = await adapter.fetch_order_book(BTC, 5)
    assert book.best_bid is not None
    price = round_down(book.best_bid.price - (50 + n) * inst.tick_size, inst.tick_size)
    return OrderRequest(key=BTC, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.001"), price=price)


async def _window_start() -> None:
    """Just past the edge guard of a fresh 10 s order window, so a burst stays in one window."""
    now = time.time()
    into = now % 10
    if into > 1.2:
        await asyncio.sleep(10 - into + 1.2)


async def test_ws_api_orders_and_rest_orders_share_one_order_window(
    sim: BinanceSim, redis_client: aioredis.Redis
) -> None:
    """Orders over the WS-API (process A) and over REST (process B) together stop at the venue's
    ORDERS limit with a typed refusal: the venue never refuses one (without the WS-API in the
    budget, B would think the window nearly empty and be refused 429 -1015 by the venue)."""
    a = await _adapter(sim, BudgetRegistry(redis_client), ws_api=True)
    b = await _adapter(sim, BudgetRegistry(redis_client), ws_api=False)
    ws_requests = sim.dialect.ws_api["spot"].requests
    try:
        requests = [await _passive(a, i) for i in range(2 * ORDERS_10S)]
        await _window_start()
        placed = {"ws-api": 0, "rest": 0}
        refusal: RateLimited | None = None
        for i, request in enumerate(requests):
            adapter, path = (a, "ws-api") if i % 3 else (b, "rest")  # two of three over the WS-API
            try:
                await adapter.place_order(request)
            except RateLimited as exc:
                refusal = exc
                break
            placed[path] += 1
        limiter = sim.dialect.core.limits["spot"]
        assert limiter.refused == 0, f"the venue refused an order; placed {placed}"
        assert refusal is not None and refusal.retry_after_s, placed
        assert sum(placed.values()) <= ORDERS_10S
        assert sum(placed.values()) >= ORDERS_10S - 2, placed  # only edge charges go unused
        assert sim.dialect.ws_api["spot"].requests - ws_requests >= placed["ws-api"] > 0
    finally:
        await a.close()
        await b.close()


async def test_the_ws_api_rate_limits_reconcile_the_shared_count(sim: BinanceSim, redis_client: aioredis.Redis) -> None:
    """Weight spent by a client outside the budget (another program on the IP) reaches the
    budget through the WS-API reply's ``rateLimits``, as REST's usage headers carry it."""
    a = await _adapter(sim, BudgetRegistry(redis_client), ws_api=True)
    foreign = await _adapter(sim, None, ws_api=False)
    try:
        request = await _passive(a, 0)  # A's last REST request (its headers reconcile too)
        for _ in range(5):
            await foreign.rest.spot_open_orders()  # 80 weight each, counted by nobody
        order = await a.place_order(request)
        await a.cancel_order(BTC, client_id=order.client_id)
        venue_weight = sim.dialect.core.limits["spot"].weight.count("127.0.0.1", int(time.time() * 1000))
        assert venue_weight >= 400
        limit = _budget(a).windows[0].limit
        assert _budget(a).headroom()["weight_1m"] <= limit - 400  # seen in the WS-API reply
    finally:
        await a.close()
        await foreign.close()


async def test_a_418_on_the_ws_api_pauses_the_rest_process_too(sim: BinanceSim, redis_client: aioredis.Redis) -> None:
    a = await _adapter(sim, BudgetRegistry(redis_client), ws_api=True)
    b = await _adapter(sim, BudgetRegistry(redis_client), ws_api=False)
    try:
        request, second = await _passive(a, 0), await _passive(a, 1)
        sim.faults.arm(FaultRequest(throttle_next=1, throttle_status=418, retry_after_s=30, host="spot"))
        with pytest.raises(IpBanned):
            await a.place_order(request)
        rest_before = sim.dialect.rest["spot"].requests
        await asyncio.sleep(1.1)  # B's lease (1 s) has aged: its next request asks Redis
        with pytest.raises(IpBanned) as refused:
            await b.place_order(second)  # B never saw the 418
        assert refused.value.retry_after_s and refused.value.retry_after_s > 20
        assert sim.dialect.rest["spot"].requests == rest_before, "B sent into the ban"
    finally:
        await a.close()
        await b.close()
