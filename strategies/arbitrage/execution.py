"""ExecutionPolicy: the pure planner the engine follows to put on, hedge, take off and unwind a pair.

The engine owns time and I/O; this module only turns (pair, size, books, fills so far) into
:class:`LegOrder` plans — an :class:`OrderRequest` plus the leg, purpose, timeout and the
reference mid the PnL ledger measures slippage against.

The playbook:

1. **Leg order** (:meth:`ExecutionPolicy.route`): the harder-to-fill leg goes first, so that
   the leg most likely to fail is the one with nothing to hedge yet. "Harder" = less visible
   liquidity for the size: the depth within ``depth_band_bps`` of the touch divided by the
   quantity needed (lower ratio = harder); ties go to the larger walk slippage, then to leg A.
   ``first_leg = "a" | "b"`` overrides. With ``entry_style = "maker_first"`` the first entry
   leg rests as a post-only order at its own best price (maker fee); everything else takes.
2. **Entry**: the first leg for the full pair size (:meth:`ExecutionPolicy.plan_entry`), with
   ``leg_timeout_s`` to fill before the engine cancels the rest.
3. **Hedge** every fill of the first leg: the hedge quantity is *exactly the first leg's
   cumulative filled quantity*, converted to base units and rounded **down** to the other
   instrument's step, minus what is already hedged (:func:`hedge_quantity`,
   :meth:`ExecutionPolicy.plan_hedge`). What rounding leaves over (less than one step) is
   hedged by a later fill or, once the first leg is final, unwound. Each hedge attempt has
   ``hedge_timeout_s``; a failed attempt is retried ``hedge_retries`` times, each with a limit
   widened by ``hedge_retry_widen_bps`` (for ``limit_ioc``); then the naked leg is unwound.
4. **Exit**: the same with the exit sides (sell A, buy B), reduce-only on perp legs.
4a. **Fees in the base asset**: a buy on a leg that pays its fee out of the base it receives
   (spot on Binance, Bybit and OKX: :attr:`Leg.buy_fee_in_base`) is sized
   ``net / (1 − fee rate)`` rounded **up** to the step (:meth:`Leg.buy_qty_for`), so that after
   the fee the leg holds the hedge size plus less than one step — never less (the exit can
   always sell the hedge size; the venue account does not drift down by the fee per round trip).
   Quantities the engine compares (the state machine's exposure, hedge targets) are net of such fees.
5. **Unwind** (:meth:`ExecutionPolicy.plan_unwind`): reduce the larger leg to the smaller one
   (never add exposure); when that is below the larger leg's minimums, top up the smaller leg
   instead; when neither leg can trade the difference it is dust (below
   :func:`dust_tolerance`, which the state machine regards as hedged).

Order types: ``market``, or ``limit_ioc`` — a marketable limit at the walked worst price moved
``limit_slippage_bps`` (plus the retry widening) against us and rounded aggressively to the
tick, so a thin or moving book fills partially instead of at any price.

Client order ids are deterministic, ``{position_id}-{code}{seq}`` (``en`` entry, ``hg`` hedge,
``ex`` exit, ``xh`` exit hedge, ``uw`` unwind; ``seq`` a per-position counter the engine keeps),
so an order is always found again by its id. An order whose outcome is unknown is never resent
(the engine resolves it by this id); a new attempt after a failure proven not to have placed
anything gets the next ``seq``. At most 36 characters (Binance's limit).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum

import msgspec

from strategy_client.model import (
    Instrument,
    OrderBook,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    check_order,
    round_down,
    round_price,
    round_up,
    walk_book,
)

from .errors import PlanError
from .pair import ArbPair, EntryRoute, Leg, LegId, PairSize, Role, common_step
from .state import PositionMachine, Transition

__all__ = [
    "FirstLeg",
    "EntryStyle",
    "LegOrderType",
    "OrderPurpose",
    "ExecutionConfig",
    "LegOrder",
    "Liquidity",
    "HedgePlan",
    "UnwindPlan",
    "ExecutionPolicy",
    "hedge_quantity",
    "leg_liquidity",
    "min_tradable_base",
    "dust_tolerance",
    "MAX_CLIENT_ID",
]

ZERO = Decimal(0)
BPS = Decimal(10_000)
MAX_CLIENT_ID = 36


class FirstLeg(StrEnum):
    AUTO = "auto"
    A = "a"
    B = "b"


class EntryStyle(StrEnum):
    TAKER = "taker"
    MAKER_FIRST = "maker_first"


class LegOrderType(StrEnum):
    MARKET = "market"
    LIMIT_IOC = "limit_ioc"


class OrderPurpose(StrEnum):
    ENTRY = "entry"
    HEDGE = "hedge"
    EXIT = "exit"
    EXIT_HEDGE = "exit_hedge"
    UNWIND = "unwind"

    @property
    def code(self) -> str:
        return _CODES[self]

    @property
    def closing(self) -> bool:
        return self in (OrderPurpose.EXIT, OrderPurpose.EXIT_HEDGE, OrderPurpose.UNWIND)


_CODES = {
    OrderPurpose.ENTRY: "en",
    OrderPurpose.HEDGE: "hg",
    OrderPurpose.EXIT: "ex",
    OrderPurpose.EXIT_HEDGE: "xh",
    OrderPurpose.UNWIND: "uw",
}


class ExecutionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    first_leg: FirstLeg = FirstLeg.AUTO
    entry_style: EntryStyle = EntryStyle.TAKER
    order_type: LegOrderType = LegOrderType.MARKET
    limit_slippage_bps: Decimal = Decimal(10)
    depth_band_bps: Decimal = Decimal(10)
    leg_timeout_s: float = 5.0
    hedge_timeout_s: float = 2.0
    unwind_timeout_s: float = 2.0
    hedge_retries: int = 3
    hedge_retry_widen_bps: Decimal = Decimal(5)
    unwind_attempts: int = 5
    # retryable failures (venue 5xx / unavailable, timeouts proven not to have placed anything)
    retry_attempts: int = 4  # entry / exit first-leg resends after a retryable failure
    retry_backoff_s: float = 0.25  # first backoff; doubles per attempt, jittered to 50-100 %
    retry_backoff_max_s: float = 4.0  # backoff ceiling (also the pause before a refused exit is retried)
    # orders whose outcome is unknown (see ArbitrageEngine._resolve)
    resolve_poll_s: float = 0.5  # first query interval; doubles up to 4 s
    not_found_settle_s: float = 2.0  # "no such order" counts as never placed this long after the send
    fill_settle_s: float = 1.0  # wait for a final order's fill events before booking from its totals

    def problems(self, where: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name in (
            "leg_timeout_s",
            "hedge_timeout_s",
            "unwind_timeout_s",
            "retry_backoff_s",
            "retry_backoff_max_s",
            "resolve_poll_s",
        ):
            if getattr(self, name) <= 0:
                out.append((f"{where}.{name}", f"{getattr(self, name)} must be positive"))
        for name in ("not_found_settle_s", "fill_settle_s"):
            if getattr(self, name) < 0:
                out.append((f"{where}.{name}", f"{getattr(self, name)} must not be negative"))
        if self.retry_attempts < 0:
            out.append((f"{where}.retry_attempts", f"{self.retry_attempts} must not be negative"))
        for name in ("limit_slippage_bps", "depth_band_bps", "hedge_retry_widen_bps"):
            if getattr(self, name) < 0:
                out.append((f"{where}.{name}", f"{getattr(self, name)} must not be negative"))
        if self.hedge_retries < 0:
            out.append((f"{where}.hedge_retries", f"{self.hedge_retries} must not be negative"))
        if self.unwind_attempts < 1:
            out.append((f"{where}.unwind_attempts", f"{self.unwind_attempts} must be at least 1"))
        return out


class LegOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One order to send: the request plus what the engine and the ledger need to follow it."""

    leg: LegId
    purpose: OrderPurpose
    request: OrderRequest
    base_qty: Decimal
    timeout_ms: int
    reference_mid: Decimal
    attempt: int = 0


class Liquidity(msgspec.Struct, frozen=True, kw_only=True):
    """How hard ``qty`` is to fill on one side of a book."""

    depth: Decimal  # visible quantity within the band of the touch (order units)
    ratio: Decimal  # depth / qty (< 1: the band alone cannot fill it)
    slippage_bps: Decimal  # walk VWAP vs the touch, bps (a thin book: vs the last visible level)
    complete: bool  # the whole visible book can fill qty


class HedgePlan(msgspec.Struct, frozen=True, kw_only=True):
    """``order`` is None when nothing (more) can be hedged now; ``unhedged_base`` is what remains."""

    order: LegOrder | None
    target_qty: Decimal  # hedge-leg quantity the first leg's fills call for (order units)
    unhedged_base: Decimal  # first-leg base not yet covered by hedge fills or this order
    note: str = ""


class UnwindPlan(msgspec.Struct, frozen=True, kw_only=True):
    order: LegOrder | None
    dust_base: Decimal  # imbalance left that no order can trade (0 when ``order`` fixes it)
    note: str = ""


def hedge_quantity(filled_qty: Decimal, from_leg: Leg, to_leg: Leg, order_type: OrderType) -> Decimal:
    """The other leg's quantity for ``filled_qty`` (order units of ``from_leg``): converted to
    base units, then to ``to_leg``'s order units, rounded **down** to its step (never over-hedge).
    """
    base = from_leg.to_base(filled_qty)
    return to_leg.round_base(base, order_type)


def leg_liquidity(book: OrderBook, side: Side, qty: Decimal, band_bps: Decimal) -> Liquidity:
    """Visible liquidity for a taker ``side`` order of ``qty`` (order units) on ``book``."""
    levels = book.asks if side is Side.BUY else book.bids
    if not levels or qty <= 0:
        return Liquidity(depth=ZERO, ratio=ZERO, slippage_bps=ZERO, complete=False)
    touch = levels[0].price
    limit = touch * (1 + band_bps / BPS) if side is Side.BUY else touch * (1 - band_bps / BPS)
    depth = sum(
        (lv.qty for lv in levels if (lv.price <= limit if side is Side.BUY else lv.price >= limit)),
        ZERO,
    )
    walk = walk_book(levels, qty)
    avg = walk.avg_price if walk.avg_price is not None else (walk.worst_price or touch)
    slip = abs(avg - touch) / touch * BPS
    return Liquidity(depth=depth, ratio=depth / qty, slippage_bps=slip, complete=walk.complete)


def min_tradable_base(leg: Leg, price: Decimal, order_type: OrderType, *, reduce_only: bool = False) -> Decimal:
    """The smallest base quantity ``leg`` accepts for ``order_type`` at ``price`` (its minimums)."""
    inst: Instrument = leg.instrument
    step, lo, _ = inst.market_filters() if order_type is OrderType.MARKET else (inst.step_size, inst.min_qty, ZERO)
    qty = max(lo, step)
    if inst.min_notional > 0 and price > 0 and not reduce_only:
        needed = inst.min_notional / price
        qty = max(qty, round_up(needed, step) if step > 0 else needed)
    return leg.to_base(qty)


def dust_tolerance(pair: ArbPair, price: Decimal, order_type: OrderType = OrderType.MARKET) -> Decimal:
    """The largest imbalance (base units) neither leg can trade: the state machine's tolerance.

    Anything from the smaller of the two legs' minimum tradable quantities (reduce-only minimums
    for perps) upwards can be unwound on some leg, so the tolerance is that minimum less the
    pair's finest base step (imbalances move on that grid); never negative.
    """
    smallest = min(min_tradable_base(leg, price, order_type, reduce_only=leg.is_perp) for leg in pair.legs)
    finest = min(pair.a.base_step(order_type), pair.b.base_step(order_type))
    return max(ZERO, smallest - finest)


def _qty_problems(leg: Leg, order_type: OrderType, qty: Decimal, ref: Decimal, *, reduce_only: bool) -> list[str]:
    """The quantity filters (LOT_SIZE, MIN_NOTIONAL) ``qty`` breaks on ``leg`` near price ``ref``."""
    price = round_price(leg.instrument, Side.BUY, ref) if order_type is OrderType.LIMIT else None
    problems = check_order(leg.instrument, order_type, qty, price, reference_price=ref, reduce_only=reduce_only)
    return [p for p in problems if not p.startswith("PRICE_FILTER")]


class ExecutionPolicy:
    def __init__(self, config: ExecutionConfig) -> None:
        self.config = config

    @property
    def taker_type(self) -> OrderType:
        return OrderType.MARKET if self.config.order_type is LegOrderType.MARKET else OrderType.LIMIT

    # ------------------------------------------------------------------ sizing and routing

    def size(self, pair: ArbPair, base: Decimal) -> PairSize:
        """``base`` on the grid every order type this policy uses can trade on both legs."""
        step = common_step(pair.common_base_step(OrderType.LIMIT), pair.common_base_step(OrderType.MARKET))
        rounded = round_down(base, step) if step > 0 else base
        if rounded <= 0:
            return PairSize(base=ZERO, qty_a=ZERO, qty_b=ZERO)
        return PairSize(base=rounded, qty_a=pair.a.from_base(rounded), qty_b=pair.b.from_base(rounded))

    def machine(
        self,
        position_id: str,
        pair: ArbPair,
        price: Decimal,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> PositionMachine:
        """A :class:`PositionMachine` with this policy's retry limits and the pair's dust tolerance."""
        return PositionMachine(
            position_id,
            tolerance=dust_tolerance(pair, price, self.taker_type),
            max_hedge_retries=self.config.hedge_retries,
            max_unwind_attempts=self.config.unwind_attempts,
            on_transition=on_transition,
        )

    def route(
        self, pair: ArbPair, size: PairSize, book_a: OrderBook, book_b: OrderBook, *, exiting: bool = False
    ) -> EntryRoute:
        """Which leg goes first (the harder to fill) and whether it rests as maker."""
        cfg = self.config
        role = Role.MAKER if cfg.entry_style is EntryStyle.MAKER_FIRST and not exiting else Role.TAKER
        if cfg.first_leg is FirstLeg.A:
            return EntryRoute(first=LegId.A, first_role=role)
        if cfg.first_leg is FirstLeg.B:
            return EntryRoute(first=LegId.B, first_role=role)
        liq_a = leg_liquidity(
            book_a, pair.a.exit_side if exiting else pair.a.entry_side, size.qty_a, cfg.depth_band_bps
        )
        liq_b = leg_liquidity(
            book_b, pair.b.exit_side if exiting else pair.b.entry_side, size.qty_b, cfg.depth_band_bps
        )
        # (visible at all, band depth per unit needed, walk slippage): the smaller tuple is harder
        ka = (liq_a.complete, liq_a.ratio, -liq_a.slippage_bps)
        kb = (liq_b.complete, liq_b.ratio, -liq_b.slippage_bps)
        first = LegId.B if kb < ka else LegId.A
        return EntryRoute(first=first, first_role=role)

    # ------------------------------------------------------------------ orders

    def plan_entry(
        self,
        pair: ArbPair,
        size: PairSize,
        route: EntryRoute,
        book: OrderBook,
        *,
        position_id: str,
        seq: int,
        reference_mid: Decimal,
    ) -> LegOrder:
        """The first entry leg for the whole size (``book`` is that leg's book).

        A buy on a leg that pays its fee in the base asset is grossed up so the holding after
        the fee covers the size (:meth:`Leg.buy_qty_for`, rounded up to the step)."""
        leg = pair.leg(route.first)
        maker = route.first_role is Role.MAKER
        qty = size.qty(leg.id)
        if leg.entry_side is Side.BUY and leg.buy_fee_in_base:
            qty = leg.buy_qty_for(size.base, OrderType.LIMIT if maker else self.taker_type, route.first_role)
        return self._order(
            leg,
            OrderPurpose.ENTRY,
            leg.entry_side,
            qty,
            book,
            position_id=position_id,
            seq=seq,
            reference_mid=reference_mid,
            maker=route.first_role is Role.MAKER,
            timeout_s=self.config.leg_timeout_s,
        )

    def plan_exit(
        self,
        pair: ArbPair,
        size: PairSize,
        route: EntryRoute,
        book: OrderBook,
        *,
        position_id: str,
        seq: int,
        reference_mid: Decimal,
    ) -> LegOrder:
        """The first exit leg (``route`` from :meth:`route` with ``exiting=True``)."""
        leg = pair.leg(route.first)
        return self._order(
            leg,
            OrderPurpose.EXIT,
            leg.exit_side,
            size.qty(leg.id),
            book,
            position_id=position_id,
            seq=seq,
            reference_mid=reference_mid,
            timeout_s=self.config.leg_timeout_s,
        )

    def plan_hedge(
        self,
        pair: ArbPair,
        first: LegId,
        first_filled: Decimal,
        hedged: Decimal,
        book: OrderBook,
        *,
        position_id: str,
        seq: int,
        reference_mid: Decimal,
        attempt: int = 0,
        exiting: bool = False,
    ) -> HedgePlan:
        """The next hedge order for the first leg's cumulative fills.

        ``first_filled`` is the first leg's cumulative filled quantity, ``hedged`` the other leg's
        cumulative filled quantity for this phase (plus any hedge order still working), both in
        their own order units; ``book`` is the hedge leg's book. ``attempt`` widens a limit.
        """
        src, dst = pair.leg(first), pair.leg(first.other)
        filled_base = src.to_base(first_filled)
        side = dst.exit_side if exiting else dst.entry_side
        if side is Side.BUY and dst.buy_fee_in_base:
            # the hedge pays its fee in the base it buys: buy enough to hold the first leg's base
            short = filled_base - dst.to_base(hedged)
            if short <= 0:
                return HedgePlan(order=None, target_qty=hedged, unhedged_base=ZERO, note="nothing more to hedge")
            need = dst.buy_qty_for(short, self.taker_type)
            target = hedged + need
        else:
            target = hedge_quantity(first_filled, src, dst, self.taker_type)
            need = target - hedged
        if need <= 0:
            rest = max(ZERO, filled_base - dst.to_base(hedged))
            return HedgePlan(order=None, target_qty=target, unhedged_base=rest, note="nothing more to hedge")
        ref = book.mid or reference_mid
        reduce_only = exiting and dst.is_perp
        problems = _qty_problems(dst, self.taker_type, need, ref, reduce_only=reduce_only)
        if problems:
            return HedgePlan(
                order=None,
                target_qty=target,
                unhedged_base=filled_base - dst.to_base(hedged),
                note="; ".join(problems),
            )
        order = self._order(
            dst,
            OrderPurpose.EXIT_HEDGE if exiting else OrderPurpose.HEDGE,
            side,
            need,
            book,
            position_id=position_id,
            seq=seq,
            reference_mid=reference_mid,
            attempt=attempt,
            timeout_s=self.config.hedge_timeout_s,
        )
        unhedged = max(ZERO, filled_base - dst.net_base(target, side))
        return HedgePlan(order=order, target_qty=target, unhedged_base=unhedged)

    def plan_unwind(
        self,
        pair: ArbPair,
        a_base: Decimal,
        b_base: Decimal,
        book_a: OrderBook,
        book_b: OrderBook,
        *,
        position_id: str,
        seq: int,
        attempt: int = 0,
    ) -> UnwindPlan:
        """One order that removes the imbalance ``a_base − b_base`` (``b_base`` = short on B)."""
        imbalance = a_base - b_base
        if imbalance == 0:
            return UnwindPlan(order=None, dust_base=ZERO, note="balanced")
        books = {LegId.A: book_a, LegId.B: book_b}
        exposure = {LegId.A: a_base, LegId.B: b_base}
        # too long A / too little short B (imbalance > 0): sell on either leg; otherwise buy
        side = Side.SELL if imbalance > 0 else Side.BUY
        base = abs(imbalance)
        larger = LegId.A if abs(a_base) >= abs(b_base) else LegId.B
        notes: list[str] = []
        for leg_id in (larger, larger.other):
            leg = pair.leg(leg_id)
            book = books[leg_id]
            ref = book.mid
            if ref is None:
                notes.append(f"{leg.key}: no two-sided book")
                continue
            if side is Side.BUY and leg.buy_fee_in_base:
                qty = leg.buy_qty_for(base, self.taker_type)  # the fee comes out of what is bought
            else:
                qty = leg.round_base(base, self.taker_type)
            # the order's effect on the leg's exposure (A: long base, B: short base)
            effect = leg.to_base(qty) * (side.sign if leg_id is LegId.A else -side.sign)
            reduces = exposure[leg_id] * effect < 0 and abs(effect) <= abs(exposure[leg_id])
            reduce_only = leg.is_perp and reduces
            problems = _qty_problems(leg, self.taker_type, qty, ref, reduce_only=reduce_only) if qty > 0 else []
            if qty <= 0 or problems:
                notes.append(f"{leg.key}: " + ("; ".join(problems) or "rounds to 0"))
                continue
            order = self._order(
                leg,
                OrderPurpose.UNWIND,
                side,
                qty,
                book,
                position_id=position_id,
                seq=seq,
                reference_mid=ref,
                attempt=attempt,
                timeout_s=self.config.unwind_timeout_s,
                reduce_only=reduce_only,
            )
            return UnwindPlan(order=order, dust_base=max(ZERO, base - leg.net_base(qty, side)), note="; ".join(notes))
        return UnwindPlan(order=None, dust_base=abs(imbalance), note="; ".join(notes))

    # ------------------------------------------------------------------ internals

    def _order(
        self,
        leg: Leg,
        purpose: OrderPurpose,
        side: Side,
        qty: Decimal,
        book: OrderBook,
        *,
        position_id: str,
        seq: int,
        reference_mid: Decimal,
        timeout_s: float,
        attempt: int = 0,
        maker: bool = False,
        reduce_only: bool | None = None,
    ) -> LegOrder:
        if book.key != leg.key:
            raise PlanError(f"book for {book.key} given to plan an order on {leg.key}")
        if qty <= 0:
            raise PlanError(f"{leg.key}: nothing to {purpose} (quantity {qty})")
        inst = leg.instrument
        client_id = f"{position_id}-{purpose.code}{seq}"
        if len(client_id) > MAX_CLIENT_ID:
            raise PlanError(f"client id {client_id!r} is longer than {MAX_CLIENT_ID} characters")
        levels = book.asks if side is Side.BUY else book.bids
        own = book.bids if side is Side.BUY else book.asks
        if maker:
            if not own:
                raise PlanError(f"{leg.key}: no {('bid' if side is Side.BUY else 'ask')} to rest at")
            order_type, tif = OrderType.LIMIT, TimeInForce.POST_ONLY
            price: Decimal | None = round_price(inst, side, own[0].price)
        elif self.config.order_type is LegOrderType.MARKET:
            order_type, tif, price = OrderType.MARKET, TimeInForce.GTC, None
        else:
            if not levels:
                raise PlanError(f"{leg.key}: empty {('ask' if side is Side.BUY else 'bid')} side")
            walk = walk_book(levels, qty)
            worst = walk.worst_price or levels[0].price
            band = (self.config.limit_slippage_bps + attempt * self.config.hedge_retry_widen_bps) / BPS
            raw = worst * (1 + band) if side is Side.BUY else worst * (1 - band)
            order_type, tif = OrderType.LIMIT, TimeInForce.IOC
            price = round_price(inst, side, raw, aggressive=True)
        rounded = round_down(qty, leg.step(order_type))
        if rounded != qty:
            raise PlanError(f"{leg.key}: quantity {qty} is not on the {order_type} step {leg.step(order_type)}")
        closing = purpose.closing and leg.is_perp
        request = OrderRequest(
            key=leg.key,
            side=side,
            type=order_type,
            qty=qty,
            price=price,
            tif=tif,
            reduce_only=closing if reduce_only is None else reduce_only,
            client_id=client_id,
        )
        return LegOrder(
            leg=leg.id,
            purpose=purpose,
            request=request,
            base_qty=leg.to_base(qty),
            timeout_ms=int(timeout_s * 1000),
            reference_mid=reference_mid,
            attempt=attempt,
        )
