"""Matching a taker against a book, and planning a match without doing it.

Price-time priority; trades happen at the maker's price. Self-trade prevention is Binance's
default EXPIRE_MAKER: a resting order of the taker's own account is expired (the market maker's
own quotes are simply withdrawn) and matching goes on. Reduce-only orders (taker or maker)
trade at most what closes their position.
"""

from __future__ import annotations

from decimal import Decimal

from strategy_client.model import OrderStatus, Side

from .accounts import Account
from .book import MatchingBook
from .config import SymbolSpec
from .core import EngineCore
from .orders import ExpireReason, SimOrder
from .settlement import finish_order, reduce_only_capacity, settle_trade

__all__ = ["match", "plan", "Plan"]

ZERO = Decimal(0)


class Plan:
    """What a taker would get: quantity and cost (sum of price x qty)."""

    __slots__ = ("qty", "cost")

    def __init__(self, qty: Decimal, cost: Decimal) -> None:
        self.qty = qty
        self.cost = cost


def match(
    core: EngineCore,
    book: MatchingBook,
    spec: SymbolSpec,
    taker_account: Account,
    taker_order: SimOrder | None,
    side: Side,
    limit: Decimal | None,
    qty: Decimal,
    ts_ms: int,
) -> Decimal:
    """Trade up to ``qty`` against the book (to ``limit``; None = any price). Returns the
    quantity traded."""
    opposite = book.opposite(side)
    remaining = qty
    taker_id = taker_account.account_id
    taker_ro = taker_order is not None and taker_order.reduce_only
    while remaining > 0:
        entry = opposite.best_entry()
        if entry is None:
            break
        if limit is not None and not opposite.crosses(entry.price, limit):
            break
        maker_order = entry.order
        if entry.account == taker_id:
            if maker_order is None:
                book.cancel(entry)
                core.touch_book(book)
            else:
                finish_order(core, maker_order, OrderStatus.EXPIRED, ExpireReason.SELF_TRADE, ts_ms)
            continue
        take = remaining if remaining < entry.qty else entry.qty
        if taker_ro:
            assert taker_order is not None
            cap = reduce_only_capacity(taker_account, taker_order)
            if cap <= 0:
                break
            take = min(take, cap)
        if maker_order is not None and maker_order.reduce_only:
            cap = reduce_only_capacity(core.accounts[entry.account], maker_order)
            if cap <= 0:
                finish_order(core, maker_order, OrderStatus.EXPIRED, ExpireReason.REDUCE_ONLY, ts_ms)
                continue
            take = min(take, cap)
        settle_trade(core, book, spec, taker_account, taker_order, side, entry, take, ts_ms)
        remaining -= take
    return qty - remaining


def plan(
    core: EngineCore,
    book: MatchingBook,
    taker_account: str,
    side: Side,
    limit: Decimal | None,
    qty: Decimal | None,
    quote_budget: Decimal | None,
    step: Decimal,
) -> Plan:
    """What ``match`` would trade, without changing anything.

    Either ``qty`` (base quantity) or ``quote_budget`` (spend at most this much quote, each
    level's take rounded down to ``step``). Own entries are skipped (they would be expired by
    self-trade prevention); makers' reduce-only capacity is respected.
    """
    opposite = book.opposite(side)
    remaining = qty if qty is not None else ZERO
    budget = quote_budget
    got = ZERO
    cost = ZERO
    used: dict[str, Decimal] = {}
    for entry in opposite.entries():
        price = entry.price
        if limit is not None and not opposite.crosses(price, limit):
            break
        if entry.account == taker_account:
            continue
        avail = entry.qty
        order = entry.order
        ro_account: str | None = None
        if order is not None and order.reduce_only:
            ro_account = entry.account
            cap = reduce_only_capacity(core.accounts[ro_account], order) - used.get(ro_account, ZERO)
            if cap <= 0:
                continue
            if cap < avail:
                avail = cap
        if budget is not None:
            affordable = (budget // (price * step)) * step
            take = avail if avail < affordable else affordable
            if take <= 0:
                if side is Side.BUY:
                    break  # asks only get dearer
                continue  # bids get cheaper: a later level may still fit a step
            budget -= take * price
        else:
            take = avail if avail < remaining else remaining
            remaining -= take
        if ro_account is not None:
            used[ro_account] = used.get(ro_account, ZERO) + take
        got += take
        cost += take * price
        if budget is None and remaining <= 0:
            break
    return Plan(got, cost)
