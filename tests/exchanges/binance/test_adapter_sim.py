"""BinanceAdapter against the offline Binance venue (real sockets, in process, free ports)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from decimal import Decimal
from typing import cast

import pytest

from exchanges.base import ExecType, OrderUpdate, StreamStatus
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.parse import perp_key, spot_key
from exchanges.binance.sim import ACCOUNT_ID, BinanceSim, BinanceSimOptions
from exchanges.credentials import Credentials
from exchanges.errors import InvalidRequest, OrderNotFound, WouldTakeLiquidity
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from strategy_client.model import (
    HOUR_MS,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    round_down,
    round_up,
)
from tests.helpers import eventually, free_port_pair

D = Decimal
BTC_SPOT, BTC_PERP = spot_key("BTCUSDT"), perp_key("BTCUSDT")
OPTIONS = BinanceSimOptions(hang_ms=3000)


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSim]:
    """A running venue, random walk paused (books still re-quote), funding every 8 h."""
    venue = BinanceSim(port_base=free_port_pair(), seed=11, options=OPTIONS, step_ms=50)
    async with venue:
        venue.venue.pause(True)
        yield venue


async def started(sim: BinanceSim, *, use_ws_api: bool, **kw: object) -> BinanceAdapter:
    adapter = BinanceAdapter(
        sim.urls,
        Credentials(sim.api_key, sim.api_secret),
        use_ws_api=use_ws_api,
        **kw,  # type: ignore[arg-type]
    )
    await adapter.start()
    if use_ws_api:
        await eventually(lambda: all(c.connected for c in adapter.ws_api.values()), what="WS-API connected")
    return adapter


async def passive_price(
    adapter: BinanceAdapter, key: InstrumentKey, side: Side
) -> tuple[Instrument, Decimal]:
    """A price 50 ticks behind the touch, on the tick grid: rests without filling."""
    inst = adapter.instrument(key)
    assert inst is not None
    book = await adapter.fetch_order_book(key, 5)
    assert book.best_bid is not None and book.best_ask is not None
    if side is Side.BUY:
        return inst, round_down(book.best_bid.price - 50 * inst.tick_size, inst.tick_size)
    return inst, round_up(book.best_ask.price + 50 * inst.tick_size, inst.tick_size)


def open_with_client_id(sim: BinanceSim, key: InstrumentKey, client_id: str) -> int:
    return sum(
        1 for o in sim.venue.open_orders(ACCOUNT_ID, key.kind, key.symbol) if o.client_order_id == client_id
    )


async def test_instruments_books_funding(sim: BinanceSim) -> None:
    adapter = await started(sim, use_ws_api=False)
    try:
        instruments = await adapter.load_instruments()
        keys = {i.key for i in instruments}
        assert {BTC_SPOT, BTC_PERP, spot_key("ETHUSDT"), perp_key("ETHUSDT")} <= keys
        for inst in instruments:
            spec = sim.venue.spec(inst.key.kind, inst.key.symbol)
            assert (inst.tick_size, inst.step_size, inst.min_qty) == (
                spec.tick_size,
                spec.step_size,
                spec.min_qty,
            )
            assert inst.min_notional == spec.min_notional and inst.is_trading
        for key in (BTC_SPOT, BTC_PERP):
            book = await adapter.fetch_order_book(key, 5)
            known = adapter.instrument(key)
            assert known is not None and book.key == key
            assert len(book.bids) == 5 and len(book.asks) == 5
            assert [b.price for b in book.bids] == sorted((b.price for b in book.bids), reverse=True)
            assert [a.price for a in book.asks] == sorted(a.price for a in book.asks)
            assert book.bids[0].price < book.asks[0].price
            assert all(level.price % known.tick_size == 0 for level in book.bids + book.asks)
            assert book.venue_ts_ms > 0 and book.sequence > 0

        mark = sim.venue.mark("BTCUSDT")
        rate = await adapter.fetch_funding_rate(BTC_PERP)
        assert rate.key == BTC_PERP and rate.rate == mark.funding_rate
        assert rate.interval_ms == 8 * HOUR_MS and rate.next_funding_ts_ms == mark.next_funding_ms
        assert rate.mark_price > 0 and rate.index_price > 0
        with pytest.raises(InvalidRequest):
            await adapter.fetch_funding_rate(BTC_SPOT)

        assert await adapter.fetch_funding_history(BTC_PERP) == []
        sim.venue.set_funding_rate("BTCUSDT", D("0.00025"))
        sim.venue.settle_funding_now("BTCUSDT")
        history = await adapter.fetch_funding_history(BTC_PERP, limit=10)
        assert [r.rate for r in history] == [D("0.00025")]
        assert history[0].key == BTC_PERP and history[0].funding_ts_ms > 0
    finally:
        await adapter.close()


@pytest.mark.parametrize("use_ws_api", [True, False], ids=["ws-api", "rest"])
async def test_orders_account_positions_leverage(sim: BinanceSim, use_ws_api: bool) -> None:
    adapter = await started(sim, use_ws_api=use_ws_api)
    try:
        for key, side in ((BTC_PERP, Side.BUY), (BTC_SPOT, Side.SELL)):
            _inst, price = await passive_price(adapter, key, side)
            placed = await adapter.place_order(
                OrderRequest(key=key, side=side, type=OrderType.LIMIT, qty=D("0.010"), price=price)
            )
            assert placed.status is OrderStatus.NEW and placed.venue_id
            assert placed.price == price and placed.qty == D("0.010") and placed.client_id
            assert open_with_client_id(sim, key, placed.client_id) == 1
            by_client = await adapter.get_order(key, client_id=placed.client_id)
            by_venue = await adapter.get_order(key, venue_id=placed.venue_id)
            assert by_client.venue_id == by_venue.venue_id == placed.venue_id
            assert [o.client_id for o in await adapter.get_open_orders(key.kind, key)] == [placed.client_id]
            canceled = await adapter.cancel_order(key, client_id=placed.client_id)
            assert canceled.status is OrderStatus.CANCELED and canceled.client_id == placed.client_id
            assert (await adapter.get_order(key, venue_id=placed.venue_id)).status is OrderStatus.CANCELED
            assert await adapter.get_open_orders(key.kind) == []
            # cancel of a final order: the venue says unknown order, we report its state
            again = await adapter.cancel_order(key, venue_id=placed.venue_id)
            assert again.status is OrderStatus.CANCELED
            with pytest.raises(OrderNotFound):
                await adapter.get_order(key, client_id="never-sent-1")

        # post-only that would cross is refused (spot LIMIT_MAKER -2010, futures GTX -5022)
        for key in (BTC_SPOT, BTC_PERP):
            book = await adapter.fetch_order_book(key, 5)
            assert book.best_ask is not None
            with pytest.raises(WouldTakeLiquidity):
                await adapter.place_order(
                    OrderRequest(
                        key=key,
                        side=Side.BUY,
                        type=OrderType.LIMIT,
                        qty=D("0.010"),
                        price=book.best_ask.price,
                        tif=TimeInForce.POST_ONLY,
                    )
                )

        assert await adapter.set_leverage(BTC_PERP, 5) == 5
        filled = await adapter.place_order(
            OrderRequest(key=BTC_PERP, side=Side.BUY, type=OrderType.MARKET, qty=D("0.004"))
        )
        assert filled.status is OrderStatus.FILLED and filled.filled_qty == D("0.004")
        positions = await adapter.fetch_positions()
        assert [(p.key, p.size, p.leverage) for p in positions] == [(BTC_PERP, D("0.004"), 5)]
        assert positions[0].entry_price > 0 and positions[0].mark_price > 0

        account = await adapter.fetch_account()
        usdt = account.balance("USDT")
        margin = account.margin_asset("USDT")
        assert usdt is not None and usdt.free > 0
        assert margin is not None and margin.initial_margin > 0 and margin.wallet_balance > 0
        assert account.position(BTC_PERP) is not None
        assert adapter.rest.used_weight("futures") is not None
    finally:
        await adapter.close()


@pytest.mark.parametrize("mode", list(UnknownOutcomeMode))
@pytest.mark.parametrize(
    ("use_ws_api", "key"),
    [(False, BTC_PERP), (False, BTC_SPOT), (True, BTC_PERP), (True, BTC_SPOT)],
    ids=["rest-perp", "rest-spot", "wsapi-perp", "wsapi-spot"],
)
async def test_no_duplicate_order_after_an_accepted_order_times_out(
    sim: BinanceSim, mode: UnknownOutcomeMode, use_ws_api: bool, key: InstrumentKey
) -> None:
    adapter = await started(sim, use_ws_api=use_ws_api, timeout_s=0.5, ws_api_timeout_s=0.5)
    try:
        side = Side.BUY
        _, price = await passive_price(adapter, key, side)
        host = "spot" if key.kind is MarketKind.SPOT else "futures"
        sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode=mode, host=host))
        order = await adapter.place_order(
            OrderRequest(
                key=key, side=side, type=OrderType.LIMIT, qty=D("0.010"), price=price, client_id="dup-1"
            )
        )
        assert sim.faults.fired.get("unknown_outcome") == 1
        assert order.client_id == "dup-1" and order.status is OrderStatus.NEW and order.venue_id
        assert open_with_client_id(sim, key, "dup-1") == 1
        assert len(sim.venue.open_orders(ACCOUNT_ID, key.kind, key.symbol)) == 1
    finally:
        await adapter.close()


async def test_streams_are_wired_through_the_adapter(sim: BinanceSim) -> None:
    """Books and funding from the market streams, executions from the user streams."""
    adapter = await started(sim, use_ws_api=False)
    books = adapter.stream_order_books([BTC_SPOT, BTC_PERP])
    funding = adapter.stream_funding([BTC_PERP])
    user = adapter.stream_user_events()
    try:
        seen: set[InstrumentKey] = set()
        async with asyncio.timeout(10):
            async for book in books:
                assert book.bids and book.asks and book.bids[0].price < book.asks[0].price
                seen.add(book.key)
                if seen == {BTC_SPOT, BTC_PERP}:
                    break
        rate = await asyncio.wait_for(anext(funding), 10)
        assert rate.key == BTC_PERP and rate.interval_ms == 8 * HOUR_MS

        # both user streams report connected before their events flow; then our order shows up
        live: set[str] = set()
        async with asyncio.timeout(10):
            while live != {"binance:perp:user", "binance:spot:user"}:
                status = await anext(user)
                assert isinstance(status, StreamStatus), status
                if status.connected:
                    live.add(status.stream)
        _, price = await passive_price(adapter, BTC_PERP, Side.BUY)
        placed = await adapter.place_order(
            OrderRequest(key=BTC_PERP, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.010"), price=price)
        )
        async with asyncio.timeout(10):
            async for event in user:
                if isinstance(event, OrderUpdate) and event.order.client_id == placed.client_id:
                    assert event.order.status is OrderStatus.NEW and event.exec_type is ExecType.NEW
                    break
    finally:
        for stream in (books, funding, user):
            await cast(AsyncGenerator[object, None], stream).aclose()  # stop their tasks now
        await adapter.close()
