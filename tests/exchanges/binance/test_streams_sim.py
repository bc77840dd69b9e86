"""The Binance WS side against the offline venue (``exchanges.binance.sim``), in process.

Market streams (spot + perp depth, markPrice), user data for fills on spot (order placed over
the WS-API, events over the WS-API subscription) and futures (listenKey stream), recovery from
an injected WS kill, and from an injected listenKey expiry.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import aclosing
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import AccountUpdate, ExecType, OrderUpdate, StreamStatus, UserEvent
from exchanges.binance.market_stream import BinanceMarketStreams
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.sim import BinanceSim
from exchanges.binance.user_stream import FUTURES_STREAM, SPOT_STREAM, BinanceUserStreams
from exchanges.binance.ws_api import BinanceWsApi
from exchanges.credentials import Credentials
from exchanges.transport.backoff import Backoff
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderStatus
from tests.helpers import eventually, free_port_pair

SPOT_BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
PERP_BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
FAST = Backoff(initial_s=0.02, max_s=0.2)
_ids = itertools.count(1)


@pytest.fixture()
async def sim() -> AsyncIterator[BinanceSim]:
    async with BinanceSim(port_base=free_port_pair(), seed=7, step_ms=50) as venue:
        yield venue


def creds(sim: BinanceSim) -> Credentials:
    return Credentials(sim.api_key, sim.api_secret)


async def collect_until(it: AsyncIterator[UserEvent], done: Any, *, timeout: float = 10.0) -> list[UserEvent]:
    """Events until ``done(events)`` holds."""
    events: list[UserEvent] = []
    async with asyncio.timeout(timeout):
        while not done(events):
            events.append(await anext(it))
    return events


def order_updates(events: list[UserEvent], client_id: str) -> list[OrderUpdate]:
    return [e for e in events if isinstance(e, OrderUpdate) and e.order.client_id == client_id]


def filled(client_id: str) -> Any:
    return lambda events: any(u.order.status is OrderStatus.FILLED for u in order_updates(events, client_id))


def statuses(events: list[UserEvent], stream: str) -> list[StreamStatus]:
    return [e for e in events if isinstance(e, StreamStatus) and e.stream == stream]


async def place(api: BinanceWsApi, symbol: str, side: str, qty: str) -> str:
    client_id = f"ws-sim-{next(_ids)}"
    await api.request(
        "order.place",
        {
            "symbol": symbol,
            "side": side,
            "type": "MARKET",
            "quantity": Decimal(qty),
            "newClientOrderId": client_id,
        },
    )
    return client_id


async def test_live_depth_for_spot_and_perp(sim: BinanceSim) -> None:
    streams = BinanceMarketStreams(sim.urls, backoff=FAST)
    seen: dict[InstrumentKey, list[int]] = {SPOT_BTC: [], PERP_BTC: []}
    async with aclosing(streams.order_books([SPOT_BTC, PERP_BTC], depth=10)) as books, asyncio.timeout(10):
        async for book in books:
            assert book.bids and book.asks and book.bids[0].price < book.asks[0].price
            assert len(book.bids) <= 10 and book.local_ts_ns > 0 and book.venue_ts_ms > 0
            seen[book.key].append(book.sequence)
            if all(len(s) >= 3 for s in seen.values()):
                break
    assert all(s == sorted(s) for s in seen.values())
    assert streams.errors.total == 0


async def test_mark_price_funding(sim: BinanceSim) -> None:
    streams = BinanceMarketStreams(sim.urls, backoff=FAST)
    async with aclosing(streams.funding([PERP_BTC])) as rates, asyncio.timeout(10):
        first = await anext(rates)
        second = await anext(rates)
    assert first.key == PERP_BTC and first.mark_price > 0 and first.index_price > 0
    assert first.next_funding_ts_ms > first.ts_ms and second.ts_ms > first.ts_ms
    assert first.interval_ms == 8 * 3_600_000


async def test_user_data_for_fills_on_spot_and_futures(sim: BinanceSim) -> None:
    rest = BinanceRestClient(sim.urls, creds(sim))
    await rest.start()
    user = BinanceUserStreams(rest, sim.urls, creds(sim), rest.clock, backoff=FAST)
    spot_api = BinanceWsApi(sim.urls.spot_ws_api, creds(sim), rest.clock, product="spot", backoff=FAST)
    fut_api = BinanceWsApi(sim.urls.futures_ws_api, creds(sim), rest.clock, product="futures", backoff=FAST)
    await spot_api.start()
    await fut_api.start()
    try:
        async with aclosing(user.events()) as events:
            up = await collect_until(
                events, lambda ev: len([e for e in ev if isinstance(e, StreamStatus)]) >= 2
            )
            assert {s.stream for s in up if isinstance(s, StreamStatus) and s.connected} == {
                SPOT_STREAM,
                FUTURES_STREAM,
            }

            spot_id = await place(spot_api, "BTCUSDT", "BUY", "0.01")
            got = await collect_until(
                events,
                lambda ev: (
                    filled(spot_id)(ev)
                    and any(isinstance(e, AccountUpdate) and e.kind is MarketKind.SPOT for e in ev)
                ),
            )
            updates = order_updates(got, spot_id)
            assert updates[0].exec_type is ExecType.NEW
            fills = [u.fill for u in updates if u.fill is not None]
            assert fills and sum(f.qty for f in fills) == Decimal("0.01")
            assert all(f.key == SPOT_BTC and not f.is_maker and f.fee > 0 for f in fills)
            spot_balances = next(e for e in got if isinstance(e, AccountUpdate) and e.kind is MarketKind.SPOT)
            assert {b.asset for b in spot_balances.balances} >= {"BTC", "USDT"}

            perp_id = await place(fut_api, "BTCUSDT", "BUY", "0.010")
            got = await collect_until(
                events,
                lambda ev: (
                    filled(perp_id)(ev)
                    and any(isinstance(e, AccountUpdate) and e.reason == "order" and e.positions for e in ev)
                ),
            )
            fills = [u.fill for u in order_updates(got, perp_id) if u.fill is not None]
            assert fills and sum(f.qty for f in fills) == Decimal("0.010")
            assert all(f.key == PERP_BTC and f.fee_asset == "USDT" for f in fills)
            account = next(e for e in got if isinstance(e, AccountUpdate) and e.positions)
            assert account.positions[0].key == PERP_BTC and account.positions[0].size == Decimal("0.010")
            assert user.errors.total == 0
    finally:
        await spot_api.close()
        await fut_api.close()
        await rest.close()


async def test_recovers_from_an_injected_ws_kill(sim: BinanceSim) -> None:
    rest = BinanceRestClient(sim.urls, creds(sim))
    await rest.start()
    market_status: list[StreamStatus] = []
    market = BinanceMarketStreams(sim.urls, backoff=FAST, on_status=market_status.append)
    user = BinanceUserStreams(rest, sim.urls, creds(sim), rest.clock, backoff=FAST)
    try:
        async with (
            BinanceWsApi(
                sim.urls.spot_ws_api, creds(sim), rest.clock, product="spot", backoff=FAST
            ) as spot_api,
            BinanceWsApi(
                sim.urls.futures_ws_api, creds(sim), rest.clock, product="futures", backoff=FAST
            ) as fut_api,
            aclosing(market.order_books([SPOT_BTC, PERP_BTC])) as books,
            aclosing(user.events()) as events,
        ):
            await collect_until(
                events, lambda ev: len(statuses(ev, SPOT_STREAM) + statuses(ev, FUTURES_STREAM)) >= 2
            )
            await asyncio.wait_for(anext(books), 10)

            killed = sim.dialect.kill_ws(None, "all")
            assert killed >= 6  # two depth streams, the listenKey stream, three WS-API connections

            got = await collect_until(
                events,
                lambda ev: all(
                    any(s.connected and s.reason.startswith("reconnected") for s in statuses(ev, stream))
                    for stream in (SPOT_STREAM, FUTURES_STREAM)
                ),
            )
            assert any(not s.connected for s in statuses(got, SPOT_STREAM))
            assert any(not s.connected for s in statuses(got, FUTURES_STREAM))

            # market statuses arrive in-band, so keep consuming until both depth streams are back
            fresh: set[InstrumentKey] = set()
            async with asyncio.timeout(10):
                async for book in books:
                    back = [s for s in market_status if s.reason.startswith("reconnected")]
                    if len(back) == 2 and book.local_ts_ns > max(s.ts_ns for s in back):
                        fresh.add(book.key)
                    if fresh == {SPOT_BTC, PERP_BTC}:
                        break
            assert [s.connected for s in market_status if s.stream.startswith("binance:spot")] == [
                True,
                False,
                True,
            ]

            # the subscriptions are live again: fills after the kill reach us on both products
            await eventually(lambda: spot_api.connected and fut_api.connected, what="WS-API reconnected")
            spot_id = await place(spot_api, "BTCUSDT", "BUY", "0.01")
            perp_id = await place(fut_api, "BTCUSDT", "BUY", "0.010")
            await collect_until(events, lambda ev: filled(spot_id)(ev) and filled(perp_id)(ev))
    finally:
        await rest.close()


async def test_recovers_from_an_injected_listen_key_expiry(sim: BinanceSim) -> None:
    rest = BinanceRestClient(sim.urls, creds(sim))
    await rest.start()
    user = BinanceUserStreams(rest, sim.urls, creds(sim), rest.clock, spot=False, backoff=FAST)
    try:
        async with (
            BinanceWsApi(
                sim.urls.futures_ws_api, creds(sim), rest.clock, product="futures", backoff=FAST
            ) as api,
            aclosing(user.events()) as events,
        ):
            await collect_until(events, lambda ev: bool(statuses(ev, FUTURES_STREAM)))
            first_key = user.listen_key
            assert first_key is not None

            assert sim.dialect.expire_listen_keys() == 1
            got = await collect_until(
                events, lambda ev: any(s.connected for s in statuses(ev, FUTURES_STREAM))
            )
            down = statuses(got, FUTURES_STREAM)[0]
            assert not down.connected and down.reason == "requested: listenKeyExpired"
            assert user.listen_key not in (None, first_key) and user.listen_keys_created == 2

            perp_id = await place(api, "BTCUSDT", "SELL", "0.005")
            got = await collect_until(events, filled(perp_id))
            assert order_updates(got, perp_id)[-1].order.filled_qty == Decimal("0.005")
            assert user.errors.total == 0
    finally:
        await rest.close()
