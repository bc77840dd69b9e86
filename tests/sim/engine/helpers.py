"""Helpers for the simulator engine tests: a manual clock, a venue with fast funding, order shortcuts."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import ManualClock, SimConfig, SimEvent, SimOrder, SimVenue
from strategy_client.model import MarketKind, OrderType, Side, TimeInForce

START_MS = 1_700_000_000_000


def make_venue(**overrides: object) -> tuple[SimVenue, ManualClock]:
    """A venue on a manual clock with 60 s funding and accounts "alice" and "bob"."""
    clock = ManualClock(START_MS)
    cfg = msgspec.structs.replace(SimConfig(funding_interval_ms=60_000), **overrides)
    venue = SimVenue(cfg, clock=clock)
    venue.add_account("alice")
    venue.add_account("bob")
    return venue, clock


def limit(
    venue: SimVenue,
    account: str,
    kind: MarketKind,
    side: Side,
    qty: str,
    price: str | Decimal,
    tif: TimeInForce = TimeInForce.GTC,
    cid: str = "",
    symbol: str = "BTCUSDT",
    reduce_only: bool = False,
) -> SimOrder:
    return venue.place_order(
        account,
        kind,
        symbol,
        side,
        OrderType.LIMIT,
        tif,
        Decimal(qty),
        Decimal(price),
        cid,
        reduce_only=reduce_only,
    )


def market(
    venue: SimVenue,
    account: str,
    kind: MarketKind,
    side: Side,
    qty: str,
    cid: str = "",
    symbol: str = "BTCUSDT",
    reduce_only: bool = False,
) -> SimOrder:
    return venue.place_order(
        account,
        kind,
        symbol,
        side,
        OrderType.MARKET,
        TimeInForce.GTC,
        Decimal(qty),
        None,
        cid,
        reduce_only=reduce_only,
    )


def best(venue: SimVenue, kind: MarketKind, symbol: str = "BTCUSDT") -> tuple[Decimal, Decimal]:
    view = venue.book(kind, symbol, 1)
    return view.bids[0][0], view.asks[0][0]


def of_type(events: list[SimEvent], cls: type) -> list[SimEvent]:
    return [e for e in events if isinstance(e, cls)]
