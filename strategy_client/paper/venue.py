"""PaperVenue: a local matching engine over the live books the caller feeds it.

* MARKET and crossing LIMIT orders take liquidity level by level from the latest visible book
  (one fill per level, taker fee). Liquidity a paper order took from a snapshot is remembered
  until the next snapshot of that book, so two orders cannot both take the same level.
* The part of a GTC LIMIT order that does not cross rests; it fills (maker fee, at its own
  price, no queue) when a later book shows the opposite side at or through its price, up to
  the quantity shown there. IOC remainders and MARKET remainders beyond the visible depth
  expire; FOK fills completely or expires untouched; POST_ONLY that would cross is rejected.
* Spot orders lock what they may spend (quote for buys: qty x limit price, or the book walk of
  a MARKET buy; base for sells); a fill pays its fee out of the asset it receives. Perp orders
  need the growth of the symbol's open-order initial margin (netted against the position) from
  the available margin; reduce-only orders may only shrink a position and are capped at its size.
* Funding settles at each ``next_funding_ts_ms`` the caller reported, with the rate announced
  for it and the latest mark price.
* Fees, positions, realised PnL, funding and margin follow the shared ledger core
  (:mod:`strategy_client.model.ledger`), the rules the offline venues' engine settles with.

Nothing here does I/O or reads a clock; every call takes ``now_ms``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
from cachetools import LRUCache

from strategy_client.model import (
    AccountSnapshot,
    Balance,
    BookLevel,
    Exchange,
    ExecType,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarginBalance,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    check_order,
    walk_book,
)
from strategy_client.model.ledger import Exposure, added_order_margin

from .config import PaperConfig
from .errors import PaperRejected, RejectCode
from .ledger import Ledger

__all__ = ["PaperVenue", "PaperUpdate", "OrderChange"]

ZERO = Decimal(0)


#: How an order that ends without a (last) fill ends, as an execution type.
_END_EXEC = {
    OrderStatus.CANCELED: ExecType.CANCELED,
    OrderStatus.EXPIRED: ExecType.EXPIRED,
    OrderStatus.REJECTED: ExecType.REJECTED,
}


class OrderChange(msgspec.Struct, frozen=True):
    """One step of an order's life: ``exec_type`` is new | trade | canceled | expired | rejected."""

    order: Order
    exec_type: ExecType
    fill: Fill | None = None


class PaperUpdate(msgspec.Struct):
    """Everything one call changed, in the order it happened."""

    changes: list[OrderChange] = msgspec.field(default_factory=list)
    balances: tuple[Balance, ...] = ()
    margin: MarginBalance | None = None
    positions: tuple[Position, ...] = ()
    funding: tuple[FundingPayment, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.changes or self.balances or self.margin or self.positions or self.funding)


@dataclass(slots=True)
class _Working:
    order: Order
    notional: Decimal = ZERO  # sum of fill price x qty
    locked_asset: str = ""
    locked_left: Decimal = ZERO  # spot: what is still locked for this order


@dataclass(slots=True)
class _Touched:
    assets: set[str] = field(default_factory=set)
    perps: set[InstrumentKey] = field(default_factory=set)


class PaperVenue:
    def __init__(
        self,
        exchange: Exchange,
        instruments: list[Instrument] | tuple[Instrument, ...] = (),
        config: PaperConfig | None = None,
        *,
        id_prefix: str = "P",
    ) -> None:
        self.exchange = exchange
        self.config = config or PaperConfig()
        self.ledger = Ledger(self.config)
        self.instruments: dict[InstrumentKey, Instrument] = {i.key: i for i in instruments}
        self.books: dict[InstrumentKey, OrderBook] = {}
        self._consumed: dict[InstrumentKey, dict[Decimal, Decimal]] = {}
        self.rates: dict[InstrumentKey, FundingRate] = {}
        self._settled: dict[InstrumentKey, int] = {}
        self.open: dict[str, _Working] = {}
        self.history: LRUCache[str, Order] = LRUCache(maxsize=self.config.order_history)
        self._venue_ids: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._trades = itertools.count(1)
        self._prefix = id_prefix
        self.orders_submitted = 0
        self.fills = 0

    def add_instruments(self, instruments: list[Instrument]) -> None:
        for inst in instruments:
            self.instruments[inst.key] = inst

    # -- market data --------------------------------------------------------------------
    def on_book(self, book: OrderBook, now_ms: int) -> PaperUpdate:
        """A new snapshot: remember it and fill resting orders it crosses."""
        self.books[book.key] = book
        self._consumed[book.key] = {}
        if book.key.kind is MarketKind.PERP and book.key not in self.rates and book.mid is not None:
            self.ledger.marks[book.key] = book.mid
        update = PaperUpdate()
        touched = _Touched()
        for cid in [c for c, w in self.open.items() if w.order.key == book.key]:
            w = self.open[cid]
            self._fill_resting(w, book, now_ms, update, touched)
        self._finish(update, touched, now_ms)
        return update

    def on_funding(self, rate: FundingRate, now_ms: int) -> PaperUpdate:
        """A funding/mark update: settles a funding time that has passed, then stores the new rate."""
        update = self.settle_due(now_ms, mark=rate.mark_price, key=rate.key)
        prev = self.rates.get(rate.key)
        if prev is not None and rate.next_funding_ts_ms > prev.next_funding_ts_ms:
            self._settle(prev, rate.mark_price, update)
        self.rates[rate.key] = rate
        if rate.mark_price > 0:
            self.ledger.marks[rate.key] = rate.mark_price
        return update

    def settle_due(self, now_ms: int, *, mark: Decimal | None = None, key: InstrumentKey | None = None) -> PaperUpdate:
        """Settle every funding time at or before ``now_ms`` not yet settled."""
        update = PaperUpdate()
        for k, rate in list(self.rates.items()):
            if key is not None and k != key:
                continue
            if rate.next_funding_ts_ms <= now_ms:
                self._settle(rate, mark or self.ledger.marks.get(k, rate.mark_price), update)
        return update

    def _settle(self, rate: FundingRate, mark: Decimal, update: PaperUpdate) -> None:
        if self._settled.get(rate.key) == rate.next_funding_ts_ms or mark <= 0:
            return
        self._settled[rate.key] = rate.next_funding_ts_ms
        pay = self.ledger.apply_funding(rate.key, rate.rate, mark, rate.next_funding_ts_ms)
        if pay is None:
            return
        update.funding += (pay,)
        update.positions += (self.ledger.position(rate.key),)
        update.margin = self.ledger.margin(self._exposures())

    # -- orders -------------------------------------------------------------------------
    def submit(self, req: OrderRequest, now_ms: int) -> tuple[Order, PaperUpdate]:
        """Accept, fill what crosses, rest or expire the rest. Raises PaperRejected up front."""
        inst = self.instruments.get(req.key)
        if inst is None:
            raise PaperRejected(RejectCode.UNKNOWN_INSTRUMENT, f"unknown instrument {req.key}")
        cid = req.client_id or f"paper-{next(self._ids)}"
        if cid in self.open:
            raise PaperRejected(RejectCode.DUPLICATE_CLIENT_ID, f"client id {cid} is already live")
        qty = req.qty
        if req.type is OrderType.LIMIT and req.price is None:
            raise PaperRejected(RejectCode.FILTER, "PRICE_FILTER: a limit order needs a price")
        book = self.books.get(req.key)
        if req.reduce_only:
            qty = self._cap_reduce_only(req, qty)
        problems = check_order(
            inst,
            req.type,
            qty,
            req.price,
            reference_price=book.mid if book is not None else None,
            reduce_only=req.reduce_only,
        )
        if problems:
            raise PaperRejected(RejectCode.FILTER, "; ".join(problems))
        levels = self._crossing(req.key, req.side, req.price if req.type is OrderType.LIMIT else None)
        if req.type is OrderType.MARKET and not levels:
            raise PaperRejected(
                RejectCode.NO_LIQUIDITY,
                f"no {'asks' if req.side is Side.BUY else 'bids'} to fill against for {req.key}",
            )
        if req.tif is TimeInForce.POST_ONLY and levels:
            raise PaperRejected(RejectCode.WOULD_TAKE_LIQUIDITY, "post-only order would cross the book")
        w = _Working(
            order=Order(
                key=req.key,
                client_id=cid,
                venue_id=f"{self._prefix}{next(self._ids)}",
                side=req.side,
                type=req.type,
                tif=req.tif,
                price=req.price,
                qty=qty,
                status=OrderStatus.NEW,
                reduce_only=req.reduce_only,
                created_ts_ms=now_ms,
                updated_ts_ms=now_ms,
            )
        )
        self._reserve(inst, w, levels)
        self.orders_submitted += 1
        self.open[cid] = w
        self._venue_ids[w.order.venue_id] = cid
        update = PaperUpdate(changes=[OrderChange(w.order, ExecType.NEW)])
        touched = _Touched()
        if inst.key.kind is MarketKind.SPOT:
            touched.assets.add(w.locked_asset)
        available = sum((lv.qty for lv in levels), ZERO)
        if req.tif is TimeInForce.FOK and available < qty:
            self._end(w, OrderStatus.EXPIRED, now_ms, update, touched)
        else:
            self._take(w, levels, now_ms, update, touched)
            if w.order.status is not OrderStatus.FILLED and (
                req.type is OrderType.MARKET or req.tif in (TimeInForce.IOC, TimeInForce.FOK)
            ):
                self._end(w, OrderStatus.EXPIRED, now_ms, update, touched)
        self._finish(update, touched, now_ms)
        return update.changes[-1].order, update

    def cancel(
        self, key: InstrumentKey, now_ms: int, *, client_id: str | None = None, venue_id: str | None = None
    ) -> tuple[Order, PaperUpdate]:
        cid = client_id or self._venue_ids.get(venue_id or "", "")
        w = self.open.get(cid)
        if w is None or w.order.key != key:
            known = self.history.get(cid)
            if known is not None and known.key == key:
                raise PaperRejected(RejectCode.NOT_FOUND, f"order {cid} is already {known.status.value}")
            raise PaperRejected(RejectCode.NOT_FOUND, f"no open order {client_id or venue_id} on {key}")
        update = PaperUpdate()
        touched = _Touched()
        self._end(w, OrderStatus.CANCELED, now_ms, update, touched)
        self._finish(update, touched, now_ms)
        return update.changes[-1].order, update

    def get_order(self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None) -> Order:
        cid = client_id or self._venue_ids.get(venue_id or "", "")
        w = self.open.get(cid)
        order = w.order if w is not None else self.history.get(cid)
        if order is None or order.key != key:
            raise PaperRejected(RejectCode.NOT_FOUND, f"order {client_id or venue_id} not found on {key}")
        return order

    def open_orders(self, key: InstrumentKey | None = None, kind: MarketKind | None = None) -> list[Order]:
        return [
            w.order
            for w in self.open.values()
            if (key is None or w.order.key == key) and (kind is None or w.order.key.kind is kind)
        ]

    def set_leverage(self, key: InstrumentKey, leverage: int) -> int:
        if key not in self.instruments or key.kind is not MarketKind.PERP:
            raise PaperRejected(RejectCode.UNKNOWN_INSTRUMENT, f"{key} is not a listed perp")
        if not 1 <= leverage <= self.config.max_leverage:
            raise PaperRejected(RejectCode.INVALID, f"leverage {leverage} is not within 1..{self.config.max_leverage}")
        self.ledger.leverage[key] = leverage
        return leverage

    # -- account ------------------------------------------------------------------------
    def positions(self) -> list[Position]:
        return self.ledger.positions()

    def account(self, now_ms: int) -> AccountSnapshot:
        return AccountSnapshot(
            exchange=self.exchange,
            balances=self.ledger.balances(),
            margin=(self.ledger.margin(self._exposures()),),
            positions=tuple(self.ledger.positions()),
            ts_ms=now_ms,
        )

    # -- internals ----------------------------------------------------------------------
    def _cap_reduce_only(self, req: OrderRequest, qty: Decimal) -> Decimal:
        if req.key.kind is not MarketKind.PERP:
            raise PaperRejected(RejectCode.REDUCE_ONLY, "reduce-only applies to perps only")
        size = self.ledger.position_size(req.key)
        if size == 0 or (size > 0) == (req.side is Side.BUY):
            raise PaperRejected(
                RejectCode.REDUCE_ONLY, f"reduce-only {req.side.value} would not reduce the position ({size})"
            )
        return min(qty, abs(size))

    def _crossing(self, key: InstrumentKey, side: Side, limit: Decimal | None) -> list[BookLevel]:
        """Visible opposite levels at or better than ``limit``, less what paper orders took already."""
        book = self.books.get(key)
        if book is None:
            return []
        consumed = self._consumed.get(key, {})
        out: list[BookLevel] = []
        for lv in book.asks if side is Side.BUY else book.bids:
            if limit is not None and (lv.price > limit if side is Side.BUY else lv.price < limit):
                break
            left = lv.qty - consumed.get(lv.price, ZERO)
            if left > 0:
                out.append(BookLevel(lv.price, left))
        return out

    def _reserve(self, inst: Instrument, w: _Working, levels: list[BookLevel]) -> None:
        """Spot: lock what the order may spend (its fee comes out of what it receives). Perp:
        the order needs the growth of the symbol's open-order initial margin (netted against
        the position, MARKET valued at its book walk) from the available balance."""
        o = w.order
        if inst.key.kind is MarketKind.SPOT:
            if o.side is Side.SELL:
                w.locked_asset, w.locked_left = inst.base, o.qty
            elif o.type is OrderType.MARKET:
                w.locked_asset, w.locked_left = inst.quote, walk_book(tuple(levels), o.qty).notional
            else:
                assert o.price is not None
                w.locked_asset, w.locked_left = inst.quote, o.qty * o.price
            self.ledger.lock(w.locked_asset, w.locked_left)
            return
        if o.reduce_only:
            return
        price = o.price
        if price is None:
            walk = walk_book(tuple(levels), o.qty)
            price = walk.notional / walk.filled if walk.filled > 0 else ZERO
        exposures = self._exposures()
        needed = added_order_margin(
            self.ledger.position_size(inst.key),
            exposures.get(inst.key),
            o.side,
            o.qty,
            price,
            self.ledger.leverage_of(inst.key),
        )
        if needed <= 0:
            return
        available = self.ledger.margin(exposures).available_balance
        if needed > available:
            raise PaperRejected(
                RejectCode.INSUFFICIENT_FUNDS,
                f"insufficient margin: need {needed:.2f} {self.config.margin_asset}, available {available:.2f}",
            )

    def _exposures(self) -> dict[InstrumentKey, Exposure]:
        """Remaining quantity and notional of the open non-reduce-only perp orders, per perp."""
        out: dict[InstrumentKey, Exposure] = {}
        for w in self.open.values():
            o = w.order
            if o.key.kind is MarketKind.PERP and not o.reduce_only and o.price is not None:
                exp = out.get(o.key)
                if exp is None:
                    exp = out[o.key] = Exposure()
                exp.add(o.side, o.remaining_qty, o.price)
        return out

    def _take(self, w: _Working, levels: list[BookLevel], now_ms: int, update: PaperUpdate, touched: _Touched) -> None:
        consumed = self._consumed.setdefault(w.order.key, {})
        for lv in levels:
            remaining = w.order.remaining_qty
            if remaining <= 0:
                break
            qty = min(remaining, lv.qty)
            consumed[lv.price] = consumed.get(lv.price, ZERO) + qty
            self._fill(w, qty, lv.price, False, now_ms, update, touched)

    def _fill_resting(self, w: _Working, book: OrderBook, now_ms: int, update: PaperUpdate, touched: _Touched) -> None:
        o = w.order
        levels = self._crossing(o.key, o.side, o.price)
        qty = min(o.remaining_qty, sum((lv.qty for lv in levels), ZERO))
        if qty <= 0 or o.price is None:
            return
        consumed = self._consumed.setdefault(o.key, {})
        left = qty
        for lv in levels:  # the book liquidity this fill stands for, best level first
            take = min(left, lv.qty)
            consumed[lv.price] = consumed.get(lv.price, ZERO) + take
            left -= take
            if left <= 0:
                break
        self._fill(w, qty, o.price, True, now_ms, update, touched)

    def _fill(
        self,
        w: _Working,
        qty: Decimal,
        price: Decimal,
        maker: bool,
        now_ms: int,
        update: PaperUpdate,
        touched: _Touched,
    ) -> None:
        o = w.order
        inst = self.instruments[o.key]
        fee_rate = self.config.fee_rate(o.key.kind, maker=maker)
        realized = ZERO
        if o.key.kind is MarketKind.SPOT:
            # the lock share of this fill; a buy filled below its limit gets the difference back now
            share = qty if o.side is Side.SELL else qty * (o.price if o.price is not None else price)
            used = min(share, w.locked_left)
            w.locked_left -= used
            spot = self.ledger.spot_fill(inst, o.side, qty, price, fee_rate, used)
            touched.assets.update(spot.assets)
            fee, fee_asset = spot.fee, spot.fee_asset
        else:
            fee, realized = self.ledger.perp_fill(o.key, o.side, qty, price, fee_rate, now_ms)
            touched.perps.add(o.key)
            fee_asset = self.config.margin_asset
        w.notional += qty * price
        filled = o.filled_qty + qty
        status = OrderStatus.FILLED if filled >= o.qty else OrderStatus.PARTIALLY_FILLED
        w.order = msgspec.structs.replace(
            o, filled_qty=filled, avg_price=w.notional / filled, status=status, updated_ts_ms=now_ms
        )
        self.fills += 1
        fill = Fill(
            key=o.key,
            client_id=o.client_id,
            venue_id=o.venue_id,
            trade_id=f"{self._prefix}T{next(self._trades)}",
            side=o.side,
            price=price,
            qty=qty,
            fee=fee,
            fee_asset=fee_asset,
            is_maker=maker,
            ts_ms=now_ms,
            realized_pnl=realized,
        )
        update.changes.append(OrderChange(w.order, ExecType.TRADE, fill))
        if status is OrderStatus.FILLED:
            self._close(w)

    def _end(self, w: _Working, status: OrderStatus, now_ms: int, update: PaperUpdate, touched: _Touched) -> None:
        w.order = msgspec.structs.replace(w.order, status=status, updated_ts_ms=now_ms)
        update.changes.append(OrderChange(w.order, _END_EXEC[status]))
        if w.locked_asset:
            touched.assets.add(w.locked_asset)
        self._close(w)

    def _close(self, w: _Working) -> None:
        if w.locked_left > 0:
            self.ledger.unlock(w.locked_asset, w.locked_left)
            w.locked_left = ZERO
        self.open.pop(w.order.client_id, None)
        self.history[w.order.client_id] = w.order

    def _finish(self, update: PaperUpdate, touched: _Touched, now_ms: int) -> None:
        if touched.assets:
            update.balances = self.ledger.balances(tuple(sorted(touched.assets)))
        if touched.perps:
            update.positions += tuple(self.ledger.position(k, now_ms) for k in sorted(touched.perps))
            update.margin = self.ledger.margin(self._exposures())
