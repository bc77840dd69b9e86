"""Amend a resting LIMIT order in place: new total quantity and/or price, same order id.

As the venues do it: a smaller quantity at the same price keeps the order's place in the
queue; a new price or a larger quantity sends it to the back of its (new) level, and a new
price that crosses the book trades at once, as a taker (a post-only order that would take is
refused). The new quantity is the order's total, and must stay above what already traded.

Everything that can refuse the amend runs before anything changes (a ``SimReject`` leaves the
venue untouched). Then one ``AMENDED`` event, and a ``TRADE`` per fill when it crosses.
"""

from __future__ import annotations

from decimal import Decimal

from strategy_client.model import MarketKind, OrderType, Side, TimeInForce
from strategy_client.model.ledger import added_order_margin

from .accounts import Account
from .book import MatchingBook, Resting
from .config import SymbolSpec
from .core import EngineCore
from .errors import RejectReason, SimReject
from .events import ExecType, OrderChanged
from .filters import check_notional, check_price, check_qty
from .matching import match
from .orders import SimOrder
from .settlement import locked_for
from .trading import after_match

__all__ = ["amend_order"]

ZERO = Decimal(0)


def _resting(
    core: EngineCore, account_id: str, kind: MarketKind, symbol: str, order_id: int | None, client_order_id: str | None
) -> tuple[SimOrder, Resting]:
    if order_id is None and client_order_id is None:
        raise SimReject(RejectReason.INVALID_ORDER, "give an order id or a client order id")
    order = core.store.find(account_id, kind, symbol, order_id, client_order_id)
    if order is None or not order.is_open:
        raise SimReject(RejectReason.UNKNOWN_ORDER, f"no open order {order_id or client_order_id}")
    entry = core.store.resting.get(order.order_id)
    if entry is None or order.type is not OrderType.LIMIT:
        raise SimReject(RejectReason.INVALID_ORDER, "only a resting limit order can be amended")
    return order, entry


def _check_spot_funds(account: Account, spec: SymbolSpec, order: SimOrder, qty: Decimal, price: Decimal) -> None:
    """The extra balance the amended order locks (its new remainder against the old lock)."""
    old = locked_for(order, order.qty - order.executed_qty)
    remaining = qty - order.executed_qty
    new = remaining * price if order.side is Side.BUY else remaining
    if new > old:
        account.spot.require(spec.quote if order.side is Side.BUY else spec.base, new - old)


def _check_perp_margin(
    core: EngineCore, account: Account, spec: SymbolSpec, order: SimOrder, qty: Decimal, price: Decimal
) -> None:
    """The initial margin of the amended remainder, with the old one taken off the exposure
    (put back before returning: exposure is a sum, so nothing else moves)."""
    futures = account.futures
    exposure = futures.exposure_of(spec.symbol)
    old_remaining = order.qty - order.executed_qty
    assert order.price is not None
    exposure.remove(order.side, old_remaining, order.price)
    try:
        lev = core.leverage(account, spec.symbol)
        need = added_order_margin(futures.size(spec.symbol), exposure, order.side, qty - order.executed_qty, price, lev)
        if need > 0:
            available = core.margin(account, spec.quote).available
            if available < need:
                raise SimReject(
                    RejectReason.INSUFFICIENT_MARGIN, f"needs {need} {spec.quote} initial margin, available {available}"
                )
    finally:
        exposure.add(order.side, old_remaining, order.price)


def _validate(
    core: EngineCore, spec: SymbolSpec, book: MatchingBook, order: SimOrder, qty: Decimal, price: Decimal
) -> None:
    if qty == order.qty and price == order.price:
        raise SimReject(RejectReason.INVALID_ORDER, "the order is unchanged")
    if qty <= order.executed_qty:
        raise SimReject(RejectReason.INVALID_QTY, f"quantity {qty} must exceed the executed {order.executed_qty}")
    check_qty(spec, qty, market=False)
    check_price(spec, order.side, price, core.refs[(spec.kind, spec.symbol)])
    check_notional(spec, qty, price, reduce_only=order.reduce_only)
    if order.tif is TimeInForce.POST_ONLY and book.would_cross(order.side, price):
        raise SimReject(RejectReason.POST_ONLY_WOULD_TAKE, f"{order.side.value} at {price} would take liquidity")
    account = core.accounts[order.account]
    if spec.kind is MarketKind.SPOT:
        _check_spot_funds(account, spec, order, qty, price)
    elif not order.reduce_only:
        _check_perp_margin(core, account, spec, order, qty, price)


def _release(core: EngineCore, book: MatchingBook, order: SimOrder, entry: Resting, keep: Decimal) -> None:
    """Take the order's remainder off the book, its lock and exposure (``keep``: a resize down
    in place, the first ``keep`` of it stays where it is)."""
    account = core.accounts[order.account]
    remaining = order.qty - order.executed_qty
    gone = remaining - keep
    assert order.price is not None
    if keep > 0:
        book.side(order.side).reduce(entry, gone)
    else:
        book.cancel(entry)
        del core.store.resting[order.order_id]
    core.touch_book(book)
    if order.kind is MarketKind.PERP:
        account.futures.exposure_of(order.symbol).remove(order.side, gone, order.price)
    else:
        spec = core.specs[(order.kind, order.symbol)]
        asset = spec.quote if order.side is Side.BUY else spec.base
        account.spot.unlock(asset, locked_for(order, gone))
        core.touch_spot(account, asset)


def _lock(core: EngineCore, spec: SymbolSpec, order: SimOrder) -> None:
    if spec.kind is not MarketKind.SPOT:
        return
    account = core.accounts[order.account]
    asset = spec.quote if order.side is Side.BUY else spec.base
    account.spot.lock(asset, locked_for(order, order.qty - order.executed_qty))
    core.touch_spot(account, asset)


def amend_order(
    core: EngineCore,
    account_id: str,
    kind: MarketKind,
    symbol: str,
    order_id: int | None,
    client_order_id: str | None,
    qty: Decimal | None,
    price: Decimal | None,
    ts_ms: int,
) -> SimOrder:
    """Amend an open resting LIMIT order (None keeps the quantity / price); the order as amended."""
    core.account(account_id)
    spec = core.spec(kind, symbol)
    order, entry = _resting(core, account_id, kind, symbol, order_id, client_order_id)
    assert order.price is not None
    new_qty = order.qty if qty is None else qty
    new_price = order.price if price is None else price
    book = core.books[(kind, symbol)]
    _validate(core, spec, book, order, new_qty, new_price)
    in_place = new_price == order.price and new_qty < order.qty
    _release(core, book, order, entry, new_qty - order.executed_qty if in_place else ZERO)
    order.qty, order.price, order.updated_ms = new_qty, new_price, ts_ms
    if not in_place:
        _lock(core, spec, order)
    if core.bus.active:
        core.bus.emit(
            OrderChanged(account=account_id, order=order.snapshot(), exec_type=ExecType.AMENDED, fill=None, ts_ms=ts_ms)
        )
    if in_place:
        return order
    account = core.accounts[account_id]
    match(core, book, spec, account, order, order.side, new_price, new_qty - order.executed_qty, ts_ms)
    if order.is_open:
        after_match(core, account, book, order, ts_ms)  # rest what is left (a reduce-only may expire)
    return order
