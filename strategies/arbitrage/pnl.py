"""The PnL ledger: every fill and funding payment of every arbitrage position, and the breakdown.

All amounts are in one currency (the pairs' quote/settle currency, e.g. USDT). For a fill of
signed base quantity ``s`` (buy > 0, sell < 0; ``s = ±qty``, base units on every venue) at price ``p``
whose order was decided when the leg's mid was ``m`` (the *reference mid*, carried by the
execution plan), and marks ``M_k`` (the latest mark of each instrument ``k``)::

    cash       = Σ −s × p                          quote received for what was traded
                                                    (+ fee × p for fees paid in the base asset)
    inventory  = Σ_k N_k × M_k                      what is still held, N_k = net base on k
    price PnL  = cash + inventory
    slippage   = Σ s × (p − m)                      execution cost against the decision mids
                                                    (> 0: bought above / sold below the mid)
    basis      = price PnL + slippage               the price PnL at the decision mids — what
                                                    the basis moved, the rest of the price PnL
    funding    = Σ funding payments received (< 0 when paid)
    fees       = Σ fees paid (< 0 for rebates), converted into the currency
    total      = price PnL + funding − fees
               = basis + funding − fees − slippage  (an identity, exact)

A fee charged in the base asset (Binance spot buys) reduces the inventory by that quantity and
counts as a fee of ``fee × p`` — as if that quantity were sold at ``p`` and the proceeds paid
as the fee (so ``cash`` includes ``+fee × p``); a fee in any other asset needs its value in the
currency (``fee_in_currency``). Inventory without a recorded mark is valued at the last fill's
reference mid.

**To the cent.** :meth:`PnlLedger.breakdown` computes every term exactly (60-digit decimal
context, no intermediate rounding), rounds ``total``, ``funding``, ``fees`` and ``slippage``
to the cent (half-even) and defines the rounded ``basis`` as
``total − funding + fees + slippage``. So in every :class:`PnlBreakdown`
``basis + funding − fees − slippage == total`` holds exactly in cents, and each rounded term is
within half a cent of the exact one (``basis`` within two cents); the exact terms travel along
in :attr:`PnlBreakdown.exact`. The per-position rows of :meth:`PnlLedger.positions` are rounded
by largest remainder (:func:`allocate_cents`) so that each column of the rows also adds up to
the total's (each row's term within a cent of exact, each row adding up as above).

The ledger is pure (no I/O, no clock): the engine records what happened, with timestamps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext

import msgspec

from strategy_client.model import Fill, FundingPayment, InstrumentKey, Side

from .decision import PRECISION, OpenPosition
from .errors import LedgerError
from .pair import ArbPair, LegId

__all__ = [
    "CENT",
    "TradeRecord",
    "FundingRecord",
    "MarkRecord",
    "ExactPnl",
    "PnlBreakdown",
    "PnlPoint",
    "PositionPnl",
    "PnlLedger",
    "round_cents",
    "allocate_cents",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")


def round_cents(value: Decimal, cent: Decimal = CENT) -> Decimal:
    return value.quantize(cent, rounding=ROUND_HALF_EVEN)


class TradeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One fill as booked: ``base_delta`` is the inventory change, ``cash`` the quote received."""

    position_id: str
    leg: LegId
    purpose: str
    key: InstrumentKey
    side: Side
    qty: Decimal
    price: Decimal
    reference_mid: Decimal
    base_delta: Decimal
    cash: Decimal
    slippage: Decimal
    fee: Decimal
    fee_native: Decimal
    fee_asset: str
    is_maker: bool
    ts_ms: int
    trade_id: str
    client_id: str


class FundingRecord(msgspec.Struct, frozen=True, kw_only=True):
    position_id: str
    key: InstrumentKey
    amount: Decimal
    rate: Decimal
    ts_ms: int


class MarkRecord(msgspec.Struct, frozen=True, kw_only=True):
    key: InstrumentKey
    price: Decimal
    ts_ms: int


class ExactPnl(msgspec.Struct, frozen=True, kw_only=True):
    price_pnl: Decimal
    basis: Decimal
    funding: Decimal
    fees: Decimal
    slippage: Decimal
    total: Decimal


class PnlBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    """Rounded to the cent with ``basis + funding − fees − slippage == total`` exactly."""

    basis: Decimal
    funding: Decimal
    fees: Decimal
    slippage: Decimal
    total: Decimal
    exact: ExactPnl

    def adds_up(self) -> bool:
        return self.basis + self.funding - self.fees - self.slippage == self.total


class PnlPoint(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    ts_ms: int
    basis: Decimal
    funding: Decimal
    fees: Decimal
    slippage: Decimal
    total: Decimal


class PositionPnl(msgspec.Struct, frozen=True, kw_only=True):
    position_id: str
    pair: str
    opened_ms: int
    last_ms: int
    open_base: dict[str, Decimal]  # instrument key text → net base still held
    trades: int
    breakdown: PnlBreakdown


@dataclass(slots=True)
class _Acc:
    """Running exact sums for one scope (a position, or everything)."""

    cash: Decimal = ZERO
    slippage: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    inventory: dict[InstrumentKey, Decimal] = field(default_factory=dict)
    last_ref: dict[InstrumentKey, Decimal] = field(default_factory=dict)

    def add_trade(self, t: TradeRecord) -> None:
        self.cash += t.cash
        self.slippage += t.slippage
        self.fees += t.fee
        self.inventory[t.key] = self.inventory.get(t.key, ZERO) + t.base_delta
        self.last_ref[t.key] = t.reference_mid

    def exact(self, marks: dict[InstrumentKey, Decimal]) -> ExactPnl:
        inventory = sum(
            (qty * marks.get(key, self.last_ref.get(key, ZERO)) for key, qty in self.inventory.items()),
            ZERO,
        )
        price_pnl = self.cash + inventory
        basis = price_pnl + self.slippage
        total = price_pnl + self.funding - self.fees
        return ExactPnl(
            price_pnl=price_pnl,
            basis=basis,
            funding=self.funding,
            fees=self.fees,
            slippage=self.slippage,
            total=total,
        )


def allocate_cents(values: list[Decimal], cent: Decimal = CENT) -> list[Decimal]:
    """Round ``values`` to ``cent`` so that they add up to their rounded sum (largest remainder).

    Each result is within one cent of its value; the results sum to ``round_cents(sum(values))``.
    """
    if not values:
        return []
    target = round_cents(sum(values, ZERO), cent)
    floors = [v.quantize(cent, rounding=ROUND_FLOOR) for v in values]
    short = int((target - sum(floors, ZERO)) / cent)  # 0 ≤ short ≤ len(values)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    for i in order[:short]:
        floors[i] += cent
    return floors


def _allocated(exacts: list[ExactPnl], cent: Decimal) -> list[PnlBreakdown]:
    """Rows rounded so every column adds up to the rounded total and every row adds up."""
    cols = {
        name: allocate_cents([getattr(e, name) for e in exacts], cent)
        for name in ("total", "funding", "fees", "slippage")
    }
    out: list[PnlBreakdown] = []
    for i, exact in enumerate(exacts):
        total, funding, fees, slippage = (cols[n][i] for n in ("total", "funding", "fees", "slippage"))
        out.append(
            PnlBreakdown(
                basis=total - funding + fees + slippage,
                funding=funding,
                fees=fees,
                slippage=slippage,
                total=total,
                exact=exact,
            )
        )
    return out


def _rounded(exact: ExactPnl, cent: Decimal) -> PnlBreakdown:
    total = round_cents(exact.total, cent)
    funding = round_cents(exact.funding, cent)
    fees = round_cents(exact.fees, cent)
    slippage = round_cents(exact.slippage, cent)
    return PnlBreakdown(
        basis=total - funding + fees + slippage,
        funding=funding,
        fees=fees,
        slippage=slippage,
        total=total,
        exact=exact,
    )


class PnlLedger:
    """Trades, funding and marks for the positions of one strategy run (see the module docs)."""

    def __init__(self, currency: str = "USDT", *, cent: Decimal = CENT) -> None:
        self.currency = currency
        self.cent = cent
        self.pairs: dict[str, ArbPair] = {}
        self.trades: list[TradeRecord] = []
        self.funding: list[FundingRecord] = []
        self.marks: list[MarkRecord] = []
        self._last_mark: dict[InstrumentKey, Decimal] = {}
        self._seen: set[tuple[InstrumentKey, str]] = set()
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ recording

    def register(self, position_id: str, pair: ArbPair) -> None:
        """Declare a position and its pair before booking anything for it."""
        if pair.currency != self.currency:
            raise LedgerError("pair", f"{pair} is valued in {pair.currency}, the ledger in {self.currency}")
        known = self.pairs.get(position_id)
        if known is not None and known != pair:
            raise LedgerError("position_id", f"{position_id!r} is already registered for {known}")
        self.pairs[position_id] = pair

    def record_fill(
        self,
        position_id: str,
        leg: LegId,
        fill: Fill,
        *,
        reference_mid: Decimal,
        purpose: str,
        fee_in_currency: Decimal | None = None,
    ) -> TradeRecord | None:
        """Book one fill; returns None for a duplicate (same key and trade id), which is counted."""
        pair = self._pair(position_id)
        inst = pair.leg(leg).instrument
        if fill.key != inst.key:
            raise LedgerError("key", f"fill for {fill.key} booked on leg {leg} ({inst.key})")
        if fill.qty <= 0:
            raise LedgerError("qty", f"fill quantity {fill.qty} must be positive")
        if fill.price <= 0:
            raise LedgerError("price", f"fill price {fill.price} must be positive")
        if reference_mid <= 0:
            raise LedgerError("reference_mid", f"{reference_mid} must be positive")
        dedupe = (fill.key, fill.trade_id)
        if fill.trade_id and dedupe in self._seen:
            self.stats["duplicate_fills"] += 1
            return None
        with localcontext() as ctx:
            ctx.prec = PRECISION
            signed = fill.qty * fill.side.sign
            base_delta = signed
            cash = -signed * fill.price
            if fill.fee_asset == self.currency or (fill.fee == 0 and fee_in_currency is None):
                fee = fill.fee
            elif fill.fee_asset == inst.base:
                # paid in the asset: the inventory shrinks by the fee, as if that much were sold
                # at the fill price and the proceeds paid as a fee of fee × price
                fee = fill.fee * fill.price
                base_delta = signed - fill.fee
                cash += fee
            elif fee_in_currency is not None:
                fee = fee_in_currency
            else:
                raise LedgerError(
                    "fee_asset",
                    f"fee in {fill.fee_asset!r} needs fee_in_currency (its value in {self.currency})",
                )
            record = TradeRecord(
                position_id=position_id,
                leg=leg,
                purpose=purpose,
                key=fill.key,
                side=fill.side,
                qty=fill.qty,
                price=fill.price,
                reference_mid=reference_mid,
                base_delta=base_delta,
                cash=cash,
                slippage=signed * (fill.price - reference_mid),
                fee=fee,
                fee_native=fill.fee,
                fee_asset=fill.fee_asset,
                is_maker=fill.is_maker,
                ts_ms=fill.ts_ms,
                trade_id=fill.trade_id,
                client_id=fill.client_id,
            )
        if fill.trade_id:
            self._seen.add(dedupe)
        self.trades.append(record)
        self.stats["fills"] += 1
        return record

    def record_funding(self, position_id: str, payment: FundingPayment) -> FundingRecord:
        """Book a settled funding payment (``amount`` > 0 received) for ``position_id``."""
        pair = self._pair(position_id)
        if pair.leg_of(payment.key) is None:
            raise LedgerError("key", f"funding for {payment.key} is not a leg of {position_id!r}")
        if payment.asset != self.currency:
            raise LedgerError("asset", f"funding paid in {payment.asset!r}, the ledger counts {self.currency}")
        record = FundingRecord(
            position_id=position_id,
            key=payment.key,
            amount=payment.amount,
            rate=payment.rate,
            ts_ms=payment.ts_ms,
        )
        self.funding.append(record)
        self.stats["funding_payments"] += 1
        return record

    def mark(self, key: InstrumentKey, price: Decimal, ts_ms: int) -> None:
        """Record a mark (mid or mark price) used to value open inventory from ``ts_ms`` on."""
        if price <= 0:
            raise LedgerError("price", f"mark {price} for {key} must be positive")
        self.marks.append(MarkRecord(key=key, price=price, ts_ms=ts_ms))
        self._last_mark[key] = price

    # ------------------------------------------------------------------ queries

    def net_base(self, position_id: str) -> dict[InstrumentKey, Decimal]:
        """Net base held per instrument by ``position_id`` (after base-asset fees)."""
        out: dict[InstrumentKey, Decimal] = {}
        for t in self.trades:
            if t.position_id == position_id:
                out[t.key] = out.get(t.key, ZERO) + t.base_delta
        return out

    def exposure(self) -> dict[InstrumentKey, Decimal]:
        """Absolute notional held per instrument over all positions, at the latest marks."""
        acc = self._accumulate(None)
        return {
            key: abs(qty) * self._last_mark.get(key, acc.last_ref.get(key, ZERO))
            for key, qty in acc.inventory.items()
            if qty != 0
        }

    def open_position(self, position_id: str) -> OpenPosition | None:
        """What the decision policy needs about a hedged position; None before any fill."""
        pair = self._pair(position_id)
        trades = [t for t in self.trades if t.position_id == position_id]
        if not trades:
            return None
        with localcontext() as ctx:
            ctx.prec = PRECISION
            entry: dict[LegId, tuple[Decimal, Decimal]] = {LegId.A: (ZERO, ZERO), LegId.B: (ZERO, ZERO)}
            for t in trades:
                if t.side is pair.leg(t.leg).entry_side:
                    base = t.qty
                    qty, notional = entry[t.leg]
                    entry[t.leg] = (qty + base, notional + base * t.price)
            held = self.net_base(position_id)
            a_base = held.get(pair.a.key, ZERO)
            b_base = -held.get(pair.b.key, ZERO)
            fees = sum((t.fee for t in trades), ZERO)
            funding = sum((f.amount for f in self.funding if f.position_id == position_id), ZERO)

            def avg(leg: LegId) -> Decimal:
                qty, notional = entry[leg]
                return notional / qty if qty > 0 else ZERO

            return OpenPosition(
                opened_ms=min(t.ts_ms for t in trades),
                base=min(a_base, b_base) if a_base > 0 and b_base > 0 else ZERO,
                entry_price_a=avg(LegId.A),
                entry_price_b=avg(LegId.B),
                fees_paid=fees,
                funding_received=funding,
            )

    def breakdown(self, position_id: str | None = None) -> PnlBreakdown:
        """The PnL of one position, or of everything, valued at the latest marks."""
        acc = self._accumulate(position_id)
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return _rounded(acc.exact(dict(self._last_mark)), self.cent)

    def positions(self) -> list[PositionPnl]:
        """One row per registered position, rounded so the rows add up to :meth:`breakdown`."""
        pids = list(self.pairs)
        marks = dict(self._last_mark)
        with localcontext() as ctx:
            ctx.prec = PRECISION
            exacts = [self._accumulate(pid).exact(marks) for pid in pids]
            rows = _allocated(exacts, self.cent)
        out: list[PositionPnl] = []
        for pid, row in zip(pids, rows, strict=True):
            trades = [t for t in self.trades if t.position_id == pid]
            times = [t.ts_ms for t in trades] + [f.ts_ms for f in self.funding if f.position_id == pid]
            out.append(
                PositionPnl(
                    position_id=pid,
                    pair=str(self.pairs[pid]),
                    opened_ms=min(times) if times else 0,
                    last_ms=max(times) if times else 0,
                    open_base={str(k): v for k, v in self.net_base(pid).items() if v != 0},
                    trades=len(trades),
                    breakdown=row,
                )
            )
        return out

    def timeline(self, max_points: int = 2000) -> list[PnlPoint]:
        """Cumulative PnL after each recorded event (fills, funding, marks) in time order.

        Events with the same timestamp give one point; when there are more than ``max_points``
        points, evenly spaced ones are kept (always the first and the last).
        """
        events: list[tuple[int, int, TradeRecord | FundingRecord | MarkRecord]] = []
        order = 0
        for group in (self.trades, self.funding, self.marks):
            for item in group:
                events.append((item.ts_ms, order, item))
                order += 1
        events.sort(key=lambda e: (e[0], e[1]))
        acc = _Acc()
        marks: dict[InstrumentKey, Decimal] = {}
        points: list[PnlPoint] = []
        with localcontext() as ctx:
            ctx.prec = PRECISION
            for i, (ts, _, item) in enumerate(events):
                if isinstance(item, TradeRecord):
                    acc.add_trade(item)
                elif isinstance(item, FundingRecord):
                    acc.funding += item.amount
                else:
                    marks[item.key] = item.price
                if i + 1 < len(events) and events[i + 1][0] == ts:
                    continue
                b = _rounded(acc.exact(marks), self.cent)
                points.append(
                    PnlPoint(
                        ts_ms=ts, basis=b.basis, funding=b.funding, fees=b.fees, slippage=b.slippage, total=b.total
                    )
                )
        return _thin(points, max_points)

    # ------------------------------------------------------------------ internals

    def _pair(self, position_id: str) -> ArbPair:
        pair = self.pairs.get(position_id)
        if pair is None:
            raise LedgerError("position_id", f"unknown position {position_id!r} (register it first)")
        return pair

    def _accumulate(self, position_id: str | None) -> _Acc:
        acc = _Acc()
        with localcontext() as ctx:
            ctx.prec = PRECISION
            for t in self.trades:
                if position_id is None or t.position_id == position_id:
                    acc.add_trade(t)
            acc.funding = sum(
                (f.amount for f in self.funding if position_id is None or f.position_id == position_id), ZERO
            )
        return acc


def _thin(points: list[PnlPoint], max_points: int) -> list[PnlPoint]:
    if max_points < 2 or len(points) <= max_points:
        return points
    step = (len(points) - 1) / (max_points - 1)
    picked = sorted({round(i * step) for i in range(max_points)})
    return [points[i] for i in picked]
