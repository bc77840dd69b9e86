"""PaperVenue: fills against the visible book, fees, partial fills, resting orders, funding."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategy_client.model import (
    BookLevel,
    Exchange,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.paper import PaperConfig, PaperRejected, PaperVenue, RejectCode

SPOT = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


def inst(key: InstrumentKey) -> Instrument:
    return Instrument(
        key=key,
        base="BTC",
        quote="USDT",
        settle="USDT",
        tick_size=D("0.1"),
        step_size=D("0.001"),
        min_qty=D("0.001"),
        min_notional=D("5"),
    )


def book(key: InstrumentKey, bids: list[tuple[str, str]], asks: list[tuple[str, str]], seq: int = 1) -> OrderBook:
    return OrderBook(
        key=key,
        bids=tuple(BookLevel(D(p), D(q)) for p, q in bids),
        asks=tuple(BookLevel(D(p), D(q)) for p, q in asks),
        venue_ts_ms=0,
        local_ts_ns=0,
        sequence=seq,
    )


def venue(**cfg: object) -> PaperVenue:
    config = PaperConfig(
        taker_fee=D("0.001"),
        maker_fee=D("0.0002"),
        balances={"USDT": D(100_000), "BTC": D(1)},
        **cfg,  # type: ignore[arg-type]
    )
    v = PaperVenue(Exchange.BINANCE, [inst(SPOT), inst(PERP)], config)
    v.on_book(book(SPOT, [("99.9", "1"), ("99.8", "2")], [("100.0", "0.5"), ("100.5", "1")]), 1)
    v.on_book(book(PERP, [("100.9", "1"), ("100.8", "2")], [("101.0", "0.5"), ("101.5", "1")]), 1)
    return v


def req(key: InstrumentKey, side: Side, qty: str, price: str | None = None, **kw: object) -> OrderRequest:
    return OrderRequest(
        key=key,
        side=side,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        qty=D(qty),
        price=D(price) if price else None,
        **kw,  # type: ignore[arg-type]
    )


def test_market_buy_walks_levels_with_one_fill_per_level_and_taker_fees() -> None:
    v = venue()
    order, upd = v.submit(req(SPOT, Side.BUY, "1.0"), 10)
    assert [c.exec_type for c in upd.changes] == ["new", "trade", "trade"]
    fills = [c.fill for c in upd.changes if c.fill]
    assert [(f.price, f.qty) for f in fills] == [(D("100.0"), D("0.5")), (D("100.5"), D("0.5"))]
    assert all(not f.is_maker for f in fills)
    assert order.status is OrderStatus.FILLED and order.avg_price == D("100.25")
    assert [(f.fee, f.fee_asset) for f in fills] == [(D("0.0005"), "BTC"), (D("0.0005"), "BTC")]  # received asset
    balances = {b.asset: b for b in upd.balances}
    assert balances["USDT"].free == D(100_000) - D("100.25") and balances["USDT"].locked == 0
    assert balances["BTC"].free == D(2) - D("1.0") * D("0.001")


def test_market_order_beyond_visible_depth_fills_what_is_shown_and_expires_the_rest() -> None:
    v = venue()
    order, upd = v.submit(req(SPOT, Side.BUY, "2.0"), 10)
    assert order.status is OrderStatus.EXPIRED and order.filled_qty == D("1.5")
    assert upd.changes[-1].exec_type == "expired"
    assert v.ledger.spot["USDT"].locked == 0


def test_two_orders_on_one_snapshot_do_not_take_the_same_liquidity() -> None:
    v = venue()
    v.submit(req(SPOT, Side.BUY, "0.5"), 10)
    order, _ = v.submit(req(SPOT, Side.BUY, "0.5"), 11)
    assert order.avg_price == D("100.5")
    v.on_book(book(SPOT, [("99.9", "1")], [("100.0", "0.5")], seq=2), 12)
    order, _ = v.submit(req(SPOT, Side.BUY, "0.5"), 13)
    assert order.avg_price == D("100.0")


def test_resting_limit_fills_as_maker_at_its_price_when_the_book_crosses() -> None:
    v = venue()
    order, upd = v.submit(req(SPOT, Side.BUY, "0.8", "99.5"), 10)
    assert order.status is OrderStatus.NEW and [c.exec_type for c in upd.changes] == ["new"]
    assert v.ledger.spot["USDT"].locked > 0
    upd = v.on_book(book(SPOT, [("99.0", "1")], [("99.4", "0.3"), ("99.5", "0.2"), ("99.6", "5")], seq=2), 20)
    (change,) = upd.changes
    assert change.fill is not None and change.fill.is_maker
    assert change.fill.price == D("99.5") and change.fill.qty == D("0.5")
    assert change.order.status is OrderStatus.PARTIALLY_FILLED
    upd = v.on_book(book(SPOT, [("99.0", "1")], [("99.5", "1")], seq=3), 30)
    assert upd.changes[-1].order.status is OrderStatus.FILLED
    assert v.ledger.spot["USDT"].locked == 0
    assert v.ledger.spot["BTC"].free == D("1.8") - D("0.8") * D("0.0002")  # maker fee out of the base received


def test_crossing_limit_takes_up_to_its_price_then_rests() -> None:
    v = venue()
    order, _upd = v.submit(req(SPOT, Side.BUY, "1.0", "100.2"), 10)
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled_qty == D("0.5")
    assert [o.client_id for o in v.open_orders(SPOT)] == [order.client_id]


def test_ioc_expires_its_remainder_and_fok_all_or_nothing() -> None:
    v = venue()
    order, _ = v.submit(req(SPOT, Side.BUY, "1.0", "100.2", tif=TimeInForce.IOC), 10)
    assert order.status is OrderStatus.EXPIRED and order.filled_qty == D("0.5")
    v2 = venue()
    order, upd = v2.submit(req(SPOT, Side.BUY, "1.0", "100.2", tif=TimeInForce.FOK), 10)
    assert order.status is OrderStatus.EXPIRED and order.filled_qty == 0
    assert not any(c.fill for c in upd.changes)
    assert v2.ledger.spot["USDT"].locked == 0


def test_post_only_that_would_cross_is_rejected() -> None:
    with pytest.raises(PaperRejected) as err:
        venue().submit(req(SPOT, Side.BUY, "0.1", "100.0", tif=TimeInForce.POST_ONLY), 10)
    assert err.value.code is RejectCode.WOULD_TAKE_LIQUIDITY


def test_rejections_name_the_problem() -> None:
    v = venue()
    with pytest.raises(PaperRejected) as err:
        v.submit(req(SPOT, Side.BUY, "0.0005"), 10)
    assert err.value.code is RejectCode.FILTER and "LOT_SIZE" in err.value.message
    with pytest.raises(PaperRejected) as err:
        v.submit(req(SPOT, Side.SELL, "5", "99.0"), 10)
    assert err.value.code is RejectCode.INSUFFICIENT_FUNDS
    with pytest.raises(PaperRejected) as err:
        v.submit(req(PERP, Side.BUY, "0.1", reduce_only=True), 10)
    assert err.value.code is RejectCode.REDUCE_ONLY
    with pytest.raises(PaperRejected) as err:
        v.submit(req(InstrumentKey(Exchange.BINANCE, "XYZUSDT", MarketKind.SPOT), Side.BUY, "1"), 10)
    assert err.value.code is RejectCode.UNKNOWN_INSTRUMENT
    with pytest.raises(PaperRejected) as err:
        v.submit(req(PERP, Side.BUY, "100000", "101.0"), 10)
    assert err.value.code is RejectCode.INSUFFICIENT_FUNDS
    empty = PaperVenue(Exchange.BINANCE, [inst(SPOT)])
    with pytest.raises(PaperRejected) as err:
        empty.submit(req(SPOT, Side.BUY, "0.1"), 10)
    assert err.value.code is RejectCode.NO_LIQUIDITY


def test_cancel_releases_the_lock_and_is_final() -> None:
    v = venue()
    order, _ = v.submit(req(SPOT, Side.SELL, "0.5", "105.0"), 10)
    assert v.ledger.spot["BTC"].locked == D("0.5")
    canceled, upd = v.cancel(SPOT, 11, client_id=order.client_id)
    assert canceled.status is OrderStatus.CANCELED and upd.changes[0].exec_type == "canceled"
    assert v.ledger.spot["BTC"].locked == 0 and v.ledger.spot["BTC"].free == D(1)
    assert v.get_order(SPOT, venue_id=order.venue_id).status is OrderStatus.CANCELED
    with pytest.raises(PaperRejected) as err:
        v.cancel(SPOT, 12, client_id=order.client_id)
    assert err.value.is_not_found


def test_perp_position_realised_pnl_reduce_only_cap_and_funding() -> None:
    v = venue()
    _, upd = v.submit(req(PERP, Side.SELL, "0.5"), 10)
    assert upd.positions[0].size == D("-0.5") and upd.positions[0].entry_price == D("100.9")
    wallet0 = v.ledger.wallet
    nxt = 1_000
    v.on_funding(
        FundingRate(
            key=PERP,
            rate=D("0.001"),
            interval_ms=8 * 3_600_000,
            next_funding_ts_ms=nxt,
            mark_price=D("101"),
            index_price=D("100"),
        ),
        500,
    )
    upd = v.on_funding(
        FundingRate(
            key=PERP,
            rate=D("0.0002"),
            interval_ms=8 * 3_600_000,
            next_funding_ts_ms=nxt + 8 * 3_600_000,
            mark_price=D("102"),
            index_price=D("100"),
        ),
        1_001,
    )
    (pay,) = upd.funding
    assert pay.amount == D("0.5") * D("102") * D("0.001") and pay.ts_ms == nxt  # shorts receive
    assert v.ledger.wallet == wallet0 + pay.amount
    assert v.settle_due(2_000).empty  # settled once only
    # reduce-only buy larger than the position is capped to it
    v.on_book(book(PERP, [("99.9", "5")], [("100.0", "5")], seq=2), 1_100)
    order, upd = v.submit(req(PERP, Side.BUY, "2", reduce_only=True), 1_101)
    assert order.qty == D("0.5") and order.status is OrderStatus.FILLED
    fill = next(c.fill for c in upd.changes if c.fill)
    assert fill.realized_pnl == (D("100.0") - D("100.9")) * D("0.5") * -1
    assert upd.positions[0].size == 0 and v.positions() == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["buy", "sell", "limit_buy", "limit_sell", "cancel", "book"]),
            st.integers(min_value=1, max_value=900),
            st.integers(min_value=-30, max_value=30),
        ),
        max_size=40,
    )
)
def test_spot_wallet_is_conserved_and_never_negative(ops: list[tuple[str, int, int]]) -> None:
    """quote = start − Σ buy notional + Σ sell notional − Σ quote fees; base = start + Σ buys − Σ sells − Σ base
    fees; locks match."""
    v = venue()
    quote, base = D(100_000), D(1)
    seq = 1
    for op, q, dp in ops:
        qty = D(q) / 1000
        try:
            if op == "book":
                seq += 1
                mid = D(100) + D(dp) / 10
                upd = v.on_book(book(SPOT, [(str(mid - D("0.1")), "0.4")], [(str(mid + D("0.1")), "0.4")], seq), seq)
            elif op == "cancel":
                if not v.open:
                    continue
                cid = next(iter(v.open))
                _, upd = v.cancel(SPOT, seq, client_id=cid)
            else:
                side = Side.BUY if "buy" in op else Side.SELL
                price = str(D(100) + D(dp) / 10) if op.startswith("limit") else None
                _, upd = v.submit(req(SPOT, side, str(qty), price), seq)
        except PaperRejected:
            continue
        for c in upd.changes:
            if c.fill:
                sign = 1 if c.fill.side is Side.BUY else -1
                quote -= sign * c.fill.qty * c.fill.price
                base += sign * c.fill.qty
                if c.fill.fee_asset == "BTC":
                    base -= c.fill.fee
                else:
                    quote -= c.fill.fee
    w_usdt, w_btc = v.ledger.spot["USDT"], v.ledger.spot["BTC"]
    for w in (w_usdt, w_btc):
        assert w.free >= 0 and w.locked >= 0
    assert w_usdt.free + w_usdt.locked == quote
    assert w_btc.free + w_btc.locked == base
    assert w_usdt.locked == sum((o.locked_left for o in v.open.values() if o.locked_asset == "USDT"), D(0))
    assert w_btc.locked == sum((o.locked_left for o in v.open.values() if o.locked_asset == "BTC"), D(0))
