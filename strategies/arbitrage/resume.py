"""Resuming a strategy after a crash or ``kill -9``: its pairs from the journal, checked with the venue.

:func:`restore` rebuilds each open pair the journal holds (its legs, phase, exposure, orders,
booked fills and funding) into the engine without trading and without recording transitions.
:func:`reconcile` then asks the runners about every order of those pairs (``get_order`` by client
id, waiting while the venue has not said — ``pending``/``unknown``), books what the venue filled
beyond the journal (from the venue's own totals, marked ``reconciled``), cancels what is still
open, settles a phase the crash interrupted from the exposure (flat → closed, hedged → hedged,
unhedged → unwinding), compares the strategy's holdings with the venue's positions, and returns
the "explain the difference" report: what the journal says, what the venue says, what it will do.

Holdings no journal explains are **foreign**: reported, never traded against nor counted. On a
perp where a foreign position exists, the strategy's closing orders go without ``reduce_only``
(sized by its own quantity), so the foreign part is left exactly as it was. ``adopt`` takes
foreign perp positions over explicitly (see :func:`adopt`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from strategy_client.errors import CoreApiError
from strategy_client.journal import Journal
from strategy_client.model import Fill, InstrumentKey, MarketKind, Side

from .engine import ArbitrageEngine
from .execution import LegOrder
from .journaling import SlotState, decode_state
from .pair import ArbPair, LegId, PairSize
from .slot import OrderSeq, Slot
from .state import ArbState

__all__ = ["restore", "reconcile", "holdings", "adopt", "load_states"]

ZERO = Decimal(0)
PairFor = Callable[[InstrumentKey, InstrumentKey], ArbPair]


def load_states(journal: Journal, strategy: str) -> list[SlotState]:
    """The latest state of every open pair of ``strategy`` in ``journal``."""
    pairs = journal.pairs(strategy)
    return [decode_state(p.state) for p in pairs if p.state]


def restore(engine: ArbitrageEngine, states: list[SlotState], pair_for: PairFor, prices: dict[str, Decimal]) -> None:
    """Put the journaled pairs back into the engine (no orders, no transitions recorded)."""
    for st in states:
        pair = pair_for(InstrumentKey.parse(st.key_a), InstrumentKey.parse(st.key_b))
        price = prices.get(st.key_a) or next((t.price for t in st.trades if t.leg is LegId.A), Decimal(1))
        machine = engine.execution.machine(st.position_id, pair, price, on_transition=engine._transition)
        machine.state = ArbState(st.state)
        machine.a_base, machine.b_base = st.a_base, st.b_base
        slot = Slot(st.position_id, pair, st.size, machine)
        slot.seq = OrderSeq(st.next_seq)
        slot.opened_ms, slot.next_exit_ms, slot.last_error = st.opened_ms, st.next_exit_ms, st.last_error
        slot.orders = list(st.orders)
        slot.adopted = st.adopted
        engine.slots[slot.position_id] = slot
        engine.ledger.register(slot.position_id, pair)
        for t in st.trades:
            leg = pair.leg(t.leg)
            in_currency = t.fee_asset in (engine.ledger.currency, leg.instrument.base) or t.fee_native == 0
            engine.ledger.record_fill(
                slot.position_id,
                t.leg,
                Fill(
                    key=t.key,
                    client_id=t.client_id,
                    venue_id="",
                    trade_id=t.trade_id,
                    side=t.side,
                    price=t.price,
                    qty=t.qty,
                    fee=t.fee_native,
                    fee_asset=t.fee_asset,
                    is_maker=t.is_maker,
                    ts_ms=t.ts_ms,
                ),
                reference_mid=t.reference_mid,
                purpose=t.purpose,
                fee_in_currency=None if in_currency else t.fee,
            )
        engine.ledger.funding.extend(st.funding)


async def reconcile(engine: ArbitrageEngine, journal: Journal, step: Callable[[str], None] | None = None) -> list[str]:
    """Check every restored pair with the venue (see the module docs); returns the report lines.
    ``step(client_id)`` is called after each order is checked (a progress display)."""
    lines: list[str] = []
    for slot in list(engine.slots.values()):
        m = slot.machine
        lines.append(
            f"pair {slot.position_id}: journal says {m.state} a={m.a_base} b={m.b_base}, "
            f"{len(slot.orders)} orders, {sum(1 for t in engine.ledger.trades if t.position_id == slot.position_id)} "
            f"fills booked"
        )
        for lo in slot.orders:
            lines.append("  " + await _check_order(engine, journal, slot, lo))
            if step is not None:
                step(lo.request.client_id)
        if m.state in (ArbState.ENTERING, ArbState.EXITING):
            m.legs_settled(engine._now_ms(), f"{m.state} interrupted by a restart")
        m = slot.machine
        will = {
            ArbState.HEDGED: "keep it hedged and manage it (exit on the exit rules, or at stop)",
            ArbState.UNWINDING: f"unwind the {m.imbalance} imbalance",
            ArbState.CLOSED: "nothing (flat)",
            ArbState.IDLE: "nothing (flat)",
        }.get(m.state, str(m.state))
        lines.append(f"  now {m.state} a={m.a_base} b={m.b_base}: will {will}")
    return lines


async def _check_order(engine: ArbitrageEngine, journal: Journal, slot: Slot, lo: LegOrder) -> str:
    cid = lo.request.client_id
    trades = [t for t in engine.ledger.trades if t.client_id == cid]
    booked = sum((t.qty for t in trades), ZERO)
    known = journal.order(cid)
    if known is not None and known.status.is_final and known.filled_qty == booked:
        what = f"{lo.purpose} {lo.request.side} {lo.request.qty}"
        return f"order {cid} ({what}): journal final {known.status}, {booked} booked"
    tracked = engine.tracker.track(slot.position_id, lo)
    tracked.filled_qty = booked
    tracked.filled_notional = sum((t.qty * t.price for t in trades), ZERO)
    tracked.real_qty = sum((t.qty for t in trades if ":reconciled:" not in t.trade_id), ZERO)
    tracked.trade_ids = {t.trade_id for t in trades if t.trade_id}
    await engine._resolve(tracked)
    order = tracked.order
    if engine.journal is not None and order is not None:
        engine.journal.order_final(order, "after a restart", reconciled=True)
    venue = f"venue says {order.status}, filled {order.filled_qty}" if order is not None else "venue: no order"
    if tracked.error and (order is None or order.filled_qty <= 0):
        venue = f"venue: {tracked.error}"
    added = tracked.filled_qty - booked
    return f"order {cid} ({lo.purpose} {lo.request.side} {lo.request.qty}): journal {booked} booked; {venue}" + (
        f"; booked {added} more from the venue's totals" if added > 0 else ""
    )


async def holdings(engine: ArbitrageEngine, keys: list[InstrumentKey]) -> dict[InstrumentKey, tuple[Decimal, Decimal]]:
    """``key → (venue, ours)``: the venue's signed position (a perp) or base balance (spot), and
    what the strategy's open pairs hold there."""
    ours: dict[InstrumentKey, Decimal] = {}
    for slot in engine.open_slots():
        for key, qty in engine.ledger.net_base(slot.position_id).items():
            ours[key] = ours.get(key, ZERO) + qty
    out: dict[InstrumentKey, tuple[Decimal, Decimal]] = {}
    for key in keys:
        try:
            if key.kind is MarketKind.SPOT:
                inst = await engine.api.get_instrument(key)
                snap = await engine.api.get_account_snapshot(key.exchange)
                bal = snap.balance(inst.base)
                venue = bal.total if bal is not None else ZERO
            else:
                pos = await engine.api.get_position(key)
                venue = pos.size if pos is not None else ZERO
        except CoreApiError:
            continue
        out[key] = (venue, ours.get(key, ZERO))
    return out


def foreign_lines(found: dict[InstrumentKey, tuple[Decimal, Decimal]], adopting: bool) -> list[str]:
    lines = []
    for key, (venue, ours) in found.items():
        foreign = venue - ours
        if foreign == 0:
            lines.append(f"{key}: venue {venue}, ours {ours}: no difference")
            continue
        if key.kind is MarketKind.SPOT:
            lines.append(
                f"{key}: wallet holds {venue}, ours {ours}: {foreign} is not ours (a wallet balance, never traded)"
            )
        else:
            what = (
                "adopting it (--adopt)"
                if adopting
                else "FOREIGN: left alone and not counted; our closing orders here go without reduce_only"
            )
            lines.append(f"{key}: venue position {venue}, ours {ours}: {foreign} — {what}")
    return lines


def adopt(
    engine: ArbitrageEngine,
    found: dict[InstrumentKey, tuple[Decimal, Decimal]],
    pair: ArbPair,
    marks: dict[InstrumentKey, Decimal],
) -> Slot | None:
    """Take the foreign holdings on ``pair``'s legs over as one position (``--adopt``).

    Only a perp position is adopted; a spot leg joins it only up to the perp's size (a wallet
    balance is not a position). When leg A and leg B hold opposite foreign quantities the pair
    is hedged on their common size; whatever does not match is an unhedged remainder that the
    engine unwinds. The adopted quantities are booked at the current mark as ``adopt`` entries
    (purpose ``adopt``, trade id ``<pair>:adopted:<leg>``, no fee) — the ledger's cost basis,
    never journaled as fills: the venue made no trade."""
    a, b = pair.a.key, pair.b.key
    fa = found.get(a, (ZERO, ZERO))
    fb = found.get(b, (ZERO, ZERO))
    foreign_a = fa[0] - fa[1]  # long on A
    foreign_b = -(fb[0] - fb[1])  # short on B (positive = short)
    if pair.a.is_perp and pair.b.is_perp:
        take_a, take_b = foreign_a, foreign_b
    else:  # spot A: only as much as the perp short needs
        take_b = foreign_b
        take_a = min(max(foreign_a, ZERO), max(foreign_b, ZERO))
    if take_a == 0 and take_b == 0:
        return None
    if take_a < 0 or take_b < 0:
        return None  # a foreign position the wrong way round for this pair: not adoptable as it
    price = marks.get(a) or Decimal(1)
    slot = engine._new_slot(pair, PairSize(base=ZERO, qty_a=ZERO, qty_b=ZERO), price)
    slot.adopted = True
    slot.opened_ms = engine._now_ms()
    for leg, qty, side in ((LegId.A, take_a, Side.BUY), (LegId.B, take_b, Side.SELL)):
        if qty <= 0:
            continue
        key = pair.leg(leg).key
        mark = marks.get(key)
        if mark is None or mark <= 0:
            continue
        engine.ledger.record_fill(
            slot.position_id,
            leg,
            Fill(
                key=key,
                client_id="",
                venue_id="",
                trade_id=f"{slot.position_id}:adopted:{leg}",
                side=side,
                price=mark,
                qty=qty,
                fee=ZERO,
                fee_asset=engine.ledger.currency,
                is_maker=False,
                ts_ms=engine._now_ms(),
            ),
            reference_mid=mark,
            purpose="adopt",
        )
    base = min(take_a, take_b)
    slot.size = engine.execution.size(pair, base) if base > 0 else slot.size
    slot.machine.reconcile(take_a, take_b, engine._now_ms())
    return slot
