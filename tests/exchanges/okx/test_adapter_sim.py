"""``OkxAdapter`` REST side against the offline OKX venue over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from exchanges.credentials import Credentials
from exchanges.errors import (
    DuplicateClientId,
    InsufficientFunds,
    InvalidRequest,
    OrderNotFound,
    RateLimited,
    ServiceUnavailable,
)
from exchanges.okx.adapter import OkxAdapter
from exchanges.okx.sim import OkxSim, OkxSimOptions
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tests.helpers import eventually, free_port

PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.SPOT)
ETH_PERP = InstrumentKey(Exchange.OKX, "ETHUSDT", MarketKind.PERP)


@pytest.fixture
async def sim() -> AsyncIterator[OkxSim]:
    venue = OkxSim(port=free_port(), seed=9, step_ms=50, options=OkxSimOptions(ws_connects_per_s=0))
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def adapter(sim: OkxSim) -> AsyncIterator[OkxAdapter]:
    ad = OkxAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret, sim.passphrase), reconcile_backoff_s=0.01)
    await ad.start()
    yield ad
    await ad.close()


def _limit(key: InstrumentKey, side: Side, qty: str, price: Decimal, **kw: object) -> OrderRequest:
    return OrderRequest(key=key, side=side, type=OrderType.LIMIT, qty=Decimal(qty), price=price, **kw)  # type: ignore[arg-type]


async def test_instruments_and_books_in_base_units(sim: OkxSim, adapter: OkxAdapter) -> None:
    perp = adapter.instrument(PERP)
    assert perp is not None and perp.step_size == Decimal("0.0001") and perp.contract_size == Decimal("0.01")
    book = await adapter.fetch_order_book(PERP, 5)
    engine = sim.venue.book(MarketKind.PERP, "BTCUSDT", 5)
    assert [(b.price, b.qty) for b in book.bids] == [(p, q) for p, q in engine.bids]
    assert book.sequence == engine.update_id and len(book.asks) == 5


async def test_order_lifecycle(sim: OkxSim, adapter: OkxAdapter) -> None:
    bid = sim.venue.book(MarketKind.PERP, "BTCUSDT", 1).bids[0][0]
    req = _limit(PERP, Side.BUY, "0.0150", bid - 100, client_id="tb-life-1", tif=TimeInForce.POST_ONLY)
    adapter.rehearse_order(req)  # builds the order body, sends nothing
    assert await adapter.get_open_orders(MarketKind.PERP) == []
    placed = await adapter.place_order(req)
    assert placed.status is OrderStatus.NEW and placed.venue_id and placed.client_id == "tb-life-1"
    got = await adapter.get_order(PERP, client_id="tb-life-1")
    assert got.qty == Decimal("0.0150") and got.tif is TimeInForce.POST_ONLY and got.venue_id == placed.venue_id
    assert [o.client_id for o in await adapter.get_open_orders(MarketKind.PERP)] == ["tb-life-1"]
    canceled = await adapter.cancel_order(PERP, venue_id=placed.venue_id)
    assert canceled.status is OrderStatus.CANCELED and canceled.client_id == "tb-life-1"
    again = await adapter.cancel_order(PERP, client_id="tb-life-1")  # 51400 → the final state
    assert again.status is OrderStatus.CANCELED
    with pytest.raises(OrderNotFound):
        await adapter.get_order(PERP, client_id="never")
    with pytest.raises(OrderNotFound):
        await adapter.cancel_order(PERP, client_id="never")


async def test_market_order_position_account(adapter: OkxAdapter) -> None:
    qty = Decimal("0.0123")
    await adapter.place_order(OrderRequest(key=PERP, side=Side.SELL, type=OrderType.MARKET, qty=qty, client_id="m1"))
    filled = await adapter.get_order(PERP, client_id="m1")
    assert filled.status is OrderStatus.FILLED and filled.filled_qty == qty and filled.avg_price
    (pos,) = await adapter.fetch_positions()
    assert pos.key == PERP and pos.size == -qty and pos.leverage == 20
    acct = await adapter.fetch_account()
    assert acct.position(PERP) is not None and acct.margin_asset("USDT") is not None
    assert acct.balance("BTC") is not None and acct.balance("BTC").free == 1  # type: ignore[union-attr]
    assert await adapter.set_leverage(PERP, 9) == 9
    with pytest.raises(InvalidRequest):
        await adapter.set_leverage(SPOT, 3)
    spot = await adapter.place_order(OrderRequest(key=SPOT, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01")))
    done = await adapter.get_order(SPOT, venue_id=spot.venue_id)
    assert done.filled_qty == Decimal("0.01") and done.status is OrderStatus.FILLED


async def test_errors(sim: OkxSim, adapter: OkxAdapter) -> None:
    with pytest.raises(InsufficientFunds) as funds:
        await adapter.place_order(_limit(PERP, Side.BUY, "1000", Decimal("50000")))
    assert funds.value.venue_code == 51008
    with pytest.raises(InvalidRequest, match="step"):
        await adapter.place_order(_limit(PERP, Side.BUY, "0.00015", Decimal("50000")))
    with pytest.raises(InvalidRequest, match="not an OKX instrument"):
        await adapter.fetch_order_book(InstrumentKey(Exchange.OKX, "DOGEUSDT", MarketKind.PERP))
    first = _limit(SPOT, Side.BUY, "0.001", Decimal("50000"), client_id="dup-1")
    await adapter.place_order(first)
    assert (await adapter.place_order(first)).client_id == "dup-1"  # same request again: the same order
    with pytest.raises(DuplicateClientId):
        await adapter.place_order(_limit(SPOT, Side.BUY, "0.002", Decimal("50000"), client_id="dup-1"))
    assert len(sim.venue.open_orders("okx-sim-1", MarketKind.SPOT)) == 1


@pytest.mark.parametrize("ws_orders", [True, False], ids=["ws-orders", "rest-orders"])
async def test_unknown_outcome_reconciles_without_resending(sim: OkxSim, ws_orders: bool) -> None:
    creds = Credentials(sim.api_key, sim.api_secret, sim.passphrase)
    adapter = OkxAdapter(sim.urls, creds, reconcile_backoff_s=0.01, use_ws_orders=ws_orders)
    await adapter.start()
    try:
        ops_before = sim.dialect.ws.order_ops
        for mode, cid in ((UnknownOutcomeMode.ERROR, "u-err"), (UnknownOutcomeMode.DROP, "u-drop")):
            sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode=mode))
            order = await adapter.place_order(_limit(SPOT, Side.BUY, "0.001", Decimal("50000"), client_id=cid))
            assert order.client_id == cid and order.status is OrderStatus.NEW and order.venue_id
        assert len(sim.venue.open_orders("okx-sim-1", MarketKind.SPOT)) == 2
        assert sim.faults.state().fired["unknown_outcome"] == 2
        assert (sim.dialect.ws.order_ops > ops_before) is ws_orders  # the order path taken
        sim.faults.arm(FaultRequest(fail_next=1, fail_status=503))
        with pytest.raises(ServiceUnavailable):
            await adapter.place_order(_limit(SPOT, Side.BUY, "0.001", Decimal("50000"), client_id="u-503"))
        assert len(sim.venue.open_orders("okx-sim-1", MarketKind.SPOT)) == 2
        canceled = await adapter.cancel_order(SPOT, client_id="u-err")
        assert canceled.status is OrderStatus.CANCELED
    finally:
        await adapter.close()


async def test_rate_limit_blocks_the_endpoint(sim: OkxSim, adapter: OkxAdapter) -> None:
    sim.faults.arm(FaultRequest(throttle_next=1, retry_after_s=30, path_prefix="/api/v5/market/books"))
    with pytest.raises(RateLimited) as first:
        await adapter.fetch_order_book(PERP)
    assert first.value.retry_after_s == 30
    sent = adapter.rest.http.requests_sent
    with pytest.raises(RateLimited, match="not sent"):
        await adapter.fetch_order_book(SPOT)
    assert adapter.rest.http.requests_sent == sent  # failed fast, nothing sent
    await adapter.fetch_funding_rate(PERP)  # other endpoints are not blocked


async def test_clock_drift_resyncs_on_50102(adapter: OkxAdapter) -> None:
    now = adapter.clock.local_ms()
    adapter.clock.update(now - 60_000, now, now)  # a minute behind the venue, believed fresh
    assert await adapter.get_open_orders(MarketKind.SPOT) == []  # 50102, resync, resent once
    assert abs(adapter.clock.offset_ms) < 5_000


async def test_funding(sim: OkxSim, adapter: OkxAdapter) -> None:
    sim.venue.set_funding_rate("BTCUSDT", Decimal("0.0002"))
    rate = await adapter.fetch_funding_rate(PERP)
    mark = sim.venue.mark("BTCUSDT")
    assert rate.rate == Decimal("0.0002") and rate.interval_ms == 8 * 3_600_000 and rate.mark_price == mark.mark
    assert rate.index_price == mark.index and rate.next_funding_ts_ms == mark.next_funding_ms
    sim.venue.settle_funding_now("BTCUSDT")
    first = sim.venue.clock.now_ms()
    await eventually(lambda: sim.venue.clock.now_ms() > first, what="time to pass")
    sim.venue.set_funding_rate("BTCUSDT", Decimal("-0.0001"))
    sim.venue.settle_funding_now("BTCUSDT")
    history = await adapter.fetch_funding_history(PERP)
    assert [r.rate for r in history] == [Decimal("0.0002"), Decimal("-0.0001")]  # oldest first
    later = await adapter.fetch_funding_history(PERP, start_ms=history[1].funding_ts_ms)
    assert [r.rate for r in later] == [Decimal("-0.0001")]
    with pytest.raises(InvalidRequest):
        await adapter.fetch_funding_rate(SPOT)
