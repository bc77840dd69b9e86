"""Binance WS payloads (documented shapes, fixtures/ws_*.json) → domain model."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.base import AccountUpdate, ExecType, OrderUpdate
from exchanges.binance.ws_parse import (
    PayloadError,
    listen_key_expired_ms,
    parse_account_config_update,
    parse_account_update,
    parse_execution_report,
    parse_futures_book_ticker,
    parse_futures_depth,
    parse_margin_call,
    parse_mark_price,
    parse_order_trade_update,
    parse_outbound_account_position,
    parse_spot_book_ticker,
    parse_spot_depth,
    symbol_from_stream,
)
from exchanges.binance.ws_schemas import (
    AccountConfigUpdate,
    AccountUpdateEvent,
    Combined,
    ControlReply,
    ExecutionReport,
    FuturesBookTicker,
    FuturesDepth,
    FuturesUserEvent,
    ListenKeyExpiredEvent,
    MarginCallEvent,
    MarkPriceUpdate,
    OrderTradeUpdate,
    OutboundAccountPosition,
    SpotBookTicker,
    SpotDepthDiff,
    SpotDepthPartial,
    SpotUserEvent,
    SubscribeResult,
    UserEventEnvelope,
    WsApiEnvelope,
)
from strategy_client.model import (
    BookLevel,
    Exchange,
    InstrumentKey,
    MarketKind,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

FIXTURES = Path(__file__).parent / "fixtures"
RECV_NS = 1_752_148_801_300_000_000
SPOT_BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
PERP_BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
D = Decimal


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def combined(stream: str, name: str) -> bytes:
    return b'{"stream":"' + stream.encode() + b'","data":' + raw(name).strip() + b"}"


def test_spot_partial_depth_takes_symbol_from_the_stream_name() -> None:
    msg = msgspec.json.decode(
        combined("btcusdt@depth5@100ms", "ws_spot_depth5.json"), type=Combined[SpotDepthPartial]
    )
    book = parse_spot_depth(msg.data, symbol_from_stream(msg.stream), RECV_NS)
    assert book.key == SPOT_BTC
    assert book.bids == (BookLevel(D("64250.10"), D("0.512")),)
    assert book.asks == (BookLevel(D("64250.11"), D("1.004")),)
    assert book.sequence == 160
    assert book.local_ts_ns == RECV_NS
    assert book.venue_ts_ms == RECV_NS // 1_000_000  # spot partial depth has no event time


def test_raw_spot_partial_depth_has_no_symbol_field() -> None:
    msg = msgspec.json.decode(raw("ws_spot_depth5.json"), type=SpotDepthPartial)
    assert msg.lastUpdateId == 160
    assert "s" not in json.loads(raw("ws_spot_depth5.json"))


def test_futures_partial_depth() -> None:
    msg = msgspec.json.decode(raw("ws_futures_depth5.json"), type=FuturesDepth)
    book = parse_futures_depth(msg, RECV_NS)
    assert book.key == PERP_BTC
    assert book.venue_ts_ms == 1752148800123
    assert book.sequence == 8841152047
    assert (msg.U, msg.pu, msg.T) == (8841152001, 8841151990, 1752148800119)
    assert book.best_bid == BookLevel(D("64250.10"), D("3.512"))
    assert book.best_ask == BookLevel(D("64250.20"), D("0.840"))


def test_spot_diff_depth_decodes_with_zero_quantity_levels() -> None:
    msg = msgspec.json.decode(raw("ws_spot_depth_diff.json"), type=SpotDepthDiff)
    assert (msg.U, msg.u, msg.s) == (157, 160, "BTCUSDT")
    assert msg.b[0].qty == 0 and msg.a[0] == BookLevel(D("64251.00"), D("2.000"))


def test_book_tickers_spot_and_futures() -> None:
    spot = parse_spot_book_ticker(
        msgspec.json.decode(raw("ws_spot_book_ticker.json"), type=SpotBookTicker), RECV_NS
    )
    assert spot.key == SPOT_BTC and spot.sequence == 400900217
    assert spot.best_bid == BookLevel(D("64250.10"), D("3.512"))
    assert spot.best_ask == BookLevel(D("64250.11"), D("1.004"))
    fut = parse_futures_book_ticker(
        msgspec.json.decode(raw("ws_futures_book_ticker.json"), type=FuturesBookTicker), RECV_NS
    )
    assert fut.key == PERP_BTC and fut.venue_ts_ms == 1752148800123
    assert fut.spread == D("0.10")


def test_mark_price_to_funding_rate() -> None:
    msg = msgspec.json.decode(raw("ws_mark_price.json"), type=MarkPriceUpdate)
    rate = parse_mark_price(msg, 4 * 3_600_000)
    assert rate.key == PERP_BTC
    assert rate.rate == D("0.00010000")
    assert rate.mark_price == D("64251.33") and rate.index_price == D("64239.87")
    assert rate.next_funding_ts_ms == 1752163200000 and rate.ts_ms == 1752148800000
    assert rate.interval_ms == 4 * 3_600_000
    assert parse_mark_price(msg).interval_ms == 8 * 3_600_000
    with pytest.raises(PayloadError):
        parse_mark_price(msg, 0)


def test_order_trade_update_trade_has_fill_with_fee_maker_and_pnl() -> None:
    event = msgspec.json.decode(raw("ws_order_trade_update.json"), type=FuturesUserEvent)
    assert isinstance(event, OrderTradeUpdate)
    update = parse_order_trade_update(event, RECV_NS)
    assert isinstance(update, OrderUpdate)
    order = update.order
    assert update.exec_type is ExecType.TRADE
    assert order.key == PERP_BTC and order.client_id == "bot-7f3a-001" and order.venue_id == "4120557001"
    assert (order.side, order.type, order.tif) == (Side.BUY, OrderType.LIMIT, TimeInForce.GTC)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert (order.qty, order.filled_qty, order.price, order.avg_price) == (
        D("0.010"),
        D("0.004"),
        D("64250.10"),
        D("64250.10"),
    )
    assert order.updated_ts_ms == 1752148801230
    fill = update.fill
    assert fill is not None
    assert fill.trade_id == "698759120" and fill.qty == D("0.004") and fill.price == D("64250.10")
    assert fill.fee == D("0.05140008") and fill.fee_asset == "USDT"
    assert fill.is_maker is True and fill.realized_pnl == D("0")
    assert update.venue_ts_ms == 1752148801234 and update.local_ts_ns == RECV_NS


def _futures_order(**changes: object) -> OrderTradeUpdate:
    doc = json.loads(raw("ws_order_trade_update.json"))
    doc["o"].update(changes)
    event = msgspec.json.decode(json.dumps(doc).encode(), type=FuturesUserEvent)
    assert isinstance(event, OrderTradeUpdate)
    return event


def test_order_trade_update_new_post_only_without_fee_fields() -> None:
    doc = json.loads(raw("ws_order_trade_update.json"))
    for field in ("N", "n"):
        del doc["o"][field]
    doc["o"].update({"x": "NEW", "X": "NEW", "f": "GTX", "l": "0", "z": "0", "ap": "0", "R": True})
    event = msgspec.json.decode(json.dumps(doc).encode(), type=FuturesUserEvent)
    assert isinstance(event, OrderTradeUpdate)
    update = parse_order_trade_update(event, RECV_NS)
    assert update.exec_type is ExecType.NEW and update.fill is None
    assert update.order.tif is TimeInForce.POST_ONLY and update.order.reduce_only
    assert update.order.avg_price is None and update.order.created_ts_ms == 1752148801230


def test_order_trade_update_expired_ioc_reason_and_unknown_status() -> None:
    update = parse_order_trade_update(_futures_order(x="EXPIRED", X="EXPIRED", f="IOC", er="2"), RECV_NS)
    assert update.order.status is OrderStatus.EXPIRED and update.exec_type is ExecType.EXPIRED
    assert update.order.reject_reason == "IOC remainder"
    with pytest.raises(PayloadError) as err:
        parse_order_trade_update(_futures_order(X="NEW_ADL"), RECV_NS)
    assert err.value.kind == "order_status"


def test_account_update_order_reason() -> None:
    event = msgspec.json.decode(raw("ws_account_update_order.json"), type=FuturesUserEvent)
    assert isinstance(event, AccountUpdateEvent)
    update = parse_account_update(event, RECV_NS)
    assert isinstance(update, AccountUpdate)
    assert update.reason == "order" and update.kind is MarketKind.PERP
    assert update.margin[0].asset == "USDT" and update.margin[0].wallet_balance == D("10250.36")
    pos = update.positions[0]
    assert pos.key == PERP_BTC and pos.size == D("0.004") and pos.entry_price == D("64250.10")
    assert pos.unrealized_pnl == D("0.01") and pos.margin_mode == "cross"
    assert update.funding == ()


def test_account_update_funding_fee_cross_takes_the_symbol_from_field_a_s() -> None:
    event = msgspec.json.decode(raw("ws_account_update_funding_fee_cross.json"), type=AccountUpdateEvent)
    update = parse_account_update(event, RECV_NS)
    assert update.reason == "funding_fee" and update.positions == ()
    (payment,) = update.funding
    assert payment.key == PERP_BTC and payment.amount == D("-0.0257") and payment.asset == "USDT"
    assert payment.ts_ms == 1752163200000


def test_account_update_funding_fee_isolated_uses_the_position() -> None:
    event = msgspec.json.decode(raw("ws_account_update_funding_fee_isolated.json"), type=AccountUpdateEvent)
    update = parse_account_update(event, RECV_NS)
    assert update.funding[0].key == PERP_BTC and update.funding[0].amount == D("-0.0257")
    assert update.positions[0].margin_mode == "isolated"


def test_funding_fee_without_symbol_reports_balance_but_no_payment() -> None:
    doc = json.loads(raw("ws_account_update_funding_fee_cross.json"))
    del doc["a"]["S"]
    update = parse_account_update(msgspec.json.decode(json.dumps(doc), type=AccountUpdateEvent), RECV_NS)
    assert update.funding == () and update.margin[0].wallet_balance == D("10250.3343")


def test_listen_key_expired_with_string_event_time() -> None:
    event = msgspec.json.decode(raw("ws_listen_key_expired.json"), type=FuturesUserEvent)
    assert isinstance(event, ListenKeyExpiredEvent)
    assert event.E == "1752152400000"
    assert listen_key_expired_ms(event) == 1752152400000
    numeric = msgspec.json.decode(
        b'{"e":"listenKeyExpired","E":1752152400000,"listenKey":"k"}', type=FuturesUserEvent
    )
    assert isinstance(numeric, ListenKeyExpiredEvent) and listen_key_expired_ms(numeric) == 1752152400000
    with pytest.raises(PayloadError):
        listen_key_expired_ms(ListenKeyExpiredEvent(E="soon"))


def test_margin_call_and_account_config_are_refresh_signals() -> None:
    call = msgspec.json.decode(raw("ws_margin_call.json"), type=FuturesUserEvent)
    assert isinstance(call, MarginCallEvent) and call.p[0].mt == "CROSSED" and call.cw == D("3.16812045")
    assert parse_margin_call(call, RECV_NS).reason == "margin_call"
    config = msgspec.json.decode(raw("ws_account_config_update.json"), type=FuturesUserEvent)
    assert isinstance(config, AccountConfigUpdate) and config.ac is not None and config.ac.l == 25
    assert parse_account_config_update(config, RECV_NS).reason == "account_config_update"


def test_unknown_futures_event_type_is_a_validation_error() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.e"):
        msgspec.json.decode(b'{"e":"GRID_UPDATE","E":1}', type=FuturesUserEvent)


def test_execution_report_trade() -> None:
    envelope = msgspec.json.decode(raw("ws_execution_report.json"), type=UserEventEnvelope)
    assert envelope.subscriptionId == 0
    event = msgspec.json.decode(bytes(envelope.event), type=SpotUserEvent)
    assert isinstance(event, ExecutionReport)
    update = parse_execution_report(event, RECV_NS)
    order = update.order
    assert update.exec_type is ExecType.TRADE
    assert order.key == SPOT_BTC and order.client_id == "bot-7f3a-002" and order.venue_id == "28457190"
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.avg_price == D("64250.10") and order.filled_qty == D("0.00400000")
    assert order.created_ts_ms == 1752148790000
    fill = update.fill
    assert fill is not None
    assert fill.fee == D("0.00000400") and fill.fee_asset == "BTC" and fill.is_maker
    assert fill.trade_id == "3320145" and fill.realized_pnl == 0


def test_execution_report_cancel_uses_original_client_id_and_null_fee_asset() -> None:
    doc = json.loads(raw("ws_execution_report.json"))["event"]
    doc.update(
        {
            "x": "CANCELED",
            "X": "CANCELED",
            "c": "cancel-req-9",
            "C": "bot-7f3a-002",
            "N": None,
            "n": "0",
            "o": "LIMIT_MAKER",
            "t": -1,
        }
    )
    event = msgspec.json.decode(json.dumps(doc), type=SpotUserEvent)
    assert isinstance(event, ExecutionReport)
    update = parse_execution_report(event, RECV_NS)
    assert update.order.client_id == "bot-7f3a-002"
    assert update.order.tif is TimeInForce.POST_ONLY and update.fill is None
    assert update.order.status is OrderStatus.CANCELED and update.exec_type is ExecType.CANCELED


def test_execution_report_market_order_has_no_price() -> None:
    doc = json.loads(raw("ws_execution_report.json"))["event"]
    doc.update({"o": "MARKET", "p": "0.00000000", "x": "NEW", "X": "NEW", "z": "0", "Z": "0"})
    event = msgspec.json.decode(json.dumps(doc), type=ExecutionReport)
    update = parse_execution_report(event, RECV_NS)
    assert update.order.type is OrderType.MARKET and update.order.price is None
    assert update.order.avg_price is None


def test_outbound_account_position() -> None:
    event = msgspec.json.decode(raw("ws_outbound_account_position.json"), type=SpotUserEvent)
    assert isinstance(event, OutboundAccountPosition)
    update = parse_outbound_account_position(event, RECV_NS)
    assert update.kind is MarketKind.SPOT and update.venue_ts_ms == 1752148801230  # u (last account update), not E
    usdt = update.balances[1]
    assert usdt.asset == "USDT" and usdt.free == D("742.99960000") and usdt.locked == D("385.50060000")


def test_ws_api_envelopes_and_control_replies() -> None:
    ok = msgspec.json.decode(raw("ws_api_subscribe_reply.json"), type=WsApiEnvelope)
    assert ok.id == "s1" and ok.status == 200 and ok.error is None
    assert msgspec.json.decode(bytes(ok.result), type=SubscribeResult).subscriptionId == 0
    err = msgspec.json.decode(raw("ws_api_error_reply.json"), type=WsApiEnvelope)
    assert err.status == 400 and err.error is not None and err.error.code == -2010
    event = msgspec.json.decode(raw("ws_execution_report.json"), type=WsApiEnvelope)
    assert event.subscriptionId == 0 and event.id is None and len(event.event) > 0
    control = msgspec.json.decode(raw("ws_control_error.json"), type=ControlReply)
    assert (control.code, control.id) == (2, 1)
    success = msgspec.json.decode(b'{"result":null,"id":7}', type=ControlReply)
    assert success.code is None and bytes(success.result) == b"null"


def test_symbol_from_stream() -> None:
    assert symbol_from_stream("ethusdt@markPrice@1s") == "ETHUSDT"
    with pytest.raises(PayloadError):
        symbol_from_stream("nosymbol")


@given(
    price=st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8),
    qty=st.decimals(min_value=D("0"), max_value=D("100000"), places=8),
    seq=st.integers(min_value=0, max_value=2**62),
)
def test_depth_levels_round_trip_exactly(price: Decimal, qty: Decimal, seq: int) -> None:
    payload = {"lastUpdateId": seq, "bids": [[str(price), str(qty)]], "asks": []}
    msg = msgspec.json.decode(json.dumps(payload).encode(), type=SpotDepthPartial)
    book = parse_spot_depth(msg, "ETHUSDT", RECV_NS)
    assert book.bids[0].price == price and book.bids[0].qty == qty and book.sequence == seq
