"""StateInputs: :class:`RiskInputs` over the state objects a runner's actors already hold.

The runner builds one at start and hands it to the gate; every method only reads:

* ``positions`` — the position actor's store (``InstrumentKey → Position``, perps);
* ``account()`` — the account actor's current :class:`AccountSnapshot` (spot balances, margin);
* ``book(key)`` — the price actor's last book of ``key`` if fresh, else None;
* ``mark(key)`` — the last mark price of a perp if fresh, else None.

(Open orders are not read here: the gate keeps them in its own tally.)

Definitions (docs/risk.md):

* a perp's position is its signed size; a spot instrument's position is the total (free +
  locked) balance of its base asset;
* the reference price is the mark for a perp (the book mid when no mark is known), the book mid
  for spot; the touch is the best ask (to buy) or best bid (to sell) of a fresh book;
* equity is every margin asset's margin balance (wallet + unrealised PnL) plus, for spot, the
  quote assets' balances and the base assets' balances valued at their spot reference. With
  ``unified_wallet`` (Bybit's and OKX's unified accounts, where a settle coin is listed both as a
  balance and as margin) an asset that is a margin asset is counted once, as margin. Only the
  assets of served instruments count; a base balance that cannot be valued makes equity unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from strategy_client.model import AccountSnapshot, Instrument, InstrumentKey, MarketKind, OrderBook, Position, Side

__all__ = ["StateInputs"]

ZERO = Decimal(0)


def _no_mark(key: InstrumentKey) -> Decimal | None:
    return None


class StateInputs:
    def __init__(
        self,
        *,
        instruments: Mapping[InstrumentKey, Instrument],
        positions: Mapping[InstrumentKey, Position],
        account: Callable[[], AccountSnapshot | None],
        book: Callable[[InstrumentKey], OrderBook | None],
        mark: Callable[[InstrumentKey], Decimal | None] = _no_mark,
        unified_wallet: bool = False,
    ) -> None:
        self.positions = positions
        self.account = account
        self.book = book
        self.mark = mark
        self.unified_wallet = unified_wallet
        self._base = {k: i.base for k, i in instruments.items() if k.kind is MarketKind.SPOT}
        self._quotes = frozenset(i.quote for k, i in instruments.items() if k.kind is MarketKind.SPOT)
        self._settles = frozenset(i.settle for k, i in instruments.items() if k.kind is MarketKind.PERP)
        self._spot_by_base = {i.base: k for k, i in instruments.items() if k.kind is MarketKind.SPOT}
        self._spot_keys = tuple(self._base)
        self._seen: AccountSnapshot | None = None
        self._balances: dict[str, Decimal] = {}
        self._mids: dict[InstrumentKey, tuple[OrderBook, Decimal | None]] = {}
        self._equity: tuple[AccountSnapshot, tuple[OrderBook | None, ...], Decimal | None] | None = None

    def _balance_map(self) -> dict[str, Decimal]:
        snap = self.account()
        if snap is not self._seen:  # a new snapshot object: rebuild once, then O(1) per read
            self._seen = snap
            self._balances = {b.asset: b.total for b in snap.balances} if snap is not None else {}
        return self._balances

    def position(self, key: InstrumentKey) -> Decimal:
        base = self._base.get(key)
        if base is None:  # a perp
            pos = self.positions.get(key)
            return pos.size if pos is not None else ZERO
        return self._balance_map().get(base, ZERO)

    def reference_price(self, key: InstrumentKey) -> Decimal | None:
        if key.kind is MarketKind.PERP:
            mark = self.mark(key)
            if mark:
                return mark
        book = self.book(key)
        if book is None:
            return None
        memo = self._mids.get(key)
        if memo is not None and memo[0] is book:  # books are immutable: one mid per book object
            return memo[1]
        mid = book.mid
        self._mids[key] = (book, mid)
        return mid

    def touch_price(self, key: InstrumentKey, side: Side) -> Decimal | None:
        book = self.book(key)
        if book is None:
            return None
        level = book.best_ask if side is Side.BUY else book.best_bid
        return level.price if level is not None else None

    def equity(self) -> Decimal | None:
        snap = self.account()
        if snap is None:
            return None
        memo = self._equity
        if memo is not None and memo[0] is snap:  # same snapshot and the same spot books: same equity
            book = self.book
            for k, b in zip(self._spot_keys, memo[1], strict=True):
                if book(k) is not b:
                    break
            else:
                return memo[2]
        value = self._value(snap)
        self._equity = (snap, tuple(self.book(k) for k in self._spot_keys), value)
        return value

    def _value(self, snap: AccountSnapshot) -> Decimal | None:
        total = ZERO
        margin_assets: set[str] = set()
        for m in snap.margin:
            if m.asset in self._settles:
                total += m.margin_balance or (m.wallet_balance + m.unrealized_pnl)
                margin_assets.add(m.asset)
        for asset, amount in self._balance_map().items():
            if not amount or (self.unified_wallet and asset in margin_assets):
                continue
            if asset in self._quotes:
                total += amount
            elif asset in self._spot_by_base:
                ref = self.reference_price(self._spot_by_base[asset])
                if ref is None:
                    return None
                total += amount * ref
        return total
