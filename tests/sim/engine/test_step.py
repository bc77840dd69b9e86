"""Stepping time: re-quotes, resting orders crossed by the market, funding, marks, controls."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.sim.engine import (
    MARKET_MAKER,
    BalanceReason,
    BalancesChanged,
    BookUpdated,
    ExecType,
    FundingSettled,
    IncomeType,
    ManualClock,
    MarkUpdated,
    OrderChanged,
    RejectReason,
    SimEvent,
    SimReject,
    SimVenue,
)
from strategy_client.model import MarketKind, OrderStatus, Side

from .helpers import START_MS, best, limit, make_venue, market, of_type

SPOT, PERP = MarketKind.SPOT, MarketKind.PERP


def test_step_requotes_consumed_liquidity(venue: SimVenue, clock: ManualClock) -> None:
    before = venue.book(SPOT, "BTCUSDT", 20)
    market(venue, "alice", SPOT, Side.BUY, "1")
    assert venue.book(SPOT, "BTCUSDT", 20).asks[0][0] > before.asks[0][0]
    venue.pause()
    clock.advance(100)
    venue.step()
    assert venue.book(SPOT, "BTCUSDT", 20).asks == before.asks


def test_resting_order_fills_as_maker_when_the_market_moves_into_it(
    venue: SimVenue, events: list[SimEvent]
) -> None:
    bid, _ = best(venue, PERP)
    price = bid - D("300")  # about 0.5 % below
    o = limit(venue, "alice", PERP, Side.BUY, "0.2", price)
    events.clear()
    venue.move_index("BTC", -1.0)
    done = venue.get_order("alice", PERP, "BTCUSDT", o.order_id)
    assert done.status is OrderStatus.FILLED
    assert all(f.is_maker and f.price == price for f in done.fills)
    assert done.fills[0].fee == D("0.2") * price * D("0.0002")  # maker fee
    bid2, ask2 = best(venue, PERP)
    assert bid2 < ask2
    trades = [e for e in of_type(events, OrderChanged) if isinstance(e, OrderChanged)]
    assert [e.exec_type for e in trades] == [ExecType.TRADE]
    assert venue.positions("alice")[0].size == D("0.2")
    assert venue.positions(MARKET_MAKER)[0].size == D("-0.2")


def test_step_matches_orders_crossed_by_the_random_walk() -> None:
    venue, clock = make_venue(volatility_per_sqrt_s=0.002)  # very lively
    bid, ask = best(venue, SPOT)
    lo = limit(venue, "alice", SPOT, Side.BUY, "0.1", bid - D("30"))
    hi = limit(venue, "alice", SPOT, Side.SELL, "0.1", ask + D("30"))
    for _ in range(600):
        clock.advance(100)
        venue.step()
        b, a = best(venue, SPOT)
        assert b < a
    statuses = {venue.get_order("alice", SPOT, "BTCUSDT", o.order_id).status for o in (lo, hi)}
    assert OrderStatus.FILLED in statuses


def test_funding_settles_on_schedule_and_longs_pay(
    venue: SimVenue, clock: ManualClock, events: list[SimEvent]
) -> None:
    market(venue, "alice", PERP, Side.BUY, "0.5")
    market(venue, "bob", PERP, Side.SELL, "0.5")
    venue.set_funding_rate("BTCUSDT", D("0.0005"))
    first = venue.mark("BTCUSDT").next_funding_ms
    assert first % 60_000 == 0 and first > START_MS
    wallet_a = venue.futures_account("alice").wallet
    wallet_b = venue.futures_account("bob").wallet
    clock.set(first - 1)
    venue.step()
    assert of_type(events, FundingSettled) == []
    clock.set(first + 50)
    events.clear()
    venue.step()
    settled = [
        e for e in of_type(events, FundingSettled) if isinstance(e, FundingSettled) and e.symbol == "BTCUSDT"
    ]
    assert len(settled) == 1 and isinstance(settled[0], FundingSettled) and settled[0].ts_ms == first
    mark = settled[0].mark
    pay = D("0.5") * mark * D("0.0005")
    assert venue.futures_account("alice").wallet == wallet_a - pay
    assert venue.futures_account("bob").wallet == wallet_b + pay
    inc = venue.income("alice", income_type=IncomeType.FUNDING_FEE)
    assert len(inc) == 1 and inc[0].income == -pay and inc[0].time_ms == first
    fund_events = [
        e
        for e in of_type(events, BalancesChanged)
        if isinstance(e, BalancesChanged) and e.reason is BalanceReason.FUNDING_FEE
    ]
    assert {e.account for e in fund_events} == {"alice", "bob"}
    alice = next(e for e in fund_events if e.account == "alice")
    assert alice.funding[0].amount == -pay and alice.funding[0].rate == D("0.0005")
    hist = venue.funding_history("BTCUSDT")
    assert [(h.funding_ms, h.rate, h.mark) for h in hist] == [(first, D("0.0005"), mark)]
    assert venue.mark("BTCUSDT").next_funding_ms == first + 60_000


def test_funding_is_zero_sum_with_the_market_maker(venue: SimVenue, clock: ManualClock) -> None:
    market(venue, "alice", PERP, Side.BUY, "0.7")
    market(venue, "bob", PERP, Side.SELL, "0.2", symbol="ETHUSDT")
    wallets = {a: venue.futures_account(a).wallet for a in ("alice", "bob", MARKET_MAKER)}
    clock.advance(180_000)
    venue.step()
    after = {a: venue.futures_account(a).wallet for a in ("alice", "bob", MARKET_MAKER)}
    assert sum(after.values()) == sum(wallets.values())
    assert len(venue.funding_history("BTCUSDT")) == 3
    assert len(venue.funding_history("BTCUSDT", limit=2)) == 2
    hist = venue.funding_history("BTCUSDT")
    assert venue.funding_history("BTCUSDT", start_ms=hist[1].funding_ms) == hist[1:]
    assert venue.funding_history("BTCUSDT", end_ms=hist[1].funding_ms) == hist[:2]


def test_settle_now_and_unpinned_rate(venue: SimVenue, clock: ManualClock) -> None:
    market(venue, "alice", PERP, Side.SELL, "0.1")
    rate = venue.mark("BTCUSDT").funding_rate
    wallet = venue.futures_account("alice").wallet
    venue.settle_funding_now("BTCUSDT")
    mark = venue.mark("BTCUSDT").mark
    assert venue.futures_account("alice").wallet == wallet + D("0.1") * mark * rate
    assert venue.funding_history("BTCUSDT")[-1].funding_ms == clock.now_ms()


def test_catch_up_after_a_long_gap_is_bounded() -> None:
    venue, clock = make_venue()
    clock.advance(60_000 * 5000)
    venue.step()
    assert len(venue.funding_history("BTCUSDT", limit=10_000)) == 1000
    assert venue.mark("BTCUSDT").next_funding_ms > clock.now_ms()


def test_mark_updates_every_step(venue: SimVenue, clock: ManualClock, events: list[SimEvent]) -> None:
    clock.advance(100)
    venue.step()
    marks = of_type(events, MarkUpdated)
    assert {m.symbol for m in marks if isinstance(m, MarkUpdated)} == {"BTCUSDT", "ETHUSDT"}
    view = venue.mark("BTCUSDT")
    assert view.ts_ms == clock.now_ms()
    assert view.mark == venue.reference_price(PERP, "BTCUSDT")
    assert view.interest_rate == D("0.0001") and view.funding_interval_ms == 60_000


def test_set_basis_moves_the_perp_not_the_spot(venue: SimVenue) -> None:
    spot_before = venue.reference_price(SPOT, "BTCUSDT")
    venue.set_basis_bps("BTCUSDT", 25)
    view = venue.mark("BTCUSDT")
    assert abs(view.mark / view.index - 1 - D("0.0025")) < D("0.00001")
    assert venue.reference_price(SPOT, "BTCUSDT") == spot_before
    assert abs(venue.basis_bps("BTCUSDT") - 25) < 1e-9


def test_set_liquidity(venue: SimVenue) -> None:
    venue.set_liquidity(PERP, "ETHUSDT", D("2"))
    view = venue.book(PERP, "ETHUSDT", 20)
    assert len(view.bids) == 20 and all(q == D("2") for _, q in view.bids + view.asks)
    venue.set_liquidity(PERP, "ETHUSDT", D("0"))
    empty = venue.book(PERP, "ETHUSDT", 20)
    assert empty.bids == [] and empty.asks == []
    with pytest.raises(SimReject) as info:
        venue.set_liquidity(PERP, "ETHUSDT", D("-1"))
    assert info.value.reason is RejectReason.INVALID_QTY


def test_controls_validate_names(venue: SimVenue) -> None:
    for call in (
        lambda: venue.move_index("DOGE", 1.0),
        lambda: venue.set_basis_bps("DOGEUSDT", 1.0),
        lambda: venue.set_funding_rate("DOGEUSDT", None),
        lambda: venue.settle_funding_now("DOGEUSDT"),
        lambda: venue.mark("DOGEUSDT"),
    ):
        with pytest.raises(SimReject) as info:
            call()
        assert info.value.reason is RejectReason.UNKNOWN_SYMBOL


def test_pause_freezes_prices_but_not_funding(venue: SimVenue, clock: ManualClock) -> None:
    venue.pause(True)
    assert venue.paused
    mark = venue.mark("BTCUSDT").mark
    clock.advance(120_000)
    venue.step()
    assert venue.mark("BTCUSDT").mark == mark
    assert len(venue.funding_history("BTCUSDT")) == 2
    venue.pause(False)
    clock.advance(10_000)
    venue.step()
    assert venue.mark("BTCUSDT").mark != mark


def test_book_updates_chain_and_rebuild_the_book(
    venue: SimVenue, clock: ManualClock, events: list[SimEvent]
) -> None:
    """A client applying the diffs to a snapshot ends with exactly the engine's book."""
    snap = venue.book(PERP, "BTCUSDT", 1000)
    bids = dict(snap.bids)
    asks = dict(snap.asks)
    last = snap.update_id
    for i in range(200):
        clock.advance(100)
        venue.step()
        if i % 7 == 0:
            market(venue, "alice", PERP, Side.BUY if i % 2 else Side.SELL, "0.7")
    for ev in of_type(events, BookUpdated):
        assert isinstance(ev, BookUpdated)
        if ev.kind is not PERP or ev.symbol != "BTCUSDT":
            continue
        assert ev.prev_update_id == last and ev.first_update_id == last + 1
        assert ev.update_id - ev.first_update_id + 1 == len(ev.bids) + len(ev.asks)
        for side, levels in ((bids, ev.bids), (asks, ev.asks)):
            for price, qty in levels:
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        last = ev.update_id
    now = venue.book(PERP, "BTCUSDT", 1000)
    assert now.update_id == last
    assert sorted(bids.items(), reverse=True) == now.bids
    assert sorted(asks.items()) == now.asks
