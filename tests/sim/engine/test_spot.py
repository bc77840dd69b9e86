"""Spot wallets: locks on placement, release on cancel, fees in the received asset, balance events."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.sim.engine import (
    MARKET_MAKER,
    BalanceReason,
    BalancesChanged,
    RejectReason,
    SimEvent,
    SimReject,
    SimVenue,
)
from strategy_client.model import MarketKind, Side

from .helpers import best, limit, market, of_type

SPOT = MarketKind.SPOT


def bal(venue: SimVenue, account: str, asset: str) -> tuple[D, D]:
    return venue.spot_balances(account).get(asset, (D(0), D(0)))


def test_limit_buy_locks_quote_and_cancel_releases(venue: SimVenue) -> None:
    o = limit(venue, "alice", SPOT, Side.BUY, "0.5", "50000")
    assert bal(venue, "alice", "USDT") == (D("75000"), D("25000"))
    venue.cancel_order("alice", SPOT, "BTCUSDT", order_id=o.order_id)
    assert bal(venue, "alice", "USDT") == (D("100000"), D("0"))


def test_limit_sell_locks_base(venue: SimVenue) -> None:
    limit(venue, "alice", SPOT, Side.SELL, "0.4", "70000")
    assert bal(venue, "alice", "BTC") == (D("0.6"), D("0.4"))


def test_buy_fee_in_base_and_price_improvement_refunded(venue: SimVenue) -> None:
    _, ask = best(venue, SPOT)
    limit_price = ask + D("100")
    o = limit(venue, "alice", SPOT, Side.BUY, "0.2", limit_price)
    assert o.fills[0].price == ask  # traded at the maker's price
    fee = D("0.2") * D("0.001")
    assert o.fills[0].fee == fee and o.fills[0].fee_asset == "BTC"
    assert bal(venue, "alice", "BTC") == (D("1") + D("0.2") - fee, D("0"))
    assert bal(venue, "alice", "USDT") == (D("100000") - D("0.2") * ask, D("0"))


def test_sell_fee_in_quote(venue: SimVenue) -> None:
    bid, _ = best(venue, SPOT)
    o = market(venue, "alice", SPOT, Side.SELL, "0.1")
    proceeds = D("0.1") * bid
    assert o.fills[0].fee == proceeds * D("0.001") and o.fills[0].fee_asset == "USDT"
    assert bal(venue, "alice", "USDT") == (D("100000") + proceeds - proceeds * D("0.001"), D("0"))
    assert bal(venue, "alice", "BTC") == (D("0.9"), D("0"))
    assert venue.fees_collected(SPOT) == {"USDT": proceeds * D("0.001")}


def test_maker_fill_spends_from_the_lock(venue: SimVenue) -> None:
    bid, ask = best(venue, SPOT)
    price = ask - D("0.01")
    limit(venue, "alice", SPOT, Side.SELL, "0.3", price)
    market(venue, "bob", SPOT, Side.BUY, "0.1")
    assert bal(venue, "alice", "BTC") == (D("0.7"), D("0.2"))
    assert bal(venue, "alice", "USDT")[0] == D("100000") + D("0.1") * price * (1 - D("0.001"))
    assert bid < price


def test_insufficient_balance(venue: SimVenue) -> None:
    with pytest.raises(SimReject) as info:
        limit(venue, "alice", SPOT, Side.SELL, "1.00001", "70000")
    assert info.value.reason is RejectReason.INSUFFICIENT_BALANCE
    with pytest.raises(SimReject) as info:
        market(venue, "alice", SPOT, Side.BUY, "2")  # ~120k USDT
    assert info.value.reason is RejectReason.INSUFFICIENT_BALANCE
    with pytest.raises(SimReject) as info:
        market(venue, "alice", SPOT, Side.SELL, "1.5")
    assert info.value.reason is RejectReason.INSUFFICIENT_BALANCE
    assert bal(venue, "alice", "BTC") == (D("1"), D("0"))


def test_balance_events_on_lock_fill_and_cancel(venue: SimVenue, events: list[SimEvent]) -> None:
    o = limit(venue, "alice", SPOT, Side.BUY, "0.1", "50000")
    ev = of_type(events, BalancesChanged)
    assert len(ev) == 1 and isinstance(ev[0], BalancesChanged)
    assert ev[0].reason is BalanceReason.ORDER and ev[0].kind is SPOT
    assert ev[0].balances["USDT"].free == D("95000") and ev[0].balances["USDT"].locked == D("5000")
    events.clear()
    venue.cancel_order("alice", SPOT, "BTCUSDT", order_id=o.order_id)
    ev = of_type(events, BalancesChanged)
    assert len(ev) == 1 and isinstance(ev[0], BalancesChanged) and ev[0].balances["USDT"].locked == 0
    events.clear()
    market(venue, "alice", SPOT, Side.BUY, "0.01")
    ev = of_type(events, BalancesChanged)
    assert len(ev) == 1 and isinstance(ev[0], BalancesChanged)
    assert set(ev[0].balances) == {"BTC", "USDT"}
    assert all(e.account != MARKET_MAKER for e in ev if isinstance(e, BalancesChanged))


def test_market_maker_inventory_mirrors_the_users(venue: SimVenue) -> None:
    market(venue, "alice", SPOT, Side.BUY, "0.3")
    free, _ = bal(venue, MARKET_MAKER, "BTC")
    assert free == D("-0.3")  # the maker sold what alice bought (it pays no fee)


def test_deposit_and_withdraw(venue: SimVenue, events: list[SimEvent]) -> None:
    venue.deposit("alice", SPOT, "SOL", D("5"))
    assert bal(venue, "alice", "SOL") == (D("5"), D("0"))
    ev = of_type(events, BalancesChanged)
    assert isinstance(ev[-1], BalancesChanged) and ev[-1].reason is BalanceReason.DEPOSIT
    venue.deposit("alice", SPOT, "SOL", D("-5"))
    with pytest.raises(SimReject) as info:
        venue.deposit("alice", SPOT, "SOL", D("-1"))
    assert info.value.reason is RejectReason.INSUFFICIENT_BALANCE
