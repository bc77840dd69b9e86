"""Binance REST payloads (fixtures in the documented shapes) → domain objects, exact Decimals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.binance import rest_schemas as rs
from exchanges.binance.parse import (
    DEFAULT_FUNDING_INTERVAL_MS,
    funding_intervals,
    futures_order_params,
    order_query_params,
    parse_account,
    parse_depth,
    parse_funding_rate,
    parse_funding_record,
    parse_futures_order,
    parse_perp_instruments,
    parse_positions,
    parse_spot_instruments,
    parse_spot_order,
    perp_key,
    spot_key,
    spot_order_params,
)
from exchanges.errors import InvalidRequest, MalformedPayload
from strategy_client.model import (
    HOUR_MS,
    BookLevel,
    Exchange,
    InstrumentKey,
    InstrumentStatus,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

FIXTURES = Path(__file__).parent / "fixtures"
D = Decimal


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_keys() -> None:
    assert spot_key("BTCUSDT") == InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
    assert perp_key("BTCUSDT") == InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


def test_spot_exchange_info_to_instruments() -> None:
    info = rs.SPOT_EXCHANGE_INFO_DECODER.decode(raw("http_get_api_v3_exchangeInfo.json"))
    assert info.rateLimits[0] == rs.RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 6000)
    instruments, bad = parse_spot_instruments(info)
    assert bad == []
    btc, ltc = instruments
    assert btc.key == spot_key("BTCUSDT")
    assert (btc.base, btc.quote, btc.settle) == ("BTC", "USDT", "USDT")
    assert btc.tick_size == D("0.01000000") and str(btc.tick_size) == "0.01000000"
    assert btc.min_price == D("0.01") and btc.max_price == D("1000000")
    assert btc.step_size == D("0.00001") and btc.min_qty == D("0.00001") and btc.max_qty == D("9000")
    assert btc.min_notional == D("5")  # NOTIONAL filter
    # spot MARKET_LOT_SIZE step 0 = fall back to LOT_SIZE
    assert btc.market_step_size == 0 and btc.market_max_qty == D("83.795")
    assert btc.market_filters() == (D("0.00001"), D("0.00001"), D("83.795"))
    assert btc.status is InstrumentStatus.TRADING
    # legacy MIN_NOTIONAL filter, BREAK status
    assert ltc.min_notional == D("0.0001")
    assert ltc.status is InstrumentStatus.HALTED
    assert ltc.market_step_size == 0 and ltc.market_max_qty == 0


def test_futures_exchange_info_only_perpetuals() -> None:
    info = rs.FUTURES_EXCHANGE_INFO_DECODER.decode(raw("http_get_fapi_v1_exchangeInfo.json"))
    perps, bad = parse_perp_instruments(info)
    assert bad == []
    assert [p.key for p in perps] == [perp_key("BTCUSDT"), perp_key("ETHUSDT")]
    btc, eth = perps
    assert btc.tick_size == D("0.10") and btc.min_price == D("261.10") and btc.max_price == D("809484")
    assert btc.step_size == D("0.001") and btc.min_qty == D("0.001") and btc.max_qty == D("1000")
    assert btc.market_step_size == D("0.001") and btc.market_max_qty == D("120")
    assert btc.min_notional == D("100")  # futures MIN_NOTIONAL.notional
    assert btc.settle == "USDT" and btc.contract_size == 1
    assert eth.status is InstrumentStatus.HALTED  # SETTLING


def test_symbol_without_lot_size_is_reported_not_fatal() -> None:
    info = rs.SPOT_EXCHANGE_INFO_DECODER.decode(
        b'{"symbols":[{"symbol":"XUSDT","status":"TRADING","baseAsset":"X","quoteAsset":"USDT",'
        b'"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.1","maxPrice":"0","tickSize":"0.1"}]}]}'
    )
    assert parse_spot_instruments(info) == ([], ["XUSDT"])


def test_depth_rest_spot_and_futures() -> None:
    spot = parse_depth(
        rs.DEPTH_DECODER.decode(raw("http_get_api_v3_depth.json")),
        spot_key("BTCUSDT"),
        local_ts_ns=5,
        fallback_ts_ms=1752148800999,
    )
    assert spot.sequence == 1027024
    assert spot.bids[0] == BookLevel(D("64250.10000000"), D("0.51200000"))
    assert spot.asks[-1] == BookLevel(D("64252.5"), D("0.31"))
    assert spot.venue_ts_ms == 1752148800999 and spot.local_ts_ns == 5
    assert spot.spread == D("0.01")
    fut = parse_depth(
        rs.DEPTH_DECODER.decode(raw("http_get_fapi_v1_depth.json")),
        perp_key("BTCUSDT"),
        local_ts_ns=1,
        levels=3,
    )
    assert fut.venue_ts_ms == 1752148800123 and fut.sequence == 8841152047
    assert len(fut.bids) == 3 and len(fut.asks) == 3
    assert fut.best_ask == BookLevel(D("64250.20"), D("0.840"))


def test_spot_order_full_response() -> None:
    order = parse_spot_order(rs.SPOT_ORDER_DECODER.decode(raw("http_post_api_v3_order_full.json")))
    assert order.key == spot_key("BTCUSDT")
    assert order.client_id == "bot-7f3a-002" and order.venue_id == "28457190"
    assert order.side is Side.BUY and order.type is OrderType.LIMIT and order.tif is TimeInForce.GTC
    assert order.price == D("64250.10000000") and order.qty == D("0.01")
    assert order.filled_qty == D("0.004")
    assert order.avg_price == D("64250.1")  # cummulativeQuoteQty / executedQty
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.created_ts_ms == order.updated_ts_ms == 1752148801230
    fills = rs.SPOT_ORDER_DECODER.decode(raw("http_post_api_v3_order_full.json")).fills
    assert fills == [rs.SpotFill(D("64250.1"), D("0.004"), D("0.000004"), "BTC", 3320145)]


def test_spot_cancel_uses_orig_client_order_id() -> None:
    order = parse_spot_order(rs.SPOT_ORDER_DECODER.decode(raw("http_delete_api_v3_order.json")))
    assert order.client_id == "bot-7f3a-002"  # not the cancel's own id
    assert order.status is OrderStatus.CANCELED and order.is_final
    assert order.remaining_qty == D("0.006")


def test_spot_limit_maker_is_post_only() -> None:
    order = parse_spot_order(rs.SPOT_ORDER_DECODER.decode(raw("http_get_api_v3_order.json")))
    assert order.type is OrderType.LIMIT and order.tif is TimeInForce.POST_ONLY
    assert order.side is Side.SELL and order.avg_price is None
    assert order.created_ts_ms == 1752148790000


def test_spot_stop_order_is_not_representable() -> None:
    orders = rs.SPOT_ORDERS_DECODER.decode(raw("http_get_api_v3_openOrders.json"))
    assert parse_spot_order(orders[0]).tif is TimeInForce.POST_ONLY
    with pytest.raises(MalformedPayload, match="STOP_LOSS_LIMIT"):
        parse_spot_order(orders[1])


def test_futures_order_objects() -> None:
    new = parse_futures_order(rs.FUTURES_ORDER_DECODER.decode(raw("http_post_fapi_v1_order.json")))
    assert new.key == perp_key("BTCUSDT")
    assert (new.client_id, new.venue_id) == ("bot-7f3a-001", "4120557001")
    assert new.price == D("64250.10") and new.qty == D("0.010") and new.filled_qty == 0
    assert new.status is OrderStatus.NEW and new.avg_price is None and not new.reduce_only
    assert new.updated_ts_ms == 1752148800456
    filled = parse_futures_order(rs.FUTURES_ORDER_DECODER.decode(raw("http_get_fapi_v1_order.json")))
    assert filled.type is OrderType.MARKET and filled.price is None
    assert filled.avg_price == D("64249.95") and filled.filled_qty == D("0.002")
    assert filled.status is OrderStatus.FILLED and filled.reduce_only
    assert filled.created_ts_ms == 1752148802000 and filled.updated_ts_ms == 1752148802001
    gtx = parse_futures_order(rs.FUTURES_ORDERS_DECODER.decode(raw("http_get_fapi_v1_openOrders.json"))[0])
    assert gtx.tif is TimeInForce.POST_ONLY and gtx.price == D("64300.00")


def test_futures_avg_price_falls_back_to_cum_quote() -> None:
    o = msgspec.structs.replace(
        rs.FUTURES_ORDER_DECODER.decode(raw("http_get_fapi_v1_order.json")), avgPrice=D(0)
    )
    assert parse_futures_order(o).avg_price == D("128.49990") / D("0.002")


@pytest.mark.parametrize(
    ("venue", "ours"),
    [
        ("NEW", OrderStatus.NEW),
        ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED),
        ("FILLED", OrderStatus.FILLED),
        ("CANCELED", OrderStatus.CANCELED),
        ("REJECTED", OrderStatus.REJECTED),
        ("EXPIRED", OrderStatus.EXPIRED),
        ("EXPIRED_IN_MATCH", OrderStatus.EXPIRED),
    ],
)
def test_order_status_map(venue: str, ours: OrderStatus) -> None:
    base = rs.FUTURES_ORDER_DECODER.decode(raw("http_post_fapi_v1_order.json"))
    assert parse_futures_order(msgspec.structs.replace(base, status=venue)).status is ours


def test_unknown_status_is_malformed() -> None:
    base = rs.FUTURES_ORDER_DECODER.decode(raw("http_post_fapi_v1_order.json"))
    with pytest.raises(MalformedPayload):
        parse_futures_order(msgspec.structs.replace(base, status="HALF_DONE"))


def test_account_snapshot() -> None:
    spot = rs.SPOT_ACCOUNT_DECODER.decode(raw("http_get_api_v3_account.json"))
    fut = rs.FUTURES_ACCOUNT_DECODER.decode(raw("http_get_fapi_v3_account.json"))
    v3 = rs.POSITION_RISK_V3_DECODER.decode(raw("http_get_fapi_v3_positionRisk.json"))
    snap = parse_account(spot, fut, parse_positions(v3, {"BTCUSDT": 20}), ts_ms=7)
    assert snap.exchange is Exchange.BINANCE and snap.ts_ms == 7
    assert [b.asset for b in snap.balances] == ["BTC", "USDT"]  # zero BNB dropped
    usdt = snap.balance("USDT")
    assert usdt is not None and usdt.free == D("742.9996") and usdt.locked == D("385.5006")
    assert usdt.total == D("1128.5002")
    margin = snap.margin_asset("USDT")
    assert margin is not None
    assert margin.wallet_balance == D("10250.36") and margin.available_balance == D("10237.49499")
    assert margin.maint_margin == D("1.029991") and margin.initial_margin == D("12.87501")
    pos = snap.position(perp_key("BTCUSDT"))
    assert pos is not None and pos.leverage == 20


def test_positions_v3_with_leverage_and_v2() -> None:
    v3 = rs.POSITION_RISK_V3_DECODER.decode(raw("http_get_fapi_v3_positionRisk.json"))
    v2 = rs.POSITION_RISK_V2_DECODER.decode(raw("http_get_fapi_v2_positionRisk.json"))
    positions = parse_positions(v3, {p.symbol: int(p.leverage) for p in v2})
    assert [p.key.symbol for p in positions] == ["BTCUSDT", "ETHUSDT"]  # flat SOL dropped
    btc, eth = positions
    assert btc.size == D("0.004") and btc.entry_price == D("64250.10") and btc.mark_price == D("64252.6")
    assert btc.liquidation_price == 0 and btc.leverage == 20 and btc.margin_mode == "cross"
    assert btc.unrealized_pnl == D("0.01") and btc.updated_ts_ms == 1752148801240
    assert eth.size == D("-0.015") and eth.liquidation_price == D("68123.45")
    assert eth.margin_mode == "isolated"
    from_v2 = parse_positions(v2, include_flat=True)
    assert [p.leverage for p in from_v2] == [20, 20, 10]
    assert from_v2[1].margin_mode == "isolated" and from_v2[2].is_flat


def test_hedge_mode_legs_are_signed_by_side() -> None:
    v3 = rs.POSITION_RISK_V3_DECODER.decode(
        b'[{"symbol":"BTCUSDT","positionSide":"SHORT","positionAmt":"0.5"},'
        b'{"symbol":"BTCUSDT","positionSide":"LONG","positionAmt":"0.25"}]'
    )
    assert [p.size for p in parse_positions(v3)] == [D("-0.5"), D("0.25")]


def test_funding_rate_and_interval() -> None:
    premium = rs.PREMIUM_INDEX_DECODER.decode(raw("http_get_fapi_v1_premiumIndex.json"))
    intervals = funding_intervals(rs.FUNDING_INFO_DECODER.decode(raw("http_get_fapi_v1_fundingInfo.json")))
    assert intervals == {"BLZUSDT": 4 * HOUR_MS, "ETHUSDT": HOUR_MS}
    rate = parse_funding_rate(premium, intervals.get("BTCUSDT", DEFAULT_FUNDING_INTERVAL_MS))
    assert rate.key == perp_key("BTCUSDT")
    assert rate.rate == D("0.0001") and rate.interval_ms == 8 * HOUR_MS
    assert rate.mark_price == D("64251.33") and rate.index_price == D("64239.87")
    assert rate.next_funding_ts_ms == 1752163200000 and rate.ts_ms == 1752148800000
    assert rate.rate_per_hour() == D("0.0000125")


def test_premium_index_of_delivery_contract_has_no_rate() -> None:
    rows = rs.PREMIUM_INDEX_LIST_DECODER.decode(raw("http_get_fapi_v1_premiumIndex_all.json"))
    assert parse_funding_rate(rows[0]).rate == D("0.0001")
    with pytest.raises(MalformedPayload):
        parse_funding_rate(rows[1])


def test_funding_history_records() -> None:
    rows = rs.FUNDING_RATE_HIST_DECODER.decode(raw("http_get_fapi_v1_fundingRate.json"))
    records = [parse_funding_record(r) for r in rows]
    assert [r.funding_ts_ms for r in records] == [1752105600000, 1752134400000, 1752148800000]
    assert records[1].rate == D("-0.00002113") and records[1].mark_price == D("64190")
    assert records[2].mark_price is None  # empty string in old records
    assert records[0].key == perp_key("BTCUSDT")


def test_other_documented_shapes_decode() -> None:
    lev = rs.LEVERAGE_DECODER.decode(raw("http_post_fapi_v1_leverage.json"))
    assert lev == rs.LeverageResponse(20, "BTCUSDT", D("25000000"))
    income = rs.INCOME_DECODER.decode(raw("http_get_fapi_v1_income.json"))
    assert income[0].income == D("-0.02570104") and income[0].tradeId == ""
    assert income[1].tradeId == "698759120" and income[2].tradeId == 698759120
    key = rs.LISTEN_KEY_DECODER.decode(raw("http_post_fapi_v1_listenKey.json")).listenKey
    assert key.startswith("pqia91ma")
    assert rs.SERVER_TIME_DECODER.decode(raw("http_get_api_v3_time.json")).serverTime == 1752148800123
    assert rs.ERROR_DECODER.decode(raw("http_error_invalid_symbol.json")) == rs.ErrorBody(
        -1121, "Invalid symbol."
    )


# ---------------------------------------------------------------------- domain → request params


def req(**kw: object) -> OrderRequest:
    base: dict[str, object] = {
        "key": spot_key("BTCUSDT"),
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "qty": D("0.01000"),
        "price": D("64250.10"),
    }
    base.update(kw)
    return OrderRequest(**base)  # type: ignore[arg-type]


def test_spot_order_params() -> None:
    assert spot_order_params(req(), "c1") == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",  # no instrument given: exact, no trailing zeros (-1111 on Binance)
        "price": "64250.1",
        "newClientOrderId": "c1",
        "newOrderRespType": "FULL",
    }
    maker = spot_order_params(req(tif=TimeInForce.POST_ONLY, side=Side.SELL), "c2")
    assert maker["type"] == "LIMIT_MAKER" and "timeInForce" not in maker and maker["side"] == "SELL"
    market = spot_order_params(req(type=OrderType.MARKET, price=None, qty=D("1E-5")), "c3")
    assert market["type"] == "MARKET" and market["quantity"] == "0.00001" and "price" not in market
    assert spot_order_params(req(tif=TimeInForce.IOC), "c")["timeInForce"] == "IOC"


def test_futures_order_params() -> None:
    p = futures_order_params(req(key=perp_key("BTCUSDT"), tif=TimeInForce.POST_ONLY, reduce_only=True), "c1")
    assert p == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTX",
        "quantity": "0.01",  # no instrument given: exact, no trailing zeros (-1111 on Binance)
        "price": "64250.1",
        "reduceOnly": "true",
        "newClientOrderId": "c1",
        "newOrderRespType": "RESULT",
    }
    fok = futures_order_params(req(key=perp_key("BTCUSDT"), tif=TimeInForce.FOK), "c")
    assert fok["timeInForce"] == "FOK" and "reduceOnly" not in fok


@pytest.mark.parametrize(
    ("build", "bad"),
    [
        (spot_order_params, req(reduce_only=True)),
        (spot_order_params, req(key=perp_key("BTCUSDT"))),
        (futures_order_params, req()),
        (spot_order_params, req(price=None)),
        (spot_order_params, req(type=OrderType.MARKET, tif=TimeInForce.POST_ONLY)),
    ],
)
def test_invalid_requests_rejected_locally(build: object, bad: OrderRequest) -> None:
    with pytest.raises(InvalidRequest):
        build(bad, "cid")  # type: ignore[operator]


def test_order_query_params() -> None:
    assert order_query_params("BTCUSDT", client_id="a", venue_id="12") == {
        "symbol": "BTCUSDT",
        "orderId": "12",
    }
    assert order_query_params("BTCUSDT", client_id="a", venue_id=None) == {
        "symbol": "BTCUSDT",
        "origClientOrderId": "a",
    }
    with pytest.raises(InvalidRequest):
        order_query_params("BTCUSDT", client_id=None, venue_id=None)
    with pytest.raises(InvalidRequest):
        order_query_params("BTCUSDT", client_id=None, venue_id="abc")


@given(
    price=st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8),
    qty=st.decimals(min_value=D("0.00000001"), max_value=D("100000"), places=8),
)
def test_params_are_plain_and_exact(price: Decimal, qty: Decimal) -> None:
    """Decimals go out without exponents and parse back to the same value."""
    p = futures_order_params(req(key=perp_key("BTCUSDT"), price=price, qty=qty), "c")
    assert "E" not in p["price"] and "E" not in p["quantity"]
    assert D(p["price"]) == price and D(p["quantity"]) == qty
