"""The signal's schema (constraints at the edge) and the pure signal → order plan: type from
urgency, limit price and spread; size from qty, notional, risk budget or default notional,
rounded with the instrument's filters; client ids derived from the signal id."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from strategies.signals.plan import PlanConfig, client_id, close_request, plan_order, slippage_bps
from strategies.signals.schema import RejectReason, SignalRejected, decode_signal
from strategy_client.model import OrderType, Side, TimeInForce

from ..builders import PERP as PERP_KEY
from ..builders import instrument

PERP = instrument(PERP_KEY, min_notional="100")
BID, ASK = D("60000.0"), D("60001.0")  # 0.17 bps


def sig(**over: Any) -> Any:
    body = {"id": "m-1", "instrument": "binance:perp:BTCUSDT", "side": "buy", "ts_ms": 1} | over
    return decode_signal(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"[1, 2", "malformed"),
        (b'{"id": "a b", "instrument": "x:y:z", "side": "buy", "ts_ms": 1}', "$.id"),
        (b'{"id": "a", "instrument": "x:y:z", "side": "up", "ts_ms": 1}', "$.side"),
        (b'{"id": "a", "instrument": "x:y:z", "side": "buy"}', "ts_ms"),
        (b'{"id": "a", "instrument": "x:y:z", "side": "buy", "ts_ms": 1, "confidence": 1.5}', "$.confidence"),
        (b'{"id": "a", "instrument": "x:y:z", "side": "buy", "ts_ms": 1, "qty": "-1"}', "qty must be a positive"),
        (b'{"id": "a", "instrument": "x:y:z", "side": "buy", "ts_ms": 1, "qty": "1", "notional": "5"}', "not both"),
        (b'{"id": "a", "instrument": "x:y:z", "side": "buy", "ts_ms": 1, "price": "10", "stop_loss": "11"}', "below"),
        (b'{"id": "a", "instrument": "x:y", "side": "sell", "ts_ms": 1, "price": "10", "take_profit": "11"}', "below"),
    ],
)
def test_malformed_signals_are_refused_at_the_edge(body: bytes, needle: str) -> None:
    with pytest.raises(SignalRejected) as err:
        decode_signal(body)
    assert err.value.reason is RejectReason.MALFORMED and err.value.reason.poison
    assert needle in str(err.value)


def test_unknown_fields_are_ignored_and_msgpack_is_taken() -> None:
    import msgspec

    s = decode_signal(b'{"id":"a","instrument":"binance:perp:BTCUSDT","side":"buy","ts_ms":5,"extra":1,"qty":0.5}')
    assert s.qty == D("0.5") and s.expires_ms == 30_005
    packed = msgspec.msgpack.encode({"id": "b", "instrument": "binance:perp:BTCUSDT", "side": "sell", "ts_ms": 5})
    assert decode_signal(packed, "application/msgpack").side is Side.SELL


@pytest.mark.parametrize(
    ("over", "spread", "want"),
    [
        ({"urgency": "high"}, (BID, ASK), (OrderType.MARKET, TimeInForce.GTC, None)),
        ({"urgency": "high", "limit_price": "60010"}, (BID, ASK), (OrderType.LIMIT, TimeInForce.IOC, D("60010.0"))),
        ({}, (BID, ASK), (OrderType.MARKET, TimeInForce.GTC, None)),  # tight spread
        ({}, (D("59900"), D("60100")), (OrderType.LIMIT, TimeInForce.GTC, D("60000.0"))),  # wide: limit at the mid
        ({"limit_price": "59950.07"}, (BID, ASK), (OrderType.LIMIT, TimeInForce.GTC, D("59950.0"))),  # buy rounds down
        ({"urgency": "low"}, (BID, ASK), (OrderType.LIMIT, TimeInForce.POST_ONLY, BID)),
        ({"urgency": "low", "limit_price": "59000"}, (BID, ASK), (OrderType.LIMIT, TimeInForce.POST_ONLY, D("59000"))),
        ({"urgency": "low", "side": "sell"}, (BID, ASK), (OrderType.LIMIT, TimeInForce.POST_ONLY, ASK)),
    ],
)
def test_the_order_type_follows_urgency_limit_and_spread(over: dict[str, Any], spread: Any, want: Any) -> None:
    plan = plan_order(sig(qty="0.01", **over), PERP, *spread, PlanConfig())
    r = plan.request
    assert (r.type, r.tif, r.price) == want
    assert r.qty == D("0.010") and r.client_id == client_id("m-1", "entry")


def test_sizes_from_notional_risk_budget_and_default() -> None:
    cfg = PlanConfig(risk_budget=D("30"), default_notional=D("600"))
    assert plan_order(sig(notional="150", urgency="high"), PERP, BID, ASK, cfg).request.qty == D("0.002")  # 150/60001
    # the loss at the stop is the budget: 30 / (60001 − 59001) = 0.03
    assert plan_order(sig(stop_loss="59001", urgency="high"), PERP, BID, ASK, cfg).request.qty == D("0.030")
    assert plan_order(sig(strength=0.5, urgency="high"), PERP, BID, ASK, cfg).request.qty == D("0.004")  # 300/60001
    with pytest.raises(SignalRejected, match="no size"):
        plan_order(sig(), PERP, BID, ASK, PlanConfig())
    with pytest.raises(SignalRejected, match="MIN_NOTIONAL") as err:
        plan_order(sig(notional="90", urgency="high"), PERP, BID, ASK, cfg)
    assert err.value.reason is RejectReason.INVALID and not err.value.reason.poison
    with pytest.raises(SignalRejected, match=r"confidence 0\.2 below 0\.5"):
        plan_order(sig(qty="1", confidence=0.2), PERP, BID, ASK, PlanConfig(min_confidence=0.5))


def test_client_ids_are_the_signal_ids_and_fit_every_venue() -> None:
    a, b = client_id("model-7-000123", "entry"), client_id("model-7-000124", "entry")
    assert a == client_id("model-7-000123", "entry") and a != b
    assert len(a) <= 32 and a.endswith("-en") and client_id("x" * 64, "take_profit").endswith("-ta")
    close = close_request(PERP, Side.BUY, D("0.0025"), client_id("s", "stop_loss"), perp=True)
    assert close is not None and close_request(PERP, Side.BUY, D("0.0009"), "x", perp=True) is None
    assert (close.side, close.qty, close.reduce_only, close.type) == (Side.SELL, D("0.002"), True, OrderType.MARKET)
    assert slippage_bps(Side.BUY, D("60006"), D("60000")) == D("1.00")
    assert slippage_bps(Side.SELL, D("60006"), D("60000")) == D("-1.00")
