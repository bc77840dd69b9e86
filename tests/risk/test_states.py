"""Trading states: what "reduce" means (spot, perp, reduce_only, oversized orders), REDUCING and HALTED."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_runner.risk import RiskRejected, reduces_exposure
from strategy_client.model import (
    LimitName,
    MarketKind,
    OrderRequest,
    OrderType,
    RiskEventKind,
    Side,
    TradingState,
)

from .builders import BTC_P, BTC_S, D, gate, inputs, limit, market, open_order

PERP, SPOT = MarketKind.PERP, MarketKind.SPOT
BUY, SELL = Side.BUY, Side.SELL


@pytest.mark.parametrize(
    ("kind", "pos", "side", "qty", "reduce_only", "open_same", "expected"),
    [
        (PERP, "1", SELL, "1", False, "0", True),  # closes exactly
        (PERP, "1", SELL, "0.4", False, "0.6", True),  # with the open sells: still exactly flat
        (PERP, "1", SELL, "0.5", False, "0.6", False),  # with the open sells: would cross zero
        (PERP, "1", SELL, "1.5", False, "0", False),  # larger than the position: opens a short
        (PERP, "1", SELL, "1.5", True, "0", True),  # reduce-only: the venue caps it at the position
        (PERP, "1", SELL, "5", True, "3", True),
        (PERP, "1", BUY, "0.1", False, "0", False),  # same side adds
        (PERP, "1", BUY, "0.1", True, "0", False),  # reduce-only on the same side reduces nothing
        (PERP, "-2", BUY, "2", False, "0", True),  # shorts reduce with buys
        (PERP, "-2", SELL, "1", False, "0", False),
        (PERP, "0", SELL, "1", True, "0", False),  # flat: nothing to reduce
        (PERP, "0", BUY, "1", False, "0", False),
        (SPOT, "2", SELL, "2", False, "0", True),  # spot: sell what is held
        (SPOT, "2", SELL, "2.1", False, "0", False),
        (SPOT, "2", SELL, "2.1", True, "0", False),  # reduce_only means nothing on spot
        (SPOT, "2", SELL, "1", False, "1.5", False),  # the open sells count
        (SPOT, "2", BUY, "1", False, "0", False),
        (SPOT, "0", SELL, "1", False, "0", False),
    ],
)
def test_reduce_definition(
    kind: MarketKind, pos: str, side: Side, qty: str, reduce_only: bool, open_same: str, expected: bool
) -> None:
    assert reduces_exposure(kind, D(pos), side, D(qty), reduce_only, D(open_same)) is expected


amounts = st.decimals(min_value=0, max_value=10, places=2, allow_nan=False, allow_infinity=False)
signed = st.decimals(min_value=-10, max_value=10, places=2, allow_nan=False, allow_infinity=False)


@given(
    kind=st.sampled_from([PERP, SPOT]),
    pos=signed,
    side=st.sampled_from([BUY, SELL]),
    qty=amounts.filter(lambda q: q > 0),
    reduce_only=st.booleans(),
    open_same=amounts,
    f_open=st.floats(0, 1),
    f_mine=st.floats(0, 1),
)
def test_a_reducing_order_never_increases_exposure(
    kind: MarketKind,
    pos: Decimal,
    side: Side,
    qty: Decimal,
    reduce_only: bool,
    open_same: Decimal,
    f_open: float,
    f_mine: float,
) -> None:
    """Whatever parts of the open same-side orders and of this order fill, |position| never grows
    and never crosses zero. A perp reduce-only order is filled as the venues fill one: never past
    a flat position — so it cannot add exposure even when older open orders could cross zero."""
    if not reduces_exposure(kind, pos, side, qty, reduce_only, open_same):
        return
    sign = side.sign
    after_open = pos + sign * (open_same * Decimal(f_open)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    mine = (qty * Decimal(f_mine)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    if reduce_only and kind is PERP:
        # the venue's cap: only what is left of a position on the other side of this order
        left = after_open if side is SELL else -after_open
        mine = min(mine, max(left, Decimal(0)))
        after = after_open + sign * mine
        assert abs(after) <= abs(after_open)
        return
    after = after_open + sign * mine
    assert abs(after_open) <= abs(pos)
    assert abs(after) <= abs(pos)
    assert (after == 0) or (after > 0) == (pos > 0)  # never crosses to the other side


@given(
    key=st.sampled_from([BTC_P, BTC_S]),
    pos=signed,
    side=st.sampled_from([BUY, SELL]),
    qty=amounts.filter(lambda q: q > 0),
    reduce_only=st.booleans(),
    open_same=amounts,
    market_order=st.booleans(),
)
def test_reducing_state_lets_through_exactly_the_reducing_orders(
    key: object,
    pos: Decimal,
    side: Side,
    qty: Decimal,
    reduce_only: bool,
    open_same: Decimal,
    market_order: bool,
) -> None:
    assert key is BTC_P or key is BTC_S
    inp = inputs(positions={key: str(pos)})
    if open_same:
        inp.tally.update(open_order("open-1", key, side, str(open_same)))
    g = gate({"defaults": {"max_position_qty": "1000"}}, inp)
    g.set_state(TradingState.REDUCING)
    req = OrderRequest(
        key=key,
        side=side,
        type=OrderType.MARKET if market_order else OrderType.LIMIT,
        qty=qty,
        price=None if market_order else D(50000),
        reduce_only=reduce_only,
    )
    expected = reduces_exposure(key.kind, pos, side, qty, reduce_only, open_same)
    try:
        g.check(req)
        allowed = True
    except RiskRejected as exc:
        assert exc.limit is LimitName.TRADING_STATE
        allowed = False
    assert allowed is expected


def test_reducing_examples_and_the_refusal_numbers() -> None:
    g = gate(inp=inputs(positions={BTC_P: "1", BTC_S: "0.5"}))
    g.set_state(TradingState.REDUCING, "desk says so")
    g.check(market(BTC_P, SELL, "1"))
    g.check(market(BTC_P, SELL, "3", reduce_only=True))
    g.check(limit(BTC_S, SELL, "0.5", "50000"))
    with pytest.raises(RiskRejected) as err:
        g.check(market(BTC_P, SELL, "1.5"))
    b = err.value.breach
    assert (b.limit, b.limit_value, b.requested, b.current) == (LimitName.TRADING_STATE, 1, D("1.5"), 1)
    assert "reducing" in str(err.value)
    with pytest.raises(RiskRejected):
        g.check(market(BTC_P, BUY, "0.1"))
    with pytest.raises(RiskRejected):
        g.check(limit(BTC_S, SELL, "0.6", "50000"))


def test_halted_refuses_everything_and_events_say_so() -> None:
    g = gate(inp=inputs(positions={BTC_P: "1"}))
    prev = g.set_state(TradingState.HALTED, "kill switch", by="alice")
    assert prev is TradingState.ACTIVE
    with pytest.raises(RiskRejected) as err:
        g.check(market(BTC_P, SELL, "1", reduce_only=True))
    assert err.value.limit is LimitName.TRADING_STATE
    events = g.drain_events()
    assert [e.kind for e in events] == [RiskEventKind.STATE, RiskEventKind.REFUSED]
    assert events[0].state is TradingState.HALTED and events[0].previous_state is TradingState.ACTIVE
    assert events[0].reason == "alice: kill switch"
    assert g.drain_events() == []
    g.set_state(TradingState.ACTIVE)
    g.check(market(BTC_P, BUY, "0.1"))


def test_setting_the_same_state_twice_publishes_once() -> None:
    g = gate()
    g.set_state(TradingState.REDUCING)
    g.set_state(TradingState.REDUCING)
    assert len(g.drain_events()) == 1
