"""Bybit's and OKX's limits in the shared budget: two "processes" (two budget registries on one
private Redis) against each offline venue with its limits on, firing together. The venue never
has to refuse (Bybit 10006 / HTTP 403, OKX 50011 / 50061): the budget refuses first, typed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from exchange_runner.localredis import LocalRedisServer
from exchanges.bybit import limits as bybit_limits
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.limits import UID_LIMITS
from exchanges.bybit.sim import BybitSim, BybitSimOptions
from exchanges.credentials import Credentials
from exchanges.errors import RateLimited
from exchanges.okx import limits
from exchanges.okx.adapter import OkxAdapter
from exchanges.okx.sim import OkxSim, OkxSimOptions
from exchanges.transport.ratelimit import BudgetOptions, BudgetRegistry, active_budgets
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from tests.helpers import free_port

T = TypeVar("T")
NO_WAIT = BudgetOptions(max_wait_s=0)  # a read that does not fit is refused at once (no test waits)


@pytest.fixture
async def redis_client(private_redis: LocalRedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    yield client
    await client.aclose()


@contextmanager
def _process(redis_client: aioredis.Redis) -> Iterator[BudgetRegistry]:
    """What a runner does while it builds its adapter: its own registry on the shared Redis."""
    registry = BudgetRegistry(redis_client, NO_WAIT)
    token = active_budgets.set(registry)
    try:
        yield registry
    finally:
        active_budgets.reset(token)


async def _burst(calls: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[RateLimited]]:
    """Run every call at once; what succeeded and the budget's (or venue's) refusals."""
    results = await asyncio.gather(*(c() for c in calls), return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    others = [r for r in results if isinstance(r, BaseException) and not isinstance(r, RateLimited)]
    assert not others, others
    return done, refused


def _buy(key: InstrumentKey, price: Decimal, qty: str) -> OrderRequest:
    return OrderRequest(key=key, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal(qty), price=price)


# ---------------------------------------------------------------------------------------- Bybit

BYBIT_PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")
ORDERS_PER_S = 6
IP_PER_5S = 60


@pytest.fixture
async def bybit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BybitSim]:
    """The venue with a per-UID order limit of 6 a second (the client learns it from the replies)
    and, parametrized with one, an IP limit per 5 s (60 instead of 600) — which the client's table
    then says too: Bybit publishes the IP limit only in its documentation."""
    limits = {**UID_LIMITS, "/v5/order/create:linear": ORDERS_PER_S}
    ip: int = getattr(request, "param", bybit_limits.IP_WINDOW.limit)
    monkeypatch.setattr(bybit_limits, "IP_WINDOW", dataclasses.replace(bybit_limits.IP_WINDOW, limit=ip))
    options = BybitSimOptions(uid_limits=limits, ip_requests_per_5s=ip)
    venue = BybitSim(port=free_port(), seed=7, step_ms=50, options=options)
    async with venue:
        venue.venue.pause(True)
        yield venue


async def _bybit_adapter(sim: BybitSim, redis_client: aioredis.Redis) -> BybitAdapter:
    with _process(redis_client):
        adapter = BybitAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), reconcile_backoff_s=0.01)
    await adapter.start()
    return adapter


def _bybit_state(sim: BybitSim) -> dict[str, Any]:
    state: dict[str, Any] = sim.dialect.state()
    return state["rate_limit_refusals"]  # type: ignore[no-any-return]


async def test_bybit_orders_of_two_processes_share_the_uid_endpoint_limit(
    bybit: BybitSim, redis_client: aioredis.Redis
) -> None:
    a, b = await _bybit_adapter(bybit, redis_client), await _bybit_adapter(bybit, redis_client)
    try:
        bid = bybit.venue.book(MarketKind.PERP, "BTCUSDT", 1).bids[0][0]
        for p in (a, b):  # each learns the key's cap from its first reply's X-Bapi-Limit (6, not the table's 10)
            await p.place_order(_buy(BYBIT_PERP, bid - 50, "0.001"))
            assert p.rest.http.budget is not None
            window = p.rest.http.budget.window("/v5/order/create:linear")
            assert window is not None and window.limit == ORDERS_PER_S
        await asyncio.sleep(1.0)  # a fresh rolling second
        calls = [
            (lambda p=p, i=i: p.place_order(_buy(BYBIT_PERP, bid - 100 - i, "0.001")))
            for i in range(2 * ORDERS_PER_S)
            for p in (a, b)
        ]
        placed, refused = await _burst(calls)
        assert _bybit_state(bybit) == {"ip": 0, "uid": 0}  # never a 10006 nor a 403 from the venue
        assert refused and all(r.retry_after_s for r in refused), refused
        assert 0 < len(placed) <= ORDERS_PER_S
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("bybit", [IP_PER_5S], indirect=True)
async def test_bybit_reads_of_two_processes_stay_under_the_ip_limit(
    bybit: BybitSim, redis_client: aioredis.Redis
) -> None:
    a, b = await _bybit_adapter(bybit, redis_client), await _bybit_adapter(bybit, redis_client)
    try:
        calls = [(lambda p=p: p.fetch_order_book(BYBIT_PERP, 5)) for _ in range(IP_PER_5S) for p in (a, b)]
        books, refused = await _burst(calls)
        assert _bybit_state(bybit)["ip"] == 0  # no 403 (which bans the IP for 10 minutes)
        assert books and refused
    finally:
        await a.close()
        await b.close()


# ------------------------------------------------------------------------------------------ OKX

OKX_PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)
OKX_ETH = InstrumentKey(Exchange.OKX, "ETHUSDT", MarketKind.PERP)
PER_INST = 4  # orders per 2 s per instrument
PER_ACCOUNT = 6  # new orders per 2 s across instruments (the sub-account's 1,000)


@pytest.fixture
async def okx() -> AsyncIterator[OkxSim]:
    options = OkxSimOptions(ws_connects_per_s=0)
    options.limits.update({"order": (PER_INST, 2000), "sub-account-orders": (PER_ACCOUNT, 2000)})
    venue = OkxSim(port=free_port(), seed=9, step_ms=50, options=options)
    async with venue:
        venue.venue.pause(True)
        yield venue


async def _okx_adapter(sim: OkxSim, redis_client: aioredis.Redis) -> tuple[OkxAdapter, BudgetRegistry]:
    with _process(redis_client) as registry:
        adapter = OkxAdapter(
            sim.urls, Credentials(sim.api_key, sim.api_secret, sim.passphrase), reconcile_backoff_s=0.01
        )
    await adapter.start()
    return adapter, registry


async def test_okx_orders_of_two_processes_share_the_instrument_and_account_limits(
    okx: OkxSim, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OKX publishes no limits through its API: the client's table is the documented one; here it
    # says what this venue was started with (4 per instrument, 6 for the account, per 2 s)
    order = limits.RULES["POST", "/api/v5/trade/order"]
    monkeypatch.setitem(limits.RULES, ("POST", "/api/v5/trade/order"), dataclasses.replace(order, limit=PER_INST))
    monkeypatch.setattr(limits, "ORDERS_WINDOW", dataclasses.replace(limits.ORDERS_WINDOW, limit=PER_ACCOUNT))
    (a, _), (b, _) = await _okx_adapter(okx, redis_client), await _okx_adapter(okx, redis_client)
    try:
        prices = {k: okx.venue.book(MarketKind.PERP, k.symbol, 1).bids[0][0] for k in (OKX_PERP, OKX_ETH)}
        calls = [
            (lambda p=p, k=k, i=i: p.place_order(_buy(k, prices[k] - 100 - i, "0.0100")))
            for i in range(PER_INST)
            for k in (OKX_PERP, OKX_ETH)
            for p in (a, b)
        ]
        placed, refused = await _burst(calls)
        assert okx.dialect.core.limits.refused == 0  # never a 50011 nor a 50061 from the venue
        assert refused and 0 < len(placed) <= PER_ACCOUNT, len(placed)
    finally:
        await a.close()
        await b.close()
