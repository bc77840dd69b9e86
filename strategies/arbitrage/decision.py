"""DecisionPolicy: is the two-leg trade worth entering, and is an open one still worth holding?

All amounts are in the pair's currency (:attr:`ArbPair.currency`), ``bps`` are relative to the
leg-A notional at the decision prices. Entry (:meth:`DecisionPolicy.evaluate_entry`), for a
pair size of ``q`` base units::

    price_A   = VWAP of buying q on A's asks   (walking the visible book, not the top;
    price_B   = VWAP of selling q on B's bids   a maker first leg is priced at its own best level)
    basis     = q × (price_B − price_A) − q × mid_A × exit_basis_target_bps / 10⁴
              (computed on the exact walked notionals q × price, so no term is rounded)
    funding   = expected funding received over the horizon (see :mod:`.funding`)
    fees      = entry fees on both legs (maker or taker per the route) at the VWAP notionals
              + exit fees on both legs (taker) at the same notionals
    slippage  = (notional_A + notional_B) × slippage_buffer_bps / 10⁴
    net       = basis + funding − fees − slippage

and the policy enters when ``net_bps ≥ entry_threshold_bps``. ``exit_basis_target_bps`` is the
basis expected at exit (0: full convergence of spot and perp, or of two perps).

A hedged position (:meth:`DecisionPolicy.evaluate_exit`) is valued at what closing it now
would fetch (selling ``q`` on A's bids, buying ``q`` on B's asks). Exit reasons, first match
wins:

1. ``STOP_LOSS``: mark-to-market PnL (price PnL + funding received − fees paid − exit fees)
   at or below ``−stop_loss_bps``;
2. ``MAX_HOLDING``: held for ``max_holding_s`` or longer;
3. ``FUNDING_FLIP``: the pair's carry (rate_B/h − rate_A/h) below ``−funding_flip_bps_per_hour``;
4. ``CONVERGED``: what holding still promises — the basis left to converge,
   ``q × (exit_B − exit_A) − target``, plus expected funding over the remaining horizon — is at
   or below ``exit_threshold_bps``.

**Hysteresis** (no enter/exit churn): reasons 3 and 4 are not acted on before the position
has been held ``min_hold_s`` (the stop-loss and the maximum holding time always are); an entry
is skipped (``CARRY_AGAINST``) while the carry is below ``−funding_flip_bps_per_hour / 2`` —
half-way to the level that would exit it — so a position is never entered into a carry that
exits it on the next book; and the engine waits ``reentry_cooldown_s`` after a position
closes before it enters again. Entry at ``entry_threshold_bps`` vs exit at
``exit_threshold_bps`` (the hold value excludes the fees already paid) is the band for
convergence.

Inputs must be fresh: a book that is not (see :mod:`.oracle`) or a perp leg without a funding
rate gives ``SKIP`` (entry) or ``WAIT`` (exit), never a trade on stale data. The policy is
pure: the caller passes ``now_ms``, books and rates in and gets a :class:`Decision` with the
full breakdown out.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from enum import StrEnum

import msgspec

from strategy_client.model import FundingRate, OrderBook, OrderType, Side

from .funding import FundingMode, PairFunding, expected_pair_funding, pair_carry_per_hour
from .oracle import BookQuote, PriceOracle
from .pair import ArbPair, EntryRoute, LegId, PairSize, Role, check_size

__all__ = [
    "DecisionConfig",
    "Action",
    "Reason",
    "MarketView",
    "EdgeBreakdown",
    "OpenPosition",
    "HoldBreakdown",
    "Decision",
    "DecisionPolicy",
    "market_view",
    "PRECISION",
]

ZERO = Decimal(0)
BPS = Decimal(10_000)
PRECISION = 60  # decimal digits for policy arithmetic: no intermediate rounding at realistic sizes


class DecisionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    entry_threshold_bps: Decimal = Decimal(10)
    exit_threshold_bps: Decimal = Decimal(1)
    horizon_s: float = 8 * 3600.0
    max_holding_s: float = 24 * 3600.0
    stop_loss_bps: Decimal = Decimal(150)
    # 0.5 bps/h ≈ a funding rate of −0.04 % per 8 h against the position: a real flip, not noise
    funding_flip_bps_per_hour: Decimal = Decimal("0.5")
    min_hold_s: float = 30.0  # no discretionary exit (funding flip, converged) before this
    reentry_cooldown_s: float = 10.0  # no entry this soon after a position closed
    slippage_buffer_bps: Decimal = Decimal(1)
    exit_basis_target_bps: Decimal = ZERO
    funding_mode: FundingMode = FundingMode.SETTLEMENTS
    funding_persistence: Decimal = Decimal(1)

    @property
    def horizon_ms(self) -> int:
        return int(self.horizon_s * 1000)

    @property
    def max_holding_ms(self) -> int:
        return int(self.max_holding_s * 1000)

    @property
    def min_hold_ms(self) -> int:
        return int(self.min_hold_s * 1000)

    def problems(self, where: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.exit_threshold_bps > self.entry_threshold_bps:
            out.append(
                (
                    f"{where}.exit_threshold_bps",
                    f"{self.exit_threshold_bps} is above entry_threshold_bps {self.entry_threshold_bps}",
                )
            )
        for name in ("horizon_s", "max_holding_s"):
            if getattr(self, name) <= 0:
                out.append((f"{where}.{name}", f"{getattr(self, name)} must be positive"))
        for name in ("min_hold_s", "reentry_cooldown_s"):
            if getattr(self, name) < 0:
                out.append((f"{where}.{name}", f"{getattr(self, name)} must not be negative"))
        if self.min_hold_s > self.max_holding_s:
            out.append((f"{where}.min_hold_s", f"{self.min_hold_s} is above max_holding_s {self.max_holding_s}"))
        for name in ("stop_loss_bps", "slippage_buffer_bps", "funding_flip_bps_per_hour"):
            if getattr(self, name) < 0:
                out.append((f"{where}.{name}", f"{getattr(self, name)} must not be negative"))
        if not ZERO <= self.funding_persistence <= 1:
            out.append((f"{where}.funding_persistence", f"{self.funding_persistence} is not between 0 and 1"))
        return out


class Action(StrEnum):
    ENTER = "enter"
    SKIP = "skip"  # do not enter (now)
    HOLD = "hold"
    EXIT = "exit"
    WAIT = "wait"  # an open position cannot be evaluated (stale inputs): neither hold nor exit yet


class Reason(StrEnum):
    EDGE = "edge"
    BELOW_THRESHOLD = "below_threshold"
    STALE_BOOK = "stale_book"
    NO_FUNDING = "no_funding"
    THIN_BOOK = "thin_book"
    SIZE_TOO_SMALL = "size_too_small"
    NOT_TRADING = "not_trading"
    STOP_LOSS = "stop_loss"
    MAX_HOLDING = "max_holding"
    FUNDING_FLIP = "funding_flip"
    CARRY_AGAINST = "carry_against"
    CONVERGED = "converged"
    HOLDING = "holding"
    MIN_HOLD = "min_hold"


class MarketView(msgspec.Struct, frozen=True, kw_only=True):
    """What a decision looks at: both books with their verdicts and the perp legs' funding."""

    now_ms: int
    book_a: BookQuote
    book_b: BookQuote
    funding_a: FundingRate | None = None
    funding_b: FundingRate | None = None

    def book(self, leg: LegId) -> BookQuote:
        return self.book_a if leg is LegId.A else self.book_b

    def funding(self, leg: LegId) -> FundingRate | None:
        return self.funding_a if leg is LegId.A else self.funding_b


def market_view(oracle: PriceOracle, pair: ArbPair, now_ns: int) -> MarketView:
    """Assemble a :class:`MarketView` for ``pair`` from the oracle (funding only for perp legs)."""
    return MarketView(
        now_ms=now_ns // 1_000_000,
        book_a=oracle.quote(pair.a.key, now_ns),
        book_b=oracle.quote(pair.b.key, now_ns),
        funding_a=oracle.funding_or_none(pair.a.key, now_ns) if pair.a.is_perp else None,
        funding_b=oracle.funding_or_none(pair.b.key, now_ns) if pair.b.is_perp else None,
    )


class EdgeBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    """Every term of an entry decision (amounts in the pair currency; bps of ``notional_a``)."""

    base: Decimal
    qty_a: Decimal
    qty_b: Decimal
    price_a: Decimal
    price_b: Decimal
    mid_a: Decimal
    mid_b: Decimal
    notional_a: Decimal
    notional_b: Decimal
    basis: Decimal
    funding: Decimal
    fees_entry: Decimal
    fees_exit: Decimal
    fees: Decimal
    slippage: Decimal
    net: Decimal
    basis_bps: Decimal
    funding_bps: Decimal
    fees_bps: Decimal
    slippage_bps: Decimal
    net_bps: Decimal
    horizon_ms: int
    settlements_a: int = 0
    settlements_b: int = 0


class OpenPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A hedged position as the engine (or :class:`~.pnl.PnlLedger`) knows it.

    ``entry_price_a``/``entry_price_b`` are average entry prices per base unit; ``fees_paid``
    and ``funding_received`` are totals so far in the pair currency.
    """

    opened_ms: int
    base: Decimal
    entry_price_a: Decimal
    entry_price_b: Decimal
    fees_paid: Decimal = ZERO
    funding_received: Decimal = ZERO


class HoldBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    base: Decimal
    held_ms: int
    exit_price_a: Decimal
    exit_price_b: Decimal
    mid_a: Decimal
    mid_b: Decimal
    price_pnl: Decimal
    funding_received: Decimal
    fees_paid: Decimal
    exit_fees: Decimal
    mtm: Decimal
    mtm_bps: Decimal
    remaining_basis: Decimal
    expected_funding: Decimal
    hold_value: Decimal
    hold_bps: Decimal
    carry_bps_per_hour: Decimal


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    action: Action
    reason: Reason
    ts_ms: int
    detail: str = ""
    edge: EdgeBreakdown | None = None
    hold: HoldBreakdown | None = None


def _mid(book: OrderBook) -> Decimal:
    return (book.bids[0].price + book.asks[0].price) / 2


class DecisionPolicy:
    """Pure entry/exit decisions for one :class:`ArbPair` configuration (see the module docs)."""

    def __init__(self, config: DecisionConfig) -> None:
        self.config = config

    # ------------------------------------------------------------------ entry

    def evaluate_entry(
        self,
        pair: ArbPair,
        size: PairSize,
        view: MarketView,
        route: EntryRoute | None = None,
        *,
        order_type: OrderType = OrderType.MARKET,
    ) -> Decision:
        """Enter or skip, with an :class:`EdgeBreakdown` whenever the books allowed computing one."""
        now = view.now_ms
        route = route or EntryRoute(first=LegId.A)
        for leg in pair.legs:
            quote = view.book(leg.id)
            if not quote.fresh or quote.book is None:
                return Decision(
                    action=Action.SKIP, reason=Reason.STALE_BOOK, ts_ms=now, detail=f"{leg.key}: {quote.freshness}"
                )
            if not leg.instrument.is_trading:
                return Decision(
                    action=Action.SKIP,
                    reason=Reason.NOT_TRADING,
                    ts_ms=now,
                    detail=f"{leg.key}: {leg.instrument.status}",
                )
            if leg.is_perp and view.funding(leg.id) is None:
                return Decision(action=Action.SKIP, reason=Reason.NO_FUNDING, ts_ms=now, detail=str(leg.key))
        if size.is_zero:
            return Decision(action=Action.SKIP, reason=Reason.SIZE_TOO_SMALL, ts_ms=now, detail="size rounds to 0")
        book_a, book_b = view.book_a.require(), view.book_b.require()
        notionals: dict[LegId, Decimal] = {}
        for leg, book in ((pair.a, book_a), (pair.b, book_b)):
            side = leg.entry_side
            qty = size.qty(leg.id)
            if route.role(leg.id) is Role.MAKER:
                level = book.bids[0] if side is Side.BUY else book.asks[0]
                notionals[leg.id] = leg.to_base(qty) * level.price
                continue
            walk = book.walk(side, qty)
            if walk.avg_price is None:
                return Decision(
                    action=Action.SKIP,
                    reason=Reason.THIN_BOOK,
                    ts_ms=now,
                    detail=f"{leg.key}: only {walk.filled} of {qty} visible",
                )
            notionals[leg.id] = walk.notional
        price_a, price_b = notionals[LegId.A] / size.base, notionals[LegId.B] / size.base
        problems = check_size(pair, size, order_type, price_a, price_b)
        if problems:
            return Decision(action=Action.SKIP, reason=Reason.SIZE_TOO_SMALL, ts_ms=now, detail="; ".join(problems))
        edge = self.edge(pair, size, notionals[LegId.A], notionals[LegId.B], _mid(book_a), _mid(book_b), view, route)
        carry = pair_carry_per_hour(pair, view.funding_a, view.funding_b) * BPS
        if carry < -self.config.funding_flip_bps_per_hour / 2:
            return Decision(
                action=Action.SKIP,
                reason=Reason.CARRY_AGAINST,
                ts_ms=now,
                edge=edge,
                detail=f"carry {carry:.4f} bps/h < -{self.config.funding_flip_bps_per_hour}/2: would exit on a flip",
            )
        if edge.net_bps >= self.config.entry_threshold_bps:
            return Decision(action=Action.ENTER, reason=Reason.EDGE, ts_ms=now, edge=edge)
        return Decision(
            action=Action.SKIP,
            reason=Reason.BELOW_THRESHOLD,
            ts_ms=now,
            edge=edge,
            detail=f"net {edge.net_bps:.2f} bps < {self.config.entry_threshold_bps} bps",
        )

    def edge(
        self,
        pair: ArbPair,
        size: PairSize,
        notional_a: Decimal,
        notional_b: Decimal,
        mid_a: Decimal,
        mid_b: Decimal,
        view: MarketView,
        route: EntryRoute,
    ) -> EdgeBreakdown:
        """The edge arithmetic on the legs' entry notionals (what buying A / selling B would cost /
        fetch: exact sums over the walked levels, so the terms are exact); exposed for what-if tools.
        """
        cfg = self.config
        q = size.base
        with localcontext() as ctx:
            ctx.prec = PRECISION
            price_a = notional_a / q
            price_b = notional_b / q
            basis = notional_b - notional_a - q * mid_a * cfg.exit_basis_target_bps / BPS
            funding: PairFunding = expected_pair_funding(
                pair,
                q,
                view.funding_a,
                view.funding_b,
                now_ms=view.now_ms,
                horizon_ms=cfg.horizon_ms,
                mark_a=mid_a,
                mark_b=mid_b,
                mode=cfg.funding_mode,
                persistence=cfg.funding_persistence,
            )
            fees_entry = notional_a * pair.a.fees.rate(route.role(LegId.A)) + notional_b * pair.b.fees.rate(
                route.role(LegId.B)
            )
            fees_exit = notional_a * pair.a.fees.taker + notional_b * pair.b.fees.taker
            fees = fees_entry + fees_exit
            slippage = (notional_a + notional_b) * cfg.slippage_buffer_bps / BPS
            net = basis + funding.amount - fees - slippage

            def bps(x: Decimal) -> Decimal:
                return x / notional_a * BPS

            return EdgeBreakdown(
                base=q,
                qty_a=size.qty_a,
                qty_b=size.qty_b,
                price_a=price_a,
                price_b=price_b,
                mid_a=mid_a,
                mid_b=mid_b,
                notional_a=notional_a,
                notional_b=notional_b,
                basis=basis,
                funding=funding.amount,
                fees_entry=fees_entry,
                fees_exit=fees_exit,
                fees=fees,
                slippage=slippage,
                net=net,
                basis_bps=bps(basis),
                funding_bps=bps(funding.amount),
                fees_bps=bps(fees),
                slippage_bps=bps(slippage),
                net_bps=bps(net),
                horizon_ms=cfg.horizon_ms,
                settlements_a=funding.a.settlements if funding.a else 0,
                settlements_b=funding.b.settlements if funding.b else 0,
            )

    def best_entry(self, decisions: list[Decision]) -> Decision | None:
        """The ENTER decision with the highest net bps (perp-perp evaluates both orientations)."""
        enters = [d for d in decisions if d.action is Action.ENTER and d.edge is not None]
        if not enters:
            return None
        return max(enters, key=lambda d: d.edge.net_bps if d.edge else ZERO)

    # ------------------------------------------------------------------ exit

    def evaluate_exit(self, pair: ArbPair, position: OpenPosition, view: MarketView) -> Decision:
        """Hold or exit an open hedged position; ``WAIT`` when the inputs are not fresh."""
        cfg = self.config
        now = view.now_ms
        for leg in pair.legs:
            quote = view.book(leg.id)
            if not quote.fresh or quote.book is None:
                return Decision(
                    action=Action.WAIT, reason=Reason.STALE_BOOK, ts_ms=now, detail=f"{leg.key}: {quote.freshness}"
                )
            if leg.is_perp and view.funding(leg.id) is None:
                return Decision(action=Action.WAIT, reason=Reason.NO_FUNDING, ts_ms=now, detail=str(leg.key))
        book_a, book_b = view.book_a.require(), view.book_b.require()
        q = position.base
        walk_a = book_a.walk(pair.a.exit_side, pair.a.from_base(q))
        walk_b = book_b.walk(pair.b.exit_side, pair.b.from_base(q))
        if walk_a.avg_price is None or walk_b.avg_price is None:
            thin = pair.a.key if walk_a.avg_price is None else pair.b.key
            return Decision(action=Action.WAIT, reason=Reason.THIN_BOOK, ts_ms=now, detail=f"{thin}: cannot close {q}")
        mid_a, mid_b = _mid(book_a), _mid(book_b)
        held = max(0, now - position.opened_ms)
        remaining = max(0, min(cfg.horizon_ms, cfg.max_holding_ms - held))
        with localcontext() as ctx:
            ctx.prec = PRECISION
            # exact proceeds of selling A and cost of buying B back over the walked levels
            sell_a = walk_a.notional
            buy_b = walk_b.notional
            exit_a, exit_b = sell_a / q, buy_b / q
            ref_notional = q * position.entry_price_a
            price_pnl = (sell_a - q * position.entry_price_a) + (q * position.entry_price_b - buy_b)
            exit_fees = sell_a * pair.a.fees.taker + buy_b * pair.b.fees.taker
            mtm = price_pnl + position.funding_received - position.fees_paid - exit_fees
            remaining_basis = buy_b - sell_a - q * mid_a * cfg.exit_basis_target_bps / BPS
            expected = expected_pair_funding(
                pair,
                q,
                view.funding_a,
                view.funding_b,
                now_ms=now,
                horizon_ms=remaining,
                mark_a=mid_a,
                mark_b=mid_b,
                mode=cfg.funding_mode,
                persistence=cfg.funding_persistence,
            ).amount
            hold_value = remaining_basis + expected
            carry = pair_carry_per_hour(pair, view.funding_a, view.funding_b) * BPS
            hold = HoldBreakdown(
                base=q,
                held_ms=held,
                exit_price_a=exit_a,
                exit_price_b=exit_b,
                mid_a=mid_a,
                mid_b=mid_b,
                price_pnl=price_pnl,
                funding_received=position.funding_received,
                fees_paid=position.fees_paid,
                exit_fees=exit_fees,
                mtm=mtm,
                mtm_bps=mtm / ref_notional * BPS if ref_notional else ZERO,
                remaining_basis=remaining_basis,
                expected_funding=expected,
                hold_value=hold_value,
                hold_bps=hold_value / ref_notional * BPS if ref_notional else ZERO,
                carry_bps_per_hour=carry,
            )
        if hold.mtm_bps <= -cfg.stop_loss_bps:
            return self._exit(Reason.STOP_LOSS, now, hold, f"mtm {hold.mtm_bps:.2f} bps <= -{cfg.stop_loss_bps}")
        if held >= cfg.max_holding_ms:
            return self._exit(Reason.MAX_HOLDING, now, hold, f"held {held} ms >= {cfg.max_holding_ms} ms")
        if carry < -cfg.funding_flip_bps_per_hour:
            exit_now = (Reason.FUNDING_FLIP, f"carry {carry:.4f} bps/h < -{cfg.funding_flip_bps_per_hour}")
        elif hold.hold_bps <= cfg.exit_threshold_bps:
            exit_now = (Reason.CONVERGED, f"hold value {hold.hold_bps:.2f} bps <= {cfg.exit_threshold_bps}")
        else:
            return Decision(action=Action.HOLD, reason=Reason.HOLDING, ts_ms=now, hold=hold)
        if held < cfg.min_hold_ms:
            detail = f"{exit_now[0]} ({exit_now[1]}) held back: held {held} ms < min_hold {cfg.min_hold_ms} ms"
            return Decision(action=Action.HOLD, reason=Reason.MIN_HOLD, ts_ms=now, hold=hold, detail=detail)
        return self._exit(exit_now[0], now, hold, exit_now[1])

    @staticmethod
    def _exit(reason: Reason, now: int, hold: HoldBreakdown, detail: str) -> Decision:
        return Decision(action=Action.EXIT, reason=reason, ts_ms=now, hold=hold, detail=detail)
