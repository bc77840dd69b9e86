"""One unified wallet over the engine's two: move the settle coin to where an order needs it.

Bybit's unified trading account has one balance per coin for spot and derivatives; the engine
keeps a spot wallet and a futures margin account. When an order is refused for funds
(spot: INSUFFICIENT_BALANCE, linear: INSUFFICIENT_MARGIN), the free settle coin of the other
side is moved over and the order is tried once more. The unified view (``payloads_account``)
is the sum of both sides, so such a move is invisible to clients; while it happens
``core.pooling`` is set so the private stream does not report it as a deposit.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from exchanges.sim.engine import RejectReason, SimReject
from strategy_client.model import MarketKind

from .core import BybitCore

__all__ = ["with_pooled_funds", "pool_into"]

T = TypeVar("T")
ZERO = Decimal(0)
_FUNDS = frozenset({RejectReason.INSUFFICIENT_BALANCE, RejectReason.INSUFFICIENT_MARGIN})


def pool_into(core: BybitCore, kind: MarketKind, asset: str) -> Decimal:
    """Move the other side's free ``asset`` into ``kind``'s wallet; the amount moved."""
    venue, account = core.venue, core.account
    if kind is MarketKind.SPOT:
        try:
            available = venue.futures_account(account, asset).available
        except SimReject:
            return ZERO
        amount = max(ZERO, available)
        source, target = MarketKind.PERP, MarketKind.SPOT
    else:
        amount = venue.spot_balances(account).get(asset, (ZERO, ZERO))[0]
        source, target = MarketKind.SPOT, MarketKind.PERP
    if amount <= 0:
        return ZERO
    core.pooling = True
    try:
        venue.deposit(account, source, asset, -amount)
        venue.deposit(account, target, asset, amount)
    finally:
        core.pooling = False
    return amount


def with_pooled_funds(core: BybitCore, kind: MarketKind, settle: str, attempt: Callable[[], T]) -> T:
    """``attempt()``; if refused for funds, pool ``settle`` into ``kind`` and try once more."""
    try:
        return attempt()
    except SimReject as exc:
        if exc.reason not in _FUNDS or pool_into(core, kind, settle) <= 0:
            raise
    return attempt()
