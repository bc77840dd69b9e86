"""Bybit WebSocket payloads (fixtures as documented) → domain objects and events."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from exchanges.base import AccountUpdate, ExecType, OrderUpdate, StreamStatus
from exchanges.bybit import ws_schemas as ws
from exchanges.bybit.book import LocalBook
from exchanges.bybit.user_stream import BybitUserStream
from exchanges.bybit.ws_parse import (
    PayloadError,
    TickerState,
    levels,
    order_after_fill,
    order_exec_type,
    parse_fill,
    parse_order_ws,
    parse_position_ws,
    parse_wallet_ws,
)
from exchanges.credentials import Credentials
from exchanges.transport.clock import ServerClock
from exchanges.transport.ws import Frame
from strategy_client.model import InstrumentKey, OrderStatus, TimeInForce

FIX = Path(__file__).parent / "fixtures"
D = Decimal
PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")


def raw(name: str) -> bytes:
    return (FIX / name).read_bytes()


def test_documented_snapshot_and_delta_build_the_book() -> None:
    snap = ws.BOOK_DECODER.decode(raw("ws_orderbook_snapshot.json"))
    delta = ws.BOOK_DECODER.decode(raw("ws_orderbook_delta.json"))
    book = LocalBook(50)
    book.apply(snap.type, levels(snap.data.b, "b"), levels(snap.data.a, "a"), snap.data.u)
    book.apply(delta.type, levels(delta.data.b, "b"), levels(delta.data.a, "a"), delta.data.u)
    bids, asks = book.top(5)
    assert [(lv.price, lv.qty) for lv in bids] == [(D("64210.30"), D("0.500")), (D("64210.20"), D("2.000"))]
    assert asks[0].qty == D("0.500") and book.u == 18521289


def test_tickers_merge_deltas_into_the_snapshot() -> None:
    state = TickerState()
    snap = ws.TICKER_DECODER.decode(raw("ws_tickers_snapshot.json"))
    state.merge(snap.type, snap.data)
    first = state.funding(PERP, 0, snap.ts)
    assert first is not None and first.rate == D("0.0001") and first.interval_ms == 8 * 3_600_000
    delta = ws.TICKER_DECODER.decode(raw("ws_tickers_delta.json"))
    state.merge(delta.type, delta.data)
    merged = state.funding(PERP, 0, delta.ts)
    assert merged is not None and merged.mark_price == D("64215.00") and merged.index_price == D("64230.02")
    assert merged.next_funding_ts_ms == 1760342400000 and merged.ts_ms == 1760325052730
    empty = TickerState()
    empty.merge("delta", delta.data)
    assert empty.funding(PERP, 0, 1) is None  # a delta alone does not make a rate


def test_order_execution_position_wallet() -> None:
    push = ws.PUSH_DECODER.decode(raw("ws_order.json"))
    [item] = ws.ORDERS_DECODER.decode(push.data)
    order = parse_order_ws(item, PERP)
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.tif is TimeInForce.POST_ONLY
    assert (
        order.filled_qty == D("0.004") and order.avg_price == D("64000.0") and order_exec_type(order) is ExecType.TRADE
    )
    [e] = ws.EXECUTIONS_DECODER.decode(ws.PUSH_DECODER.decode(raw("ws_execution.json")).data)
    fill = parse_fill(e, PERP)
    assert (
        fill.trade_id == "0ab1bdf7-4219-438b" and fill.fee == D("0.0512") and fill.is_maker and fill.qty == D("0.004")
    )
    after = order_after_fill(e, PERP, order, D("0.004"), D("256.000"))
    assert after.qty == D("0.010") and after.filled_qty == D("0.004") and after.avg_price == D("64000")
    assert after.tif is TimeInForce.POST_ONLY and after.status is OrderStatus.PARTIALLY_FILLED
    with pytest.raises(PayloadError):
        order_after_fill(e, PERP, None, D(0), D(0))  # no orderQty and nothing known
    [p] = ws.POSITIONS_DECODER.decode(ws.PUSH_DECODER.decode(raw("ws_position.json")).data)
    position = parse_position_ws(p, PERP, 1)
    assert position.size == D("0.004") and position.entry_price == D("64000") and position.leverage == 5
    [w] = ws.WALLETS_DECODER.decode(ws.PUSH_DECODER.decode(raw("ws_wallet.json")).data)
    update = parse_wallet_ws(w, {"USDT"}, 5, 6)
    assert update.reason == "wallet" and update.balances[0].free == D("10249.27")
    assert update.margin[0].initial_margin == D("128.18") and update.margin[0].margin_balance == D("10250.12")


def _stream() -> BybitUserStream:
    return BybitUserStream("ws://unused", Credentials("k", "s"), ServerClock())


def test_user_stream_translation_and_bad_input_is_counted() -> None:
    stream = _stream()
    events = []
    for name in ("ws_order.json", "ws_execution.json", "ws_position.json", "ws_wallet.json"):
        events += stream._translate(Frame("bybit:user", raw(name), 1, 1))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["OrderUpdate", "OrderUpdate", "AccountUpdate", "AccountUpdate"]
    fill_update = events[1]
    assert isinstance(fill_update, OrderUpdate) and fill_update.fill is not None
    assert fill_update.exec_type is ExecType.TRADE and fill_update.order.qty == D("0.010")
    position = events[2]
    assert isinstance(position, AccountUpdate) and position.positions[0].size == D("0.004")
    funding = msgspec.json.encode(
        {
            "topic": "execution",
            "creationTime": 2,
            "data": [
                {
                    "category": "linear",
                    "symbol": "BTCUSDT",
                    "execId": "f1",
                    "execType": "Funding",
                    "execFee": "0.25",
                    "feeRate": "0.0001",
                    "feeCurrency": "USDT",
                    "execTime": "1760342400000",
                }
            ],
        }
    )
    [pay] = stream._translate(Frame("bybit:user", funding, 1, 1))
    assert isinstance(pay, AccountUpdate) and pay.reason == "funding_fee" and pay.funding[0].amount == D("-0.25")
    assert stream._translate(Frame("bybit:user", b'{"topic":"order","data":[{"oops":1}]}', 1, 1)) == []
    assert stream._translate(Frame("bybit:user", b"not json", 1, 1)) == []
    assert stream._translate(Frame("bybit:user", b'{"topic":"greeks","data":[]}', 1, 1)) == []
    assert stream.errors.counts["order:malformed"] == 1 and stream.errors.counts["push:not_json"] == 1
    assert stream.ignored["greeks"] == 1
    assert not isinstance(events[0], StreamStatus)
