"""Futures: one-way positions, PnL, fees, leverage, margin, reduce-only, liquidation estimate."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.sim.engine import (
    BalancesChanged,
    ExpireReason,
    IncomeType,
    LeverageChanged,
    ManualClock,
    RejectReason,
    SimEvent,
    SimReject,
    SimVenue,
)
from exchanges.sim.engine.accounts import FuturesAccount, Position
from exchanges.sim.engine.margin import liquidation_price, order_initial_margin
from exchanges.sim.engine.views import IncomeRecord
from strategy_client.model import MarketKind, OrderStatus, Side

from .helpers import best, limit, market, of_type

PERP = MarketKind.PERP


def position(venue: SimVenue, account: str = "alice", symbol: str = "BTCUSDT") -> tuple[D, D]:
    for p in venue.positions(account):
        if p.symbol == symbol:
            return p.size, p.entry_price
    return D(0), D(0)


def test_position_apply_vwap_realized_and_flip() -> None:
    p = Position()
    assert p.apply(Side.BUY, D("1"), D("100"), D("0"), 1) == 0
    assert p.apply(Side.BUY, D("3"), D("200"), D("0"), 2) == 0
    assert (p.size, p.entry) == (D("4"), D("175"))
    assert p.apply(Side.SELL, D("1"), D("275"), D("0"), 3) == D("100")
    assert (p.size, p.entry) == (D("3"), D("175"))
    assert p.apply(Side.SELL, D("5"), D("150"), D("0"), 4) == D("-75")  # closes 3, opens -2
    assert (p.size, p.entry) == (D("-2"), D("150"))
    assert p.apply(Side.BUY, D("2"), D("140"), D("0"), 5) == D("20")
    assert (p.size, p.entry) == (D("0"), D("0"))
    assert p.realized == D("45")


def test_fills_move_position_wallet_and_income(venue: SimVenue) -> None:
    _, ask = best(venue, PERP)
    o = market(venue, "alice", PERP, Side.BUY, "0.1")
    assert o.status is OrderStatus.FILLED
    size, entry = position(venue)
    assert size == D("0.1") and entry == ask
    fee = D("0.1") * ask * D("0.0005")
    assert o.fills[0].fee == fee and o.fills[0].fee_asset == "USDT"
    acct = venue.futures_account("alice")
    assert acct.wallet == D("100000") - fee
    bid, _ = best(venue, PERP)
    c = market(venue, "alice", PERP, Side.SELL, "0.1")
    realized = (bid - ask) * D("0.1")
    assert c.fills[0].realized_pnl == realized
    assert position(venue) == (D(0), D(0))
    fee2 = D("0.1") * bid * D("0.0005")
    assert venue.futures_account("alice").wallet == D("100000") - fee - fee2 + realized
    incomes = venue.income("alice")
    assert [r.income_type for r in incomes] == [
        IncomeType.COMMISSION,
        IncomeType.REALIZED_PNL,
        IncomeType.COMMISSION,
    ]
    assert sum(r.income for r in incomes) == -fee - fee2 + realized
    assert venue.income("alice", income_type=IncomeType.REALIZED_PNL)[0].income == realized
    assert venue.income("alice", symbol="ETHUSDT") == []
    assert len(venue.income("alice", limit=1)) == 1


def test_unrealized_at_mark_and_margins(venue: SimVenue, clock: ManualClock) -> None:
    market(venue, "alice", PERP, Side.SELL, "0.2")
    pos = venue.positions("alice")[0]
    mark = venue.mark("BTCUSDT").mark
    assert pos.mark == mark
    assert pos.unrealized == D("-0.2") * (mark - pos.entry_price)
    assert pos.notional == D("-0.2") * mark
    assert pos.initial_margin == D("0.2") * mark / 20
    assert pos.maint_margin == D("0.2") * mark * D("0.004")
    acct = venue.futures_account("alice")
    assert acct.margin_balance == acct.wallet + acct.unrealized
    assert acct.available == acct.margin_balance - acct.initial_margin
    assert acct.positions == venue.positions("alice")


def test_leverage_bounds_and_effect(venue: SimVenue, events: list[SimEvent]) -> None:
    assert venue.leverage("alice", "BTCUSDT") == 20
    for bad in (0, 126):
        with pytest.raises(SimReject) as info:
            venue.set_leverage("alice", "BTCUSDT", bad)
        assert info.value.reason is RejectReason.INVALID_LEVERAGE
    assert venue.set_leverage("alice", "BTCUSDT", 5) == 5
    assert isinstance(of_type(events, LeverageChanged)[-1], LeverageChanged)
    market(venue, "alice", PERP, Side.BUY, "0.1")
    pos = venue.positions("alice")[0]
    assert pos.leverage == 5 and pos.initial_margin == abs(pos.notional) / 5


def test_margin_check_refuses_what_the_wallet_cannot_carry(venue: SimVenue) -> None:
    venue.set_leverage("alice", "BTCUSDT", 1)
    with pytest.raises(SimReject) as info:
        limit(venue, "alice", PERP, Side.BUY, "2", "59000")  # 118k at 1x > 100k
    assert info.value.reason is RejectReason.INSUFFICIENT_MARGIN
    with pytest.raises(SimReject) as info:
        market(venue, "alice", PERP, Side.SELL, "1.7")
    assert info.value.reason is RejectReason.INSUFFICIENT_MARGIN
    ok = limit(venue, "alice", PERP, Side.BUY, "1.5", "59000")
    assert ok.status is OrderStatus.NEW
    # the other side nets against it (max of the two sides counts), so a sell of equal size fits
    limit(venue, "alice", PERP, Side.SELL, "1.5", "61000")
    with pytest.raises(SimReject):
        limit(venue, "alice", PERP, Side.BUY, "0.5", "59000")
    # more leverage frees margin; going back down is refused while the orders need it
    venue.set_leverage("alice", "BTCUSDT", 2)
    limit(venue, "alice", PERP, Side.BUY, "1.5", "59000")  # 177k notional at 2x = 88.5k
    with pytest.raises(SimReject) as info:
        venue.set_leverage("alice", "BTCUSDT", 1)
    assert info.value.reason is RejectReason.INSUFFICIENT_MARGIN
    assert venue.leverage("alice", "BTCUSDT") == 2


def test_order_margin_netting() -> None:
    # long 1: a sell of 1 only closes (no margin), a sell of 3 needs margin for 2
    assert order_initial_margin(D("1"), D(0), D(0), D("1"), D("100"), 10) == 0
    assert order_initial_margin(D("1"), D(0), D(0), D("3"), D("300"), 10) == D("20")
    # both sides: the larger counts
    assert order_initial_margin(D("0"), D("1"), D("100"), D("2"), D("220"), 10) == D("22")


def test_reduce_only_rules(venue: SimVenue, events: list[SimEvent]) -> None:
    with pytest.raises(SimReject) as info:
        market(venue, "alice", PERP, Side.SELL, "0.1", reduce_only=True)  # flat
    assert info.value.reason is RejectReason.REDUCE_ONLY_REJECTED
    market(venue, "alice", PERP, Side.BUY, "0.1")
    with pytest.raises(SimReject) as info:
        market(venue, "alice", PERP, Side.BUY, "0.1", reduce_only=True)  # would increase
    assert info.value.reason is RejectReason.REDUCE_ONLY_REJECTED
    # a reduce-only bigger than the position trades only the position
    o = market(venue, "alice", PERP, Side.SELL, "0.3", reduce_only=True)
    assert o.executed_qty == D("0.1") and o.status is OrderStatus.EXPIRED
    assert o.expire_reason is ExpireReason.REDUCE_ONLY
    assert position(venue)[0] == 0


def test_resting_reduce_only_knocked_out_when_position_closes(venue: SimVenue) -> None:
    market(venue, "alice", PERP, Side.BUY, "0.1")
    _, ask = best(venue, PERP)
    ro = limit(venue, "alice", PERP, Side.SELL, "0.1", ask + 1000, reduce_only=True)
    assert ro.status is OrderStatus.NEW
    market(venue, "alice", PERP, Side.SELL, "0.1")
    gone = venue.get_order("alice", PERP, "BTCUSDT", ro.order_id)
    assert gone.status is OrderStatus.EXPIRED and gone.expire_reason is ExpireReason.REDUCE_ONLY
    assert venue.open_orders("alice", PERP) == []


def test_reduce_only_maker_capped_by_its_position(venue: SimVenue) -> None:
    market(venue, "alice", PERP, Side.BUY, "0.1")
    _, ask = best(venue, PERP)
    ro = limit(venue, "alice", PERP, Side.SELL, "0.5", ask - D("0.1"), reduce_only=True)
    t = market(venue, "bob", PERP, Side.BUY, "0.3")
    assert t.fills[0].price == ask - D("0.1") and t.fills[0].qty == D("0.1")
    assert t.executed_qty == D("0.3")  # the rest came from the market maker
    done = venue.get_order("alice", PERP, "BTCUSDT", ro.order_id)
    assert done.executed_qty == D("0.1") and done.status is OrderStatus.EXPIRED
    assert position(venue)[0] == 0 and position(venue, "bob")[0] == D("0.3")


def test_liquidation_price_estimate() -> None:
    # long 1 at 100 with 10 wallet, mmr 0: liquidated when the loss eats the wallet
    assert liquidation_price(D("1"), D("100"), D("10"), D("0"), D("0.1")) == D("90")
    assert liquidation_price(D("-1"), D("100"), D("10"), D("0"), D("0.1")) == D("110")
    assert liquidation_price(D("1"), D("100"), D("200"), D("0"), D("0.1")) == 0  # cannot
    # with maintenance: 10 + (P - 100) = 0.01 P  ->  P = 90 / 0.99
    assert liquidation_price(D("1"), D("100"), D("10"), D("0.01"), D("0.01")) == D("90.91")


def test_position_view_liquidation_consistent_with_margin(venue: SimVenue) -> None:
    venue.set_leverage("alice", "BTCUSDT", 20)
    venue.deposit("alice", PERP, "USDT", D("-95000"))  # leave 5000 USDT
    market(venue, "alice", PERP, Side.BUY, "1")
    pos = venue.positions("alice")[0]
    acct = venue.futures_account("alice")
    # at the liquidation price margin balance equals maintenance margin (within a tick)
    liq = pos.liquidation_price
    assert 0 < liq < pos.entry_price
    balance_at_liq = acct.wallet + pos.size * (liq - pos.entry_price)
    maint_at_liq = abs(pos.size) * liq * D("0.004")
    assert abs(balance_at_liq - maint_at_liq) < D("0.2")


def test_futures_balance_events_carry_positions(venue: SimVenue, events: list[SimEvent]) -> None:
    limit(venue, "alice", PERP, Side.BUY, "0.01", "50000")
    assert of_type(events, BalancesChanged) == []  # placing alone moves no balance on futures
    market(venue, "alice", PERP, Side.BUY, "0.01")
    ev = of_type(events, BalancesChanged)
    assert len(ev) == 1 and isinstance(ev[0], BalancesChanged)
    assert ev[0].kind is PERP and [p.symbol for p in ev[0].positions] == ["BTCUSDT"]
    assert ev[0].positions[0].size == D("0.01")
    assert ev[0].balances["USDT"].wallet == venue.futures_account("alice").wallet


def test_income_history_is_bounded_keeping_the_latest() -> None:
    acct = FuturesAccount({"USDT": D("0")}, max_income=10)
    for i in range(25):
        acct.add_income(
            IncomeRecord(
                tran_id=i,
                symbol="BTCUSDT",
                income_type=IncomeType.COMMISSION,
                income=D("-1"),
                asset="USDT",
                info="",
                time_ms=i,
            )
        )
    kept = acct.query_income(None, None, None, None, 100)
    assert 10 <= len(kept) <= 11
    assert kept[-1].tran_id == 24 and [r.tran_id for r in kept] == sorted(r.tran_id for r in kept)
    assert [r.tran_id for r in acct.query_income(None, None, 20, 22, 100)] == [20, 21, 22]
