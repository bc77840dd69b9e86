"""The one place where prices and quantities are fitted to a venue's filters.

Rules (each is a hypothesis property in ``tests/model/test_rounding.py``):

* a quantity is always rounded **down** to the step: we never trade more than asked;
* a price is rounded to the tick *away from crossing*: a buy rounds down and a sell rounds up,
  so rounding never makes an order more aggressive than asked (``aggressive=True`` inverts this
  for orders that must cross, e.g. a marketable hedge);
* :func:`fit_order` either returns an order that passes every filter of the instrument or
  raises :class:`OrderTooSmall` / :class:`PriceOutOfRange` naming the filter — never an order
  the venue would reject for a filter.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from .enums import OrderType, Side
from .instrument import Instrument

__all__ = [
    "FilterViolation",
    "OrderTooSmall",
    "PriceOutOfRange",
    "FittedOrder",
    "round_down",
    "round_up",
    "round_price",
    "round_qty",
    "fit_order",
    "check_order",
    "to_plain",
]


class FilterViolation(ValueError):
    """An order that no rounding can make pass the named filter."""

    def __init__(self, filter_name: str, message: str) -> None:
        super().__init__(f"{filter_name}: {message}")
        self.filter_name = filter_name


class OrderTooSmall(FilterViolation):
    pass


class PriceOutOfRange(FilterViolation):
    pass


class FittedOrder(msgspec.Struct, frozen=True):
    price: Decimal | None
    qty: Decimal


def _snap(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    units = (value / step).to_integral_value(rounding=rounding)
    # quantize to the step's exponent so the text form has no excess digits or exponents
    return (units * step).quantize(step)


def round_down(value: Decimal, step: Decimal) -> Decimal:
    return _snap(value, step, ROUND_FLOOR)


def round_up(value: Decimal, step: Decimal) -> Decimal:
    return _snap(value, step, ROUND_CEILING)


def round_price(inst: Instrument, side: Side, price: Decimal, *, aggressive: bool = False) -> Decimal:
    """Fit ``price`` to the tick: passive by default (buy down, sell up)."""
    down = (side is Side.BUY) != aggressive
    return round_down(price, inst.tick_size) if down else round_up(price, inst.tick_size)


def round_qty(inst: Instrument, qty: Decimal, order_type: OrderType = OrderType.LIMIT) -> Decimal:
    step = inst.market_filters()[0] if order_type is OrderType.MARKET else inst.step_size
    return round_down(qty, step)


def to_plain(value: Decimal) -> str:
    """Decimal → text without exponent, as venues expect (``1E-8`` → ``0.00000001``)."""
    text = format(value, "f")
    return text


def check_order(
    inst: Instrument,
    order_type: OrderType,
    qty: Decimal,
    price: Decimal | None,
    *,
    reference_price: Decimal | None = None,
    reduce_only: bool = False,
) -> list[str]:
    """Every filter the order breaks, by venue filter name; empty when it passes.

    ``reference_price`` values a MARKET order's notional (venues use mark or average price).
    """
    problems: list[str] = []
    if order_type is OrderType.MARKET:
        step, lo, hi = inst.market_filters()
        lot = "MARKET_LOT_SIZE"
    else:
        step, lo, hi = inst.step_size, inst.min_qty, inst.max_qty
        lot = "LOT_SIZE"
    if qty <= 0:
        problems.append(f"{lot}: quantity {to_plain(qty)} must be positive")
    if step > 0 and qty % step != 0:
        problems.append(f"{lot}: quantity {to_plain(qty)} is not a multiple of {to_plain(step)}")
    if qty < lo:
        problems.append(f"{lot}: quantity {to_plain(qty)} below minimum {to_plain(lo)}")
    if hi > 0 and qty > hi:
        problems.append(f"{lot}: quantity {to_plain(qty)} above maximum {to_plain(hi)}")
    if order_type is OrderType.LIMIT:
        if price is None or price <= 0:
            problems.append("PRICE_FILTER: a limit order needs a positive price")
        else:
            if inst.tick_size > 0 and price % inst.tick_size != 0:
                problems.append(
                    f"PRICE_FILTER: price {to_plain(price)} is not a multiple of {to_plain(inst.tick_size)}"
                )
            if inst.min_price > 0 and price < inst.min_price:
                problems.append(f"PRICE_FILTER: price {to_plain(price)} below {to_plain(inst.min_price)}")
            if inst.max_price > 0 and price > inst.max_price:
                problems.append(f"PRICE_FILTER: price {to_plain(price)} above {to_plain(inst.max_price)}")
    value_price = price if order_type is OrderType.LIMIT else reference_price
    if inst.min_notional > 0 and value_price is not None and not reduce_only:
        notional = qty * value_price
        if notional < inst.min_notional:
            problems.append(
                f"MIN_NOTIONAL: notional {to_plain(notional)} below {to_plain(inst.min_notional)}"
            )
    return problems


def fit_order(
    inst: Instrument,
    side: Side,
    order_type: OrderType,
    qty: Decimal,
    price: Decimal | None = None,
    *,
    reference_price: Decimal | None = None,
    aggressive: bool = False,
    reduce_only: bool = False,
) -> FittedOrder:
    """Round an intended order onto the instrument's grid, or explain why it cannot pass.

    The quantity only ever goes down; the price moves by less than one tick, passively
    unless ``aggressive``. Raises :class:`OrderTooSmall` when the rounded order is below a
    minimum, :class:`PriceOutOfRange` when the price is outside the venue's band.
    """
    fitted_price: Decimal | None = None
    if order_type is OrderType.LIMIT:
        if price is None or price <= 0:
            raise PriceOutOfRange("PRICE_FILTER", "a limit order needs a positive price")
        fitted_price = round_price(inst, side, price, aggressive=aggressive)
        if fitted_price <= 0 or (inst.min_price > 0 and fitted_price < inst.min_price):
            raise PriceOutOfRange("PRICE_FILTER", f"price {to_plain(price)} below the minimum")
        if inst.max_price > 0 and fitted_price > inst.max_price:
            raise PriceOutOfRange("PRICE_FILTER", f"price {to_plain(price)} above the maximum")
    step, lo, hi = (
        inst.market_filters()
        if order_type is OrderType.MARKET
        else (inst.step_size, inst.min_qty, inst.max_qty)
    )
    capped = min(qty, hi) if hi > 0 else qty
    fitted_qty = round_down(capped, step)
    if fitted_qty <= 0 or fitted_qty < lo:
        raise OrderTooSmall(
            "LOT_SIZE", f"quantity {to_plain(qty)} rounds to {to_plain(fitted_qty)}, below {to_plain(lo)}"
        )
    value_price = fitted_price if fitted_price is not None else reference_price
    if inst.min_notional > 0 and value_price is not None and not reduce_only:
        notional = fitted_qty * value_price
        if notional < inst.min_notional:
            raise OrderTooSmall(
                "MIN_NOTIONAL",
                f"notional {to_plain(notional)} below {to_plain(inst.min_notional)}",
            )
    return FittedOrder(fitted_price, fitted_qty)
