"""From a signal to an order: its type (market / limit / post-only), price and quantity, and the
client order ids derived from the signal id. Pure (no I/O, no clock): tested on its own.

Order type, by the signal's urgency, its limit price and the spread at receipt:

| urgency | limit price | spread ≤ ``tight_spread_bps`` | order |
|---|---|---|---|
| high | none | any | MARKET |
| high | given | any | LIMIT IOC at the limit price (takes what is there up to it, nothing rests) |
| normal | given | any | LIMIT GTC at the limit price (rests what does not fill; cancelled at the TTL) |
| normal | none | yes | MARKET |
| normal | none | no | LIMIT GTC at the mid (inside the spread; cancelled at the TTL) |
| low | any | any | post-only LIMIT at our own touch (best bid to buy, best ask to sell; never past the limit price) |

Quantity: ``qty`` (base), else ``notional`` / the price the order is sized at (the limit price,
else the touch it would take, else the mid), else ``risk_budget × strength / |price − stop_loss|``
(the loss at the stop is the budget), else ``default_notional × strength``; then rounded down to
the instrument's step, checked against its minimum quantity and notional
(``strategy_client.model.fit_order``).
"""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal

import msgspec

from strategy_client.model import (
    FilterViolation,
    Instrument,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    fit_order,
    round_qty,
    to_plain,
)

from .schema import RejectReason, Signal, SignalRejected, Urgency

__all__ = ["PlanConfig", "OrderPlan", "plan_order", "client_id", "slippage_bps", "close_request", "describe"]

ZERO = Decimal(0)
BPS = Decimal(10_000)


class PlanConfig(msgspec.Struct, frozen=True, kw_only=True):
    tight_spread_bps: Decimal = Decimal(5)
    risk_budget: Decimal | None = None  # quote lost at the stop, per signal of strength 1
    default_notional: Decimal | None = None  # quote, per signal of strength 1 without a size
    min_confidence: float = 0.0


class OrderPlan(msgspec.Struct, frozen=True, kw_only=True):
    request: OrderRequest
    why: str  # how the type was chosen (in the enriched events)
    reference: Decimal  # the price at receipt the slippage is measured against (signal price, else mid)


def client_id(signal_id: str, role: str) -> str:
    """``sg<26 base32 of sha256(signal id)>-<role>``: the same signal always names the same
    order (a redelivery cannot place another: the journal and the runner refuse a used id)."""
    digest = base64.b32encode(hashlib.sha256(signal_id.encode()).digest()).decode().rstrip("=").lower()
    return f"sg{digest[:26]}-{role[:2]}"


Choice = tuple[OrderType, TimeInForce, Decimal | None, str]


def _choose(sig: Signal, bid: Decimal | None, ask: Decimal | None, cfg: PlanConfig) -> Choice:
    buy = sig.side is Side.BUY
    touch_own = bid if buy else ask
    limit = sig.limit_price
    if sig.urgency is Urgency.HIGH:
        if limit is None:
            return OrderType.MARKET, TimeInForce.GTC, None, "urgency high: market"
        return OrderType.LIMIT, TimeInForce.IOC, limit, "urgency high with a limit price: limit IOC"
    if sig.urgency is Urgency.LOW:
        if touch_own is None:
            raise SignalRejected(RejectReason.INVALID, "urgency low needs a book to rest at the touch; none yet")
        price = touch_own if limit is None else (min(touch_own, limit) if buy else max(touch_own, limit))
        return OrderType.LIMIT, TimeInForce.POST_ONLY, price, "urgency low: post-only at our touch"
    if limit is not None:
        return OrderType.LIMIT, TimeInForce.GTC, limit, "limit price given: limit GTC"
    if bid is None or ask is None:
        return OrderType.MARKET, TimeInForce.GTC, None, "no book at receipt: market"
    mid = (bid + ask) / 2
    spread = (ask - bid) / mid * BPS
    if spread <= cfg.tight_spread_bps:
        return OrderType.MARKET, TimeInForce.GTC, None, f"spread {spread:.2f} bps ≤ {cfg.tight_spread_bps}: market"
    return OrderType.LIMIT, TimeInForce.GTC, mid, f"spread {spread:.2f} bps > {cfg.tight_spread_bps}: limit at mid"


def _size(sig: Signal, at: Decimal, cfg: PlanConfig) -> Decimal:
    strength = Decimal(repr(sig.strength))
    if sig.qty is not None:
        return sig.qty
    if sig.notional is not None:
        return sig.notional / at
    if sig.stop_loss is not None and cfg.risk_budget is not None:
        risk = abs(at - sig.stop_loss)
        if risk == 0:
            raise SignalRejected(RejectReason.INVALID, "stop_loss at the entry price: no size from the risk budget")
        return cfg.risk_budget * strength / risk
    if cfg.default_notional is not None:
        return cfg.default_notional * strength / at
    raise SignalRejected(
        RejectReason.INVALID, "no size: give qty or notional, or a stop_loss with --risk-budget, or --default-notional"
    )


def plan_order(sig: Signal, inst: Instrument, bid: Decimal | None, ask: Decimal | None, cfg: PlanConfig) -> OrderPlan:
    """The entry order for ``sig``; :class:`SignalRejected` (invalid) when no order can carry it."""
    if sig.confidence < cfg.min_confidence:
        raise SignalRejected(RejectReason.INVALID, f"confidence {sig.confidence} below {cfg.min_confidence}")
    otype, tif, price, why = _choose(sig, bid, ask, cfg)
    buy = sig.side is Side.BUY
    mid = (bid + ask) / 2 if bid is not None and ask is not None else None
    touch = ask if buy else bid
    at = price or touch or mid or sig.price
    if at is None:
        raise SignalRejected(RejectReason.INVALID, "no price to size or value the order at (no book, no signal price)")
    qty = _size(sig, at, cfg)
    try:
        fitted = fit_order(inst, sig.side, otype, qty, price, reference_price=at)
    except FilterViolation as exc:
        raise SignalRejected(RejectReason.INVALID, f"{inst.key}: {exc}") from None
    req = OrderRequest(
        key=inst.key,
        side=sig.side,
        type=otype,
        qty=fitted.qty,
        price=fitted.price,
        tif=tif,
        client_id=client_id(sig.id, "entry"),
    )
    return OrderPlan(request=req, why=why, reference=sig.price or mid or at)


def close_request(inst: Instrument, side: Side, qty: Decimal, cid: str, perp: bool) -> OrderRequest | None:
    """The reduce-only market order that closes what a signal's entry filled (stop-loss /
    take-profit); None when that rounds to nothing (dust below one step)."""
    fitted = round_qty(inst, qty, OrderType.MARKET)
    if fitted <= 0:
        return None
    return OrderRequest(
        key=inst.key,
        side=Side.SELL if side is Side.BUY else Side.BUY,
        type=OrderType.MARKET,
        qty=fitted,
        reduce_only=perp,
        client_id=cid,
    )


def slippage_bps(side: Side, avg: Decimal | None, reference: Decimal) -> Decimal | None:
    """How much worse than ``reference`` the average fill was, in bps (negative: better)."""
    if avg is None or reference <= 0:
        return None
    sign = 1 if side is Side.BUY else -1
    return ((avg - reference) / reference * BPS * sign).quantize(Decimal("0.01"))


def describe(req: OrderRequest) -> str:
    price = "" if req.price is None else f" @ {to_plain(req.price)}"
    return f"{req.side} {to_plain(req.qty)} {req.key} {req.type} {req.tif}{price}"
