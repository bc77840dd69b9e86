"""Synthetic liquidity: the price ladder a market maker quotes around a fair price."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

__all__ = ["Quote", "quote_ladder", "to_tick"]


class Quote(msgspec.Struct, frozen=True):
    """Bid prices best (highest) first, ask prices best (lowest) first, one quantity per level."""

    bids: tuple[Decimal, ...]
    asks: tuple[Decimal, ...]
    qty: Decimal


def to_tick(value: float | Decimal, tick: Decimal, rounding: str) -> Decimal:
    """``value`` on the tick grid (ROUND_FLOOR / ROUND_CEILING / ROUND_HALF_EVEN), exact."""
    units = (Decimal(value) / tick).to_integral_value(rounding=rounding)
    return (units * tick).quantize(tick)


def quote_ladder(
    fair: float,
    *,
    tick: Decimal,
    half_spread_bps: float,
    spacing_ticks: int,
    levels: int,
    qty: Decimal,
    min_price: Decimal,
    max_price: Decimal,
) -> Quote:
    """``levels`` bids below and asks above ``fair``, never crossing.

    The best bid is ``fair`` minus the half spread rounded down to the tick, the best ask the
    same rounded up, at least one tick apart. Deeper levels sit on a fixed grid of multiples of
    ``spacing_ticks`` ticks, so when the fair price moves only the top and the edges of the
    ladder change (small book diffs, stable queue positions). Levels outside
    ``[min_price, max_price]`` (0 = unbounded) or at/below zero are left out.
    """
    if levels <= 0 or qty <= 0 or fair <= 0:
        return Quote((), (), qty)
    hs = half_spread_bps / 10_000.0
    best_bid = to_tick(fair * (1.0 - hs), tick, ROUND_FLOOR)
    best_ask = to_tick(fair * (1.0 + hs), tick, ROUND_CEILING)
    if best_ask <= best_bid:
        best_ask = best_bid + tick
    gap = tick * max(spacing_ticks, 1)
    floor = max(min_price, tick)
    bids: list[Decimal] = []
    asks: list[Decimal] = []
    # the grid price strictly below the best bid / strictly above the best ask
    price = best_bid
    next_bid = ((best_bid - tick) // gap) * gap
    for _ in range(levels):
        if price < floor:
            break
        if max_price <= 0 or price <= max_price:
            bids.append(price)
        price = next_bid
        next_bid = price - gap
    price = best_ask
    next_ask = (best_ask // gap) * gap + gap
    for _ in range(levels):
        if max_price > 0 and price > max_price:
            break
        if price >= floor:
            asks.append(price)
        price = next_ask
        next_ask = price + gap
    return Quote(tuple(bids), tuple(asks), qty)
