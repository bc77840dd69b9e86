"""Bybit REST payloads (fixtures in the documented shapes) → domain objects, exact Decimals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.bybit import rest_schemas as rs
from exchanges.bybit.parse import (
    SymbolMap,
    order_params,
    order_status,
    parse_account,
    parse_book,
    parse_funding_rate,
    parse_funding_record,
    parse_linear_instrument,
    parse_order,
    parse_positions,
    parse_spot_instrument,
)
from exchanges.errors import InvalidRequest, MalformedPayload
from strategy_client.model import (
    InstrumentKey,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

FIX = Path(__file__).parent / "fixtures"
D = Decimal
T = TypeVar("T")
PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")
SPOT = InstrumentKey.parse("bybit:spot:BTCUSDT")


def result(name: str, kind: type[T]) -> T:
    return rs.decoder(kind).decode((FIX / name).read_bytes()).result


def test_linear_instruments_keep_filters_and_skip_dated_futures() -> None:
    items = result("http_instruments_linear.json", rs.LinearInstruments).list
    parsed = [parse_linear_instrument(i) for i in items]
    assert parsed[3] is None  # BTC-26DEC25 is LinearFutures
    btc, pepe, usdc = parsed[0], parsed[1], parsed[2]
    assert btc is not None and pepe is not None and usdc is not None
    assert btc.key == PERP and btc.tick_size == D("0.10") and btc.step_size == D("0.001")
    assert btc.min_notional == D("5") and btc.max_qty == D("1190") and btc.market_max_qty == D("500")
    assert btc.settle == "USDT" and btc.contract_size == 1
    assert pepe.key.symbol == "1000PEPEUSDT" and pepe.base == "1000PEPE"  # from baseCoin, not the name
    assert usdc.key.symbol == "BTCUSDC" and usdc.settle == "USDC"  # canonical BASEQUOTE, native BTCPERP


def test_spot_instrument() -> None:
    [item] = result("http_instruments_spot.json", rs.SpotInstruments).list
    inst = parse_spot_instrument(item)
    assert inst.key == SPOT and inst.step_size == D("0.000001") and inst.min_qty == D("0.00004")
    assert inst.min_notional == D("1") and inst.max_qty == D("63.01197227") and inst.tick_size == D("0.01")


def test_orderbook() -> None:
    book = parse_book(result("http_orderbook.json", rs.Orderbook), SPOT, local_ts_ns=5, levels=10)
    assert book.bids[0].price == D("65485.47") and book.asks[0].qty == D("16.606555")
    assert book.sequence == 230704 and book.venue_ts_ms == 1716863719031


def test_order_and_status_mapping() -> None:
    [item] = result("http_order_realtime.json", rs.OrderList).list
    key = InstrumentKey.parse("bybit:perp:ETHUSDT")
    order = parse_order(item, key)
    assert order.status is OrderStatus.NEW and order.price == D("1600.00") and order.qty == D("0.10")
    assert order.client_id == "test-000005" and order.avg_price is None and order.created_ts_ms == 1684738540559
    limit, market = OrderType.LIMIT, OrderType.MARKET
    assert order_status("Cancelled", "CancelByUser", "EC_NoError", TimeInForce.IOC, limit) is OrderStatus.CANCELED
    assert order_status("Cancelled", "UNKNOWN", "EC_NoError", TimeInForce.IOC, limit) is OrderStatus.EXPIRED
    assert order_status("Cancelled", "UNKNOWN", "EC_NoError", TimeInForce.GTC, market) is OrderStatus.EXPIRED
    assert (
        order_status("Cancelled", "UNKNOWN", "EC_PostOnlyWillTakeLiquidity", TimeInForce.POST_ONLY, limit)
        is OrderStatus.REJECTED
    )
    assert order_status("Cancelled", "CancelByReduceOnly", "", TimeInForce.GTC, limit) is OrderStatus.EXPIRED
    assert order_status("PartiallyFilledCanceled", "UNKNOWN", "", TimeInForce.GTC, market) is OrderStatus.EXPIRED
    assert order_status("Untriggered", "", "", TimeInForce.GTC, limit) is OrderStatus.NEW
    with pytest.raises(MalformedPayload):
        order_status("Exploded", "", "", TimeInForce.GTC, limit)


def test_wallet_and_positions() -> None:
    [account] = result("http_wallet_balance.json", rs.WalletBalance).list
    positions = parse_positions(result("http_position_list.json", rs.PositionList).list, SymbolMap())
    assert [p.key.symbol for p in positions] == ["BTCUSDT"]  # the flat ETHUSDT one is left out
    short = positions[0]
    assert short.size == D("-0.300") and short.entry_price == D("27464.50") and short.leverage == 10
    assert short.liquidation_price == 0 and short.updated_ts_ms == 1697673600012
    snap = parse_account(account, positions, settle_coins=["USDT"], ts_ms=7)
    usdt = snap.balance("USDT")
    assert usdt is not None and usdt.free == D("10149.27") and usdt.locked == D("100")
    margin = snap.margin_asset("USDT")
    assert margin is not None and margin.initial_margin == D("128.18") and margin.margin_balance == D("10250.12")
    assert margin.available_balance == D("10250.12") - D("128.18") - D("100") and margin.maint_margin == D("2.5")
    assert snap.margin_asset("BTC") is None and snap.positions == tuple(positions)


def test_funding() -> None:
    [ticker] = result("http_tickers_linear.json", rs.Tickers).list
    rate = parse_funding_rate(ticker, PERP, 0, 99)
    assert rate.rate == D("0.0001") and rate.interval_ms == 8 * 3_600_000 and rate.next_funding_ts_ms == 1760342400000
    assert rate.mark_price == D("64212.31") and rate.rate_per_hour() == D("0.0000125")
    assert parse_funding_rate(ticker, PERP, 3_600_000, 99).interval_ms == 3_600_000  # instruments-info wins
    records = [parse_funding_record(r, PERP) for r in result("http_funding_history.json", rs.FundingHistory).list]
    assert records[1].rate == D("-0.00005") and records[1].funding_ts_ms == 1672012800000


def test_error_envelope_head() -> None:
    head = rs.HEAD_DECODER.decode((FIX / "http_error_10002.json").read_bytes())
    assert head.retCode == 10002 and "recv_window" in head.retMsg


def test_order_params() -> None:
    limit = order_params(
        OrderRequest(
            key=PERP,
            side=Side.BUY,
            type=OrderType.LIMIT,
            qty=D("0.010"),
            price=D("64000.0"),
            tif=TimeInForce.POST_ONLY,
            reduce_only=True,
        ),
        "BTCUSDT",
        "a-1",
    )
    assert limit == {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": "0.01",  # exact, never trailing zeros
        "price": "64000",
        "timeInForce": "PostOnly",
        "orderLinkId": "a-1",
        "positionIdx": 0,
        "reduceOnly": True,
    }
    market = order_params(OrderRequest(key=SPOT, side=Side.BUY, type=OrderType.MARKET, qty=D("1E-3")), "BTCUSDT", "b")
    assert market["marketUnit"] == "baseCoin" and market["qty"] == "0.001" and "timeInForce" not in market
    with pytest.raises(InvalidRequest):
        order_params(
            OrderRequest(key=SPOT, side=Side.SELL, type=OrderType.MARKET, qty=D(1), reduce_only=True), "BTCUSDT", "c"
        )
    with pytest.raises(InvalidRequest):
        order_params(OrderRequest(key=PERP, side=Side.SELL, type=OrderType.LIMIT, qty=D(1)), "BTCUSDT", "d")


@given(st.decimals(min_value=D("0.00000001"), max_value=D("100000"), places=8))
def test_quantities_round_trip_exactly(qty: Decimal) -> None:
    params = order_params(OrderRequest(key=PERP, side=Side.SELL, type=OrderType.MARKET, qty=qty), "BTCUSDT", "x")
    assert D(str(params["qty"])) == qty and "E" not in str(params["qty"])
