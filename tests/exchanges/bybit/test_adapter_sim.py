"""BybitAdapter against the offline Bybit venue over real sockets: REST, streams, failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from exchanges.base import AccountUpdate, OrderUpdate, StreamStatus, UserEvent
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.sim import BybitSim, BybitSimOptions
from exchanges.credentials import Credentials
from exchanges.errors import (
    DuplicateClientId,
    InsufficientFunds,
    InvalidRequest,
    NotFillable,
    OrderNotFound,
    RateLimited,
    WouldTakeLiquidity,
)
from exchanges.sim.faults import FaultRequest
from exchanges.transport.clock import ServerClock
from strategy_client.model import (
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tests.helpers import eventually, free_port

D = Decimal
PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")
SPOT = InstrumentKey.parse("bybit:spot:BTCUSDT")
ETH_PERP = InstrumentKey.parse("bybit:perp:ETHUSDT")


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def sim() -> AsyncIterator[BybitSim]:
    venue = BybitSim(port=free_port(), seed=7, step_ms=50, funding_interval_ms=3_600_000)
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def adapter(sim: BybitSim) -> AsyncIterator[BybitAdapter]:
    ad = BybitAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), reconcile_backoff_s=0.01)
    async with ad:
        yield ad


def _limit(key: InstrumentKey, side: Side, qty: str, price: str, **kw: object) -> OrderRequest:
    return OrderRequest(key=key, side=side, type=OrderType.LIMIT, qty=D(qty), price=D(price), **kw)  # type: ignore[arg-type]


def _market(key: InstrumentKey, side: Side, qty: str, **kw: object) -> OrderRequest:
    return OrderRequest(key=key, side=side, type=OrderType.MARKET, qty=D(qty), **kw)  # type: ignore[arg-type]


async def test_instruments_book_orders_account(sim: BybitSim, adapter: BybitAdapter) -> None:
    keys = set(adapter.instruments)
    assert {PERP, SPOT, ETH_PERP} <= keys and adapter.instruments[PERP].step_size == D("0.001")
    book = await adapter.fetch_order_book(PERP, 3)
    assert len(book.bids) == 3 and book.bids[0].price < book.asks[0].price
    adapter.rehearse_order(_limit(SPOT, Side.BUY, "0.01", "50000", client_id="ad-1"))  # builds, sends nothing
    assert await adapter.get_open_orders(MarketKind.SPOT) == []
    resting = await adapter.place_order(_limit(SPOT, Side.BUY, "0.01", "50000", client_id="ad-1"))
    assert resting.status is OrderStatus.NEW and resting.client_id == "ad-1" and resting.venue_id.isdigit()
    assert [o.client_id for o in await adapter.get_open_orders(MarketKind.SPOT)] == ["ad-1"]
    assert (await adapter.get_order(SPOT, venue_id=resting.venue_id)).client_id == "ad-1"
    canceled = await adapter.cancel_order(SPOT, client_id="ad-1")
    assert canceled.status is OrderStatus.CANCELED
    filled = await adapter.place_order(_market(PERP, Side.BUY, "0.02"))
    assert filled.status is OrderStatus.FILLED and filled.avg_price is not None and filled.filled_qty == D("0.02")
    again = await adapter.cancel_order(PERP, client_id=filled.client_id)  # too late: the final state comes back
    assert again.status is OrderStatus.FILLED
    with pytest.raises(OrderNotFound):
        await adapter.get_order(PERP, client_id="never-placed")
    [pos] = await adapter.fetch_positions()
    assert pos.key == PERP and pos.size == D("0.02") and pos.entry_price == filled.avg_price
    account = await adapter.fetch_account()
    usdt = account.margin_asset("USDT")
    assert usdt is not None and usdt.initial_margin > 0 and account.balance("BTC") is not None
    assert await adapter.set_leverage(PERP, 4) == 4 and await adapter.set_leverage(PERP, 4) == 4  # 110043 is fine
    spot_fill = await adapter.place_order(_market(SPOT, Side.SELL, "0.001"))
    assert spot_fill.status is OrderStatus.FILLED and spot_fill.qty == D("0.001")  # base units (marketUnit)


async def test_post_only_fok_and_refusals(sim: BybitSim, adapter: BybitAdapter) -> None:
    ask = (await adapter.fetch_order_book(PERP, 1)).asks[0].price
    with pytest.raises(WouldTakeLiquidity):
        await adapter.place_order(_limit(PERP, Side.BUY, "0.01", str(ask), tif=TimeInForce.POST_ONLY))
    sim.venue.set_liquidity(MarketKind.PERP, "BTCUSDT", D("0.001"))
    with pytest.raises(NotFillable):
        await adapter.place_order(_limit(PERP, Side.BUY, "1", str(ask), tif=TimeInForce.FOK))
    with pytest.raises(InsufficientFunds):
        await adapter.place_order(_limit(SPOT, Side.SELL, "5", "70000"))
    with pytest.raises(InvalidRequest):
        await adapter.place_order(_limit(PERP, Side.BUY, "0.01", "50000.05"))
    with pytest.raises(InvalidRequest):
        await adapter.place_order(_limit(PERP, Side.BUY, "0.01", "50000", client_id="bad id!"))


async def test_unknown_outcome_is_reconciled_and_duplicates_are_idempotent(
    sim: BybitSim, adapter: BybitAdapter
) -> None:
    for mode in ("error", "drop"):
        sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode=mode))  # type: ignore[arg-type]
        order = await adapter.place_order(_market(ETH_PERP, Side.BUY, "0.1", client_id=f"lost-{mode}"))
        assert order.status is OrderStatus.FILLED and order.client_id == f"lost-{mode}"
    request = _limit(PERP, Side.BUY, "0.01", "50000", client_id="twice")
    first = await adapter.place_order(request)
    second = await adapter.place_order(request)  # 110072, but it is our own order: same answer
    assert second.venue_id == first.venue_id
    with pytest.raises(DuplicateClientId):
        await adapter.place_order(_limit(PERP, Side.BUY, "0.02", "50000", client_id="twice"))


async def test_timestamp_drift_is_resynced(sim: BybitSim) -> None:
    skewed = ServerClock(wall_ms=lambda: time.time_ns() // 1_000_000 - 60_000, max_age_s=3600)
    ad = BybitAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), clock=skewed)
    try:
        await ad.load_instruments()  # public: the clock was never measured
        local = skewed.local_ms()
        skewed.update(local, local, local)  # "measured": offset 0, yet the local clock is 60 s behind
        positions = await ad.fetch_positions()  # 10002 → resync → resend once
        assert positions == [] and abs(skewed.offset_ms - 60_000) < 5_000
    finally:
        await ad.close()


async def test_rate_limit_is_honoured() -> None:
    options = BybitSimOptions(uid_limits={"/v5/position/list": 1})
    async with BybitSim(port=free_port(), seed=1, options=options) as sim:
        ad = BybitAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret))
        async with ad:
            await ad.fetch_positions()
            with pytest.raises(RateLimited) as err:
                await ad.fetch_positions()
            assert err.value.retry_after_s is not None and err.value.retry_after_s <= 1.0
            assert await ad.fetch_positions() == []  # waits for the reset it was told about, then sends


async def test_funding_rate_and_history(sim: BybitSim, adapter: BybitAdapter) -> None:
    rate = await adapter.fetch_funding_rate(PERP)
    assert rate.interval_ms == 3_600_000 and rate.mark_price == sim.venue.mark("BTCUSDT").mark
    sim.venue.set_funding_rate("BTCUSDT", D("0.0002"))
    sim.venue.settle_funding_now("BTCUSDT")
    history = await adapter.fetch_funding_history(PERP, start_ms=0)
    assert history[-1].rate == D("0.0002")
    with pytest.raises(InvalidRequest):
        await adapter.fetch_funding_rate(SPOT)


async def _take(events: AsyncIterator[UserEvent], pred: object, n: int = 1, timeout: float = 10) -> list[UserEvent]:
    out: list[UserEvent] = []

    async def run() -> None:
        async for ev in events:
            if pred(ev):  # type: ignore[operator]
                out.append(ev)
                if len(out) >= n:
                    return

    await asyncio.wait_for(run(), timeout)
    return out


async def test_user_stream_trade_events_and_reconnect(sim: BybitSim, adapter: BybitAdapter) -> None:
    events = adapter.stream_user_events()
    try:
        await _take(events, lambda e: isinstance(e, StreamStatus) and e.connected)
        await adapter.place_order(_market(PERP, Side.SELL, "0.01", client_id="ws-1"))
        [fill] = await _take(events, lambda e: isinstance(e, OrderUpdate) and e.fill is not None)
        assert isinstance(fill, OrderUpdate) and fill.order.client_id == "ws-1" and fill.fill is not None
        assert fill.order.status is OrderStatus.FILLED and fill.order.avg_price == fill.fill.price
        [pos] = await _take(events, lambda e: isinstance(e, AccountUpdate) and e.positions)
        assert isinstance(pos, AccountUpdate) and pos.positions[0].size == D("-0.01")
        [wallet] = await _take(events, lambda e: isinstance(e, AccountUpdate) and e.reason == "wallet")
        assert isinstance(wallet, AccountUpdate) and wallet.margin[0].asset == "USDT"
        sim.venue.set_funding_rate("BTCUSDT", D("0.001"))
        sim.venue.settle_funding_now("BTCUSDT")
        [pay] = await _take(events, lambda e: isinstance(e, AccountUpdate) and e.funding)
        assert isinstance(pay, AccountUpdate) and pay.funding[0].amount > 0  # short receives at a positive rate
        assert sim.dialect.kill_ws(None, "user") == 1
        statuses = await _take(events, lambda e: isinstance(e, StreamStatus), n=2)
        assert [s.connected for s in statuses if isinstance(s, StreamStatus)] == [False, True]
        assert isinstance(statuses[1], StreamStatus) and statuses[1].reason.startswith("reconnected")
        await adapter.place_order(_market(PERP, Side.BUY, "0.01", client_id="ws-2"))
        [again] = await _take(events, lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "ws-2")
        assert isinstance(again, OrderUpdate)
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_login_failure_is_reported(sim: BybitSim) -> None:
    ad = BybitAdapter(sim.urls, Credentials(sim.api_key, "not-the-secret"))
    events = ad.stream_user_events()
    try:
        [status] = await _take(events, lambda e: isinstance(e, StreamStatus))
        assert isinstance(status, StreamStatus) and not status.connected and status.reason.startswith("auth failed")
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await ad.close()


async def test_book_stream_resyncs_on_stale_gap_and_restart(sim: BybitSim, adapter: BybitAdapter) -> None:
    books = adapter.stream_order_books([PERP, SPOT])
    seen: list[tuple[str, int]] = []

    async def consume() -> None:
        async for book in books:
            assert book.bids[0].price < book.asks[0].price and len(book.bids) <= 5
            seen.append((str(book.key), book.sequence))

    consumer = asyncio.create_task(consume())
    try:
        sim.venue.pause(False)
        await eventually(lambda: len(seen) >= 2, what="books")
        sim.faults.arm(FaultRequest(stale_frames=1, host="futures"))
        await eventually(lambda: adapter.market.resyncs.get("orderbook.50.BTCUSDT", 0) >= 1, what="stale → resync")
        sim.faults.arm(FaultRequest(out_of_order_frames=1, host="futures"))
        await eventually(lambda: adapter.market.resyncs.get("orderbook.50.BTCUSDT", 0) >= 2, what="gap → resync")
        sim.faults.arm(FaultRequest(malformed_frames=1, host="spot"))
        await eventually(lambda: adapter.market.errors.counts["orderbook:malformed"] >= 1, what="malformed counted")
        resyncs = dict(adapter.market.resyncs)
        assert sim.dialect.server_shutdown() == 2  # u = 1: both books restart from the new snapshot
        n = len(seen)
        await eventually(lambda: len(seen) > n + 4, what="books keep flowing after the restart")
        assert adapter.market.restarts.get("BTCUSDT", 0) >= 1
        assert adapter.market.resyncs == resyncs  # a restart is not a desync
        assert sim.dialect.kill_ws(None, "streams") == 2  # both public connections drop (1006)
        await eventually(lambda: sum(w.reconnects for w in adapter.market.stats().values()) >= 2, what="reconnects")
        n = len(seen)
        await eventually(lambda: len(seen) > n + 4, what="books again after reconnecting and resubscribing")
        for key in ("bybit:perp:BTCUSDT", "bybit:spot:BTCUSDT"):
            seqs = [q for k, q in seen if k == key]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # monotonic across restart and reconnect
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await books.aclose()  # type: ignore[attr-defined]


async def test_funding_stream(sim: BybitSim, adapter: BybitAdapter) -> None:
    stream = adapter.stream_funding([PERP, ETH_PERP])
    try:
        got: dict[str, Decimal] = {}

        async def collect() -> None:
            async for rate in stream:
                assert rate.interval_ms == 3_600_000 and rate.next_funding_ts_ms > 0
                got[rate.key.symbol] = rate.rate
                if len(got) == 2:
                    return

        await asyncio.wait_for(collect(), 10)
        assert got["BTCUSDT"] == sim.venue.mark("BTCUSDT").funding_rate
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
