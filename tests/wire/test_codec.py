from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategy_client.model import (
    BookLevel,
    Exchange,
    InstrumentKey,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.wire import (
    BookEvent,
    CancelOrder,
    ErrorCode,
    ErrorReply,
    Header,
    OrderEvent,
    OrderEventKind,
    OrderReply,
    SubmitOrder,
    classify_request_error,
    decode_event,
    decode_header,
    decode_reply,
    decode_request,
    encode,
)

keys = st.builds(
    InstrumentKey,
    st.sampled_from(list(Exchange)),
    st.from_regex(r"[A-Z]{3,6}USDT", fullmatch=True),
    st.sampled_from(list(MarketKind)),
)
money = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e9"), places=8, allow_nan=False)

requests = st.builds(
    OrderRequest,
    key=keys,
    side=st.sampled_from(list(Side)),
    type=st.sampled_from(list(OrderType)),
    qty=money,
    price=st.none() | money,
    tif=st.sampled_from(list(TimeInForce)),
    reduce_only=st.booleans(),
    client_id=st.text(alphabet="abcdef0123456789-", max_size=36),
)

orders = st.builds(
    Order,
    key=keys,
    client_id=st.text(max_size=36),
    venue_id=st.text(max_size=20),
    side=st.sampled_from(list(Side)),
    type=st.sampled_from(list(OrderType)),
    tif=st.sampled_from(list(TimeInForce)),
    price=st.none() | money,
    qty=money,
    filled_qty=money,
    avg_price=st.none() | money,
    status=st.sampled_from(list(OrderStatus)),
    reduce_only=st.booleans(),
    created_ts_ms=st.integers(0, 2**53),
    updated_ts_ms=st.integers(0, 2**53),
)

levels = st.lists(st.builds(BookLevel, money, money), max_size=20).map(tuple)
books = st.builds(
    OrderBook,
    key=keys,
    bids=levels,
    asks=levels,
    venue_ts_ms=st.integers(0, 2**53),
    local_ts_ns=st.integers(0, 2**63 - 1),
    sequence=st.integers(0, 2**63 - 1),
)


@given(requests)
def test_submit_round_trip(req: OrderRequest) -> None:
    assert decode_request(encode(SubmitOrder(order=req))) == SubmitOrder(order=req)


@given(orders)
def test_order_reply_and_event_round_trip(order: Order) -> None:
    assert decode_reply(encode(OrderReply(order=order))) == OrderReply(order=order)
    ev = OrderEvent(kind=OrderEventKind.NEW, order=order)
    assert decode_event(encode(ev)) == ev


@given(books)
def test_book_event_round_trip(book: OrderBook) -> None:
    assert decode_event(encode(BookEvent(book=book))) == BookEvent(book=book)


def test_decimals_travel_as_exact_strings() -> None:
    key = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
    req = SubmitOrder(
        order=OrderRequest(
            key=key, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.010"), price=Decimal("64250.10")
        )
    )
    raw = msgspec.msgpack.decode(encode(req))
    assert raw["order"]["qty"] == "0.010" and raw["order"]["price"] == "64250.10"
    assert raw["order"]["key"] == ["binance", "BTCUSDT", "perp"]


def test_unknown_fields_are_ignored_and_new_fields_default() -> None:
    key = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
    raw = {
        "method": "cancel_order",
        "key": ["binance", "BTCUSDT", "perp"],
        "client_id": "x",
        "field_from_the_future": 1,
    }
    assert decode_request(msgspec.msgpack.encode(raw)) == CancelOrder(key=key, client_id="x")
    header = decode_header(msgspec.msgpack.encode({"v": 1, "id": "a", "future": True}))
    assert header == Header(v=1, id="a")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"\xc1\xc1", "decode_error"),
        (msgspec.msgpack.encode([1, 2]), "decode_error"),
        (msgspec.msgpack.encode({"method": "launch_rocket"}), "unknown_method"),
        (msgspec.msgpack.encode({"method": "cancel_order", "key": "nope"}), "invalid_params"),
        (msgspec.msgpack.encode({"key": 1}), "invalid_params"),
    ],
)
def test_classify_request_errors(payload: bytes, kind: str) -> None:
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        decode_request(payload)
    assert classify_request_error(payload)[0] == kind


def test_error_reply_round_trip() -> None:
    rep = ErrorReply(code=ErrorCode.VENUE_REJECTED, message="insufficient", venue_code="-2019")
    assert decode_reply(encode(rep)) == rep
