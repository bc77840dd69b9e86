"""Cross-margin arithmetic for one futures account (pure functions of its state and marks).

* position initial margin = |size| x mark / leverage; maintenance = |size| x mark x mmr;
* open-order initial margin per symbol (one-way netting): on each side only the quantity that
  would not close the current position needs margin, and the larger side counts
  (``max(buy, sell)``), each valued at the side's average order price / leverage — the shared
  ledger core's ``order_initial_margin`` (``strategy_client.model.ledger``), as is the position;
* available = wallet + unrealized - position IM - open-order IM;
* liquidation price (cross): the mark at which margin balance = maintenance margin, holding the
  other positions' PnL and maintenance fixed; 0 when there is none.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from strategy_client.model.ledger import order_initial_margin, position_margin

from .accounts import FuturesAccount, Position
from .config import SymbolSpec
from .views import PositionView

__all__ = ["MarginSummary", "order_initial_margin", "summarize", "position_view", "liquidation_price"]

ZERO = Decimal(0)


class MarginSummary(msgspec.Struct, frozen=True, kw_only=True):
    asset: str
    wallet: Decimal
    unrealized: Decimal
    position_im: Decimal
    order_im: Decimal
    maint: Decimal

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet + self.unrealized

    @property
    def initial_margin(self) -> Decimal:
        return self.position_im + self.order_im

    @property
    def available(self) -> Decimal:
        return self.margin_balance - self.initial_margin


def summarize(
    account: FuturesAccount,
    asset: str,
    specs: dict[str, SymbolSpec],
    marks: dict[str, Decimal],
    default_leverage: int,
    mmr: Decimal,
) -> MarginSummary:
    """Totals over every perp settled in ``asset`` (``specs`` keyed by perp symbol)."""
    upnl = ZERO
    pos_im = ZERO
    ord_im = ZERO
    maint = ZERO
    positions, exposure = account.positions, account.exposure
    for symbol, spec in specs.items():  # config order: sums are computed in a fixed order
        if spec.quote != asset or (symbol not in positions and symbol not in exposure):
            continue
        lev = account.leverage.get(symbol, default_leverage)
        pos = account.positions.get(symbol)
        size = pos.size if pos is not None else ZERO
        if pos is not None and size != 0:
            p_upnl, p_im, p_mm = position_margin(size, pos.entry, marks[symbol], lev, mmr)
            upnl += p_upnl
            pos_im += p_im
            maint += p_mm
        exp = exposure.get(symbol)
        if exp is not None:
            ord_im += exp.initial_margin(size, lev)
    return MarginSummary(
        asset=asset,
        wallet=account.wallet.get(asset, ZERO),
        unrealized=upnl,
        position_im=pos_im,
        order_im=ord_im,
        maint=maint,
    )


def liquidation_price(
    size: Decimal, entry: Decimal, cushion: Decimal, mmr: Decimal, tick: Decimal
) -> Decimal:
    """Solve ``cushion + size x (P - entry) = mmr x |size| x P`` for P (0 = no liquidation).

    ``cushion`` is the wallet plus the other positions' PnL minus their maintenance margin.
    """
    if size == 0:
        return ZERO
    denom = size - mmr * abs(size)
    if denom == 0:
        return ZERO
    price = (size * entry - cushion) / denom
    if price <= 0:
        return ZERO
    return price.quantize(tick, rounding=ROUND_HALF_EVEN)


def position_view(
    symbol: str,
    spec: SymbolSpec,
    pos: Position | None,
    leverage: int,
    mark: Decimal,
    summary: MarginSummary,
    mmr: Decimal,
) -> PositionView:
    size = pos.size if pos is not None else ZERO
    entry = pos.entry if pos is not None else ZERO
    notional = size * mark
    upnl, im, mm = position_margin(size, entry, mark, leverage, mmr)
    cushion = summary.wallet + (summary.unrealized - upnl) - (summary.maint - mm)
    liq = liquidation_price(size, entry, cushion, mmr, spec.tick_size)
    return PositionView(
        symbol=symbol,
        size=size,
        entry_price=entry,
        break_even_price=pos.break_even() if pos is not None else ZERO,
        mark=mark,
        unrealized=upnl,
        realized=pos.realized if pos is not None else ZERO,
        leverage=leverage,
        liquidation_price=liq,
        notional=notional,
        initial_margin=im,
        maint_margin=mm,
        margin_asset=spec.quote,
        update_ms=pos.update_ms if pos is not None else 0,
    )
