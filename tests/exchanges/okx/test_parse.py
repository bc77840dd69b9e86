"""Pure OKX → model translations on documented payloads: contracts become base units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.base import ExecType
from exchanges.errors import InvalidRequest, MalformedPayload
from exchanges.okx.parse import (
    order_body,
    parse_funding_rate,
    parse_instruments,
    parse_order,
    parse_positions,
)
from exchanges.okx.rest_schemas import (
    FundingRateInfo,
    InstrumentInfo,
    OkxOrder,
    OpItem,
    PositionInfo,
    decoder,
)
from exchanges.okx.symbols import SymbolMap
from exchanges.okx.user_stream import _exec_type
from exchanges.okx.ws_schemas import decode_account, decode_orders, decode_positions
from strategy_client.model import (
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

from .fixtures import fixture

PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.SPOT)


def _symbols() -> SymbolMap:
    infos = decoder(InstrumentInfo).decode(fixture("http_get_public_instruments_swap")).data
    infos += decoder(InstrumentInfo).decode(fixture("http_get_public_instruments_spot")).data
    _, venue, _ = parse_instruments(infos)
    return SymbolMap(venue)


def test_instruments_in_base_units() -> None:
    infos = decoder(InstrumentInfo).decode(fixture("http_get_public_instruments_swap")).data
    infos += decoder(InstrumentInfo).decode(fixture("http_get_public_instruments_spot")).data
    instruments, venue, bad = parse_instruments(infos)
    by_key = {i.key: i for i in instruments}
    assert set(by_key) == {PERP, SPOT}  # the inverse swap is not traded, XYZ is malformed
    assert bad == ["XYZ-USDT"]
    perp = by_key[PERP]
    assert perp.base == "BTC" and perp.quote == perp.settle == "USDT"
    assert perp.step_size == Decimal("0.0001") and perp.min_qty == Decimal("0.0001")  # lotSz/minSz × ctVal
    assert perp.contract_size == Decimal("0.01") and perp.market_max_qty == Decimal("120")
    assert perp.tick_size == Decimal("0.1") and perp.status is InstrumentStatus.TRADING
    assert by_key[SPOT].step_size == Decimal("0.00000001") and by_key[SPOT].contract_size == 1
    assert {v.inst_id for v in venue} == {"BTC-USDT-SWAP", "BTC-USDT"}


def test_order_push_with_fill() -> None:
    raw = decode_orders(fixture("ws_orders_partial_fill")).data[0]
    order = parse_order(raw, _symbols())
    assert order.key == PERP and order.side is Side.BUY and order.tif is TimeInForce.POST_ONLY
    assert order.qty == Decimal("0.01") and order.filled_qty == Decimal("0.004")  # 1 and 0.4 contracts
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.avg_price == Decimal("64000")
    from exchanges.okx.parse import parse_fill

    fill = parse_fill(raw, order, _symbols())
    assert fill is not None and fill.qty == Decimal("0.004") and fill.trade_id == "1518905529"
    assert fill.fee == Decimal("0.00512") and fill.fee_asset == "USDT" and fill.is_maker  # OKX -0.00512 = paid
    assert _exec_type(raw, order.status, True) is ExecType.TRADE


@pytest.mark.parametrize(
    ("state", "source", "status", "exec_type"),
    [
        ("live", "", OrderStatus.NEW, ExecType.NEW),
        ("filled", "", OrderStatus.FILLED, ExecType.TRADE),
        ("canceled", "1", OrderStatus.CANCELED, ExecType.CANCELED),
        ("canceled", "31", OrderStatus.EXPIRED, ExecType.EXPIRED),
        ("canceled", "14", OrderStatus.EXPIRED, ExecType.EXPIRED),
        ("mmp_canceled", "", OrderStatus.CANCELED, ExecType.CANCELED),
        ("canceling", "", OrderStatus.NEW, ExecType.AMENDED),
    ],
)
def test_order_states(state: str, source: str, status: OrderStatus, exec_type: ExecType) -> None:
    raw = OkxOrder(
        instType="SPOT", instId="BTC-USDT", ordId="1", clOrdId="tbZ0a", px="50000", sz="0.01",
        ordType="limit", side="sell", state=state, cancelSource=source,
    )  # fmt: skip
    order = parse_order(raw, _symbols())
    assert order.status is status and order.client_id == "tb-a"
    assert _exec_type(raw, order.status, False) is exec_type
    if source == "31":
        assert "post-only" in order.reject_reason


def test_unknown_things_are_malformed() -> None:
    base = {"instType": "SPOT", "instId": "BTC-USDT", "ordId": "1", "clOrdId": "", "px": "1", "sz": "1", "side": "buy"}
    with pytest.raises(MalformedPayload, match="ordType"):
        parse_order(OkxOrder(**base, ordType="twap", state="live"), _symbols())
    with pytest.raises(MalformedPayload, match="state"):
        parse_order(OkxOrder(**base, ordType="limit", state="frozen"), _symbols())
    with pytest.raises(MalformedPayload, match="field accFillSz"):
        parse_order(OkxOrder(**base, ordType="limit", state="live", accFillSz="x"), _symbols())


def test_positions_and_account() -> None:
    rows = decode_positions(fixture("ws_positions_event")).data
    (pos,) = parse_positions(rows, _symbols())
    assert pos.key == PERP and pos.size == Decimal("0.004") and pos.leverage == 5
    assert pos.liquidation_price == Decimal("51411.2") and pos.entry_price == Decimal("64000")
    hedge = [
        PositionInfo(instType="SWAP", instId="BTC-USDT-SWAP", pos="3", posSide="long", avgPx="64000"),
        PositionInfo(instType="SWAP", instId="BTC-USDT-SWAP", pos="1", posSide="short", avgPx="65000"),
    ]
    (net,) = parse_positions(hedge, _symbols())
    assert net.size == Decimal("0.02") and net.entry_price == Decimal("64000")
    from exchanges.okx.parse import parse_balances, parse_margin

    balance = decode_account(fixture("ws_account")).data[0]
    (usdt,) = parse_balances(balance)
    assert usdt.free == Decimal("9980.44") and usdt.locked == Decimal("268.83")
    (margin,) = parse_margin(balance, {"USDT"})
    assert margin.wallet_balance == Decimal("10249.27") and margin.margin_balance == Decimal("10250.12")


def test_funding_interval_from_settlement_times() -> None:
    raw = decoder(FundingRateInfo).decode(fixture("http_get_public_funding_rate")).data[0]
    inst = _symbols().require(PERP)
    rate = parse_funding_rate(raw, inst, Decimal("64000"), Decimal("63990"), ts_ms=0)
    assert rate.rate == Decimal("0.0000812") and rate.interval_ms == 8 * 3_600_000
    assert rate.next_funding_ts_ms == 1760342400000 and rate.rate_per_hour() == Decimal("0.0000812") / 8
    four_hours = FundingRateInfo(
        instId="BTC-USDT-SWAP", fundingRate="0.0001", fundingTime="0", nextFundingTime="14400000"
    )
    assert parse_funding_rate(four_hours, inst, Decimal(1), Decimal(1), ts_ms=0).interval_ms == 4 * 3_600_000


def test_order_bodies() -> None:
    symbols = _symbols()
    perp = symbols.require(PERP)
    req = OrderRequest(key=PERP, side=Side.SELL, type=OrderType.LIMIT, qty=Decimal("0.0123"), price=Decimal("64000.5"),
                       tif=TimeInForce.POST_ONLY, reduce_only=True)  # fmt: skip
    body = order_body(req, perp, "tb-1")
    assert body == {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "sell", "ordType": "post_only",
                    "sz": "1.23", "clOrdId": "tbZ01", "px": "64000.5", "reduceOnly": True}  # fmt: skip
    spot = symbols.require(SPOT)
    market = order_body(OrderRequest(key=SPOT, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.5")), spot, "x")
    assert market["tgtCcy"] == "base_ccy" and market["sz"] == "0.5" and "px" not in market
    with pytest.raises(InvalidRequest, match=r"step 0.0001"):
        order_body(OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.00015")), perp, "x")
    with pytest.raises(InvalidRequest, match="32"):
        order_body(OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01")), perp, "a-" * 12)


def test_place_replies() -> None:
    ok = decoder(OpItem).decode(fixture("http_post_trade_order"))
    assert ok.code == "0" and ok.data[0].ordId == "2497956918703120384"
    refused = decoder(OpItem).decode(fixture("http_post_trade_order_rejected"))
    assert refused.code == "1" and refused.data[0].sCode == "51008" and refused.data[0].subCode == "1001"
