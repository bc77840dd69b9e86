"""Exchange filters with exact Decimal arithmetic; each failure is a SimReject with its reason.

Order of checks (as a venue does): quantity (positive, step, min, max) → price (positive,
tick, min/max, percent band) → notional. Binance futures' tick rule ``(price - min_price) %
tick == 0`` is used for both kinds (it equals ``price % tick`` when min_price is on the grid).
"""

from __future__ import annotations

from decimal import Decimal

from strategy_client.model import Side

from .config import SymbolSpec
from .errors import RejectReason, SimReject

__all__ = ["check_qty", "check_price", "check_notional"]

ZERO = Decimal(0)


def check_qty(spec: SymbolSpec, qty: Decimal, *, market: bool) -> None:
    if not qty.is_finite() or qty <= 0:
        raise SimReject(RejectReason.INVALID_QTY, f"quantity {qty} must be positive")
    if qty % spec.step_size != 0:
        raise SimReject(RejectReason.LOT_SIZE, f"quantity {qty} is not a multiple of {spec.step_size}")
    if qty < spec.min_qty:
        raise SimReject(RejectReason.LOT_SIZE, f"quantity {qty} below minimum {spec.min_qty}")
    hi = spec.market_max if market else spec.max_qty
    if hi > 0 and qty > hi:
        raise SimReject(RejectReason.MAX_QTY, f"quantity {qty} above maximum {hi}")


def check_price(spec: SymbolSpec, side: Side, price: Decimal, reference: Decimal) -> None:
    """Tick grid, absolute bounds and the percent band around ``reference`` (mark / fair)."""
    if not price.is_finite() or price <= 0:
        raise SimReject(RejectReason.INVALID_PRICE, f"price {price} must be positive")
    if (price - spec.min_price) % spec.tick_size != 0:
        raise SimReject(RejectReason.PRICE_FILTER, f"price {price} is not on the tick {spec.tick_size}")
    if spec.min_price > 0 and price < spec.min_price:
        raise SimReject(RejectReason.PRICE_FILTER, f"price {price} below {spec.min_price}")
    if spec.max_price > 0 and price > spec.max_price:
        raise SimReject(RejectReason.PRICE_FILTER, f"price {price} above {spec.max_price}")
    if reference > 0:
        if side is Side.BUY and spec.percent_price_up > 0 and price > reference * spec.percent_price_up:
            raise SimReject(
                RejectReason.PERCENT_PRICE,
                f"buy price {price} above {spec.percent_price_up} x reference {reference}",
            )
        if side is Side.SELL and spec.percent_price_down > 0 and price < reference * spec.percent_price_down:
            raise SimReject(
                RejectReason.PERCENT_PRICE,
                f"sell price {price} below {spec.percent_price_down} x reference {reference}",
            )


def check_notional(spec: SymbolSpec, qty: Decimal, price: Decimal, *, reduce_only: bool) -> None:
    if reduce_only or spec.min_notional <= 0:
        return
    notional = qty * price
    if notional < spec.min_notional:
        raise SimReject(RejectReason.MIN_NOTIONAL, f"notional {notional} below {spec.min_notional}")
