"""Limits at decode (issue 12, defect 4): numbers, client ids, nesting and sizes.

An order request a venue could not take is refused when it is made — constructed by a strategy
(``InvalidOrderRequest``) or decoded by the runner (``invalid_params``) — and a command frame
nested deeper than ``MAX_DEPTH`` is refused before the decoder sees it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategy_client.errors import InvalidRequest
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side, TimeInForce
from strategy_client.model.order import MAX_DIGITS, InvalidOrderRequest
from strategy_client.wire import CancelOrder, ErrorCode, GetOrder, Header, SubmitOrder, encode
from strategy_client.wire.codec import (
    FrameError,
    _depth_exceeds,
    check_nesting,
    decode_command,
    decode_command_header,
)
from strategy_client.wire.envelope import MAX_DEPTH

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
RAW_KEY = ["binance", "BTCUSDT", "perp"]


def submit(**order: Any) -> bytes:
    body = {"key": RAW_KEY, "side": "buy", "type": "limit", "qty": "0.001", "price": "100"} | order
    return msgspec.msgpack.encode({"method": "submit_order", "order": body})


def refused(raw: bytes) -> FrameError:
    with pytest.raises(FrameError) as info:
        decode_command(raw)
    return info.value


BAD_NUMBERS = [
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "-1",
    "0",
    "-0",
    "0E-8",
    "1e9999",
    "1e18",
    "1e-19",
    "1" + "0" * 40,
    "0." + "0" * 100 + "1",
    "1." + "1" * 40,
]


@pytest.mark.parametrize("text", BAD_NUMBERS)
@pytest.mark.parametrize("field", ["qty", "price"])
def test_bad_numbers_are_invalid_params_at_decode(field: str, text: str) -> None:
    err = refused(submit(**{field: text}))
    assert err.code is ErrorCode.INVALID_PARAMS
    assert f"order.{field}" in str(err)
    fields: dict[str, Any] = {"qty": Decimal("1"), "price": Decimal("1")} | {field: Decimal(text)}
    with pytest.raises(InvalidOrderRequest, match=f"order.{field}"):  # and when a strategy builds one
        OrderRequest(key=KEY, side=Side.BUY, type=OrderType.LIMIT, **fields)


@pytest.mark.parametrize("text", ["1e9999", "NaN", "0", "-1"])
def test_the_client_library_refuses_them_as_invalid_request(text: str) -> None:
    from strategy_client.coerce import check_order

    loose = OrderRequest(key=KEY, side=Side.BUY, type=OrderType.MARKET, qty=text)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match=r"order.qty"):
        check_order(loose)


@pytest.mark.parametrize(
    "client_id",
    ["x" * 10_000, "x" * 37, "has space", "dot.ted", "colon:id", "slash/id", "ünïcode", "new\nline", "a\x00b"],
)
def test_bad_client_ids_are_refused(client_id: str) -> None:
    for raw in (
        submit(client_id=client_id),
        msgspec.msgpack.encode({"method": "cancel_order", "key": RAW_KEY, "client_id": client_id}),
        msgspec.msgpack.encode({"method": "get_order", "key": RAW_KEY, "client_id": client_id}),
    ):
        assert refused(raw).code is ErrorCode.INVALID_PARAMS
    from strategy_client.coerce import check_order

    request = OrderRequest(key=KEY, side=Side.BUY, type=OrderType.MARKET, qty=Decimal(1), client_id=client_id)
    with pytest.raises(InvalidRequest, match=r"order.client_id"):  # the client library, before sending
        check_order(request)


def test_venue_ids_and_snapshot_keys_are_bounded() -> None:
    raw = msgspec.msgpack.encode({"method": "get_order", "key": RAW_KEY, "venue_id": "9" * 65})
    assert refused(raw).code is ErrorCode.INVALID_PARAMS
    raw = msgspec.msgpack.encode({"method": "get_book_snapshot", "keys": [RAW_KEY] * 1025})
    assert refused(raw).code is ErrorCode.INVALID_PARAMS
    ok = msgspec.msgpack.encode({"method": "get_order", "key": RAW_KEY, "venue_id": "3f2b-uuid_x:9.1"})
    assert decode_command(ok) == GetOrder(key=KEY, venue_id="3f2b-uuid_x:9.1")


def test_header_strings_are_bounded() -> None:
    with pytest.raises(FrameError) as info:
        decode_command_header(msgspec.msgpack.encode({"v": 1, "id": "i" * 10_000}))
    assert info.value.code is ErrorCode.DECODE_ERROR
    with pytest.raises(FrameError):
        decode_command_header(msgspec.msgpack.encode({"v": 1, "timeout_ms": -5}))
    assert decode_command_header(encode(Header(id="x" * 128, timeout_ms=30_000))).timeout_ms == 30_000


LEGIT = ["0.001", "0.00000001", "1e-18", "64250.10", "0.010", "1000000", "999999999999999999", "1E+5"]


@pytest.mark.parametrize("text", LEGIT)
def test_legit_values_pass(text: str) -> None:
    value = Decimal(text)
    req = OrderRequest(key=KEY, side=Side.BUY, type=OrderType.LIMIT, qty=value, price=value, client_id="tb-1a_B")
    assert decode_command(submit(qty=text, price=text, client_id="tb-1a_B")) == SubmitOrder(order=req)


# hypothesis: decode(encode(x)) == x for every valid request; refusal for every invalid number
digits = st.lists(st.integers(0, 9), min_size=1, max_size=MAX_DIGITS).filter(any)
valid_numbers = st.builds(lambda ds, exp: Decimal((0, tuple(ds), exp)), digits, st.integers(-18, 17)).filter(
    lambda d: Decimal("1e-18") <= d < Decimal("1e18")
)
client_ids = st.from_regex(r"[A-Za-z0-9_-]{0,36}", fullmatch=True)
requests = st.builds(
    OrderRequest,
    key=st.just(KEY),
    side=st.sampled_from(list(Side)),
    type=st.sampled_from(list(OrderType)),
    qty=valid_numbers,
    price=st.none() | valid_numbers,
    tif=st.sampled_from(list(TimeInForce)),
    reduce_only=st.booleans(),
    client_id=client_ids,
)


@given(requests)
def test_valid_requests_round_trip(req: OrderRequest) -> None:
    assert decode_command(encode(SubmitOrder(order=req))) == SubmitOrder(order=req)
    assert decode_command(encode(CancelOrder(key=KEY, client_id=req.client_id))) == CancelOrder(
        key=KEY, client_id=req.client_id
    )


invalid_numbers = st.one_of(
    st.sampled_from(BAD_NUMBERS),
    st.decimals(max_value=0, allow_nan=False, allow_infinity=False).map(str),
    st.decimals(min_value=Decimal("1e18"), allow_nan=False, allow_infinity=False).map(str),
    st.integers(MAX_DIGITS + 1, 400).map(lambda n: "7" * n),
    st.integers(19, 5000).map(lambda n: f"1e-{n}"),
)


@given(invalid_numbers, st.sampled_from(["qty", "price"]))
def test_invalid_numbers_are_refused(text: str, field: str) -> None:
    assert refused(submit(**{field: text})).code is ErrorCode.INVALID_PARAMS


# nesting: the pre-scan agrees with the real depth of any value, and bytes never escape as
# anything but a FrameError
ints = st.integers(-(2**63), 2**64 - 1)
values = st.recursive(
    st.none() | st.booleans() | ints | st.floats() | st.text(max_size=40) | st.binary(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5) | ints, inner, max_size=4),
    max_leaves=80,
)


def depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((max(depth(k), depth(v)) for k, v in value.items()), default=0)
    return 0


@given(values, st.integers(0, 40), st.integers(1, 8))
def test_prescan_matches_the_real_depth(value: object, wrap: int, limit: int) -> None:
    for _ in range(wrap):
        value = [value] if wrap % 2 else {"k": value}
    data = msgspec.msgpack.encode(value)
    assert _depth_exceeds(data, limit) == (depth(value) > limit)


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_ever_raise_frame_errors(data: bytes) -> None:
    for decode in (decode_command, decode_command_header):
        try:
            decode(data)
        except FrameError:
            pass


def test_nesting_bound_is_checked_before_decoding() -> None:
    deep = b"\x82" + encode("method") + encode("ping") + encode("x") + b"\x91" * 1000 + b"\x01"
    err = refused(deep)
    assert err.code is ErrorCode.DECODE_ERROR and f"deeper than {MAX_DEPTH}" in str(err)
    ok = b"\x82" + encode("method") + encode("ping") + encode("x") + b"\x91" * (MAX_DEPTH - 1) + b"\x01"
    decode_command(ok)  # a value MAX_DEPTH deep in all (the request map is one level)
    check_nesting(b"\x91" * MAX_DEPTH + b"\x01")
    with pytest.raises(FrameError):
        check_nesting(b"\x91" * (MAX_DEPTH + 1) + b"\x01")
