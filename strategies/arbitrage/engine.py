"""ArbitrageEngine: drives the pure policies against a CoreApi (live runners or PaperExecution).

One engine trades one kind of pair (spot-perp on one exchange, or perp-perp across two). It is
fed events (:meth:`on_event`: books, funding, executions, funding payments, account, gaps and
snapshots) and asked to decide (:meth:`evaluate` — on every book for spot-perp, on a timer for
perp-perp). Each arbitrage position runs its explicit :class:`PositionMachine`; the orders of a
phase (entry, exit, unwind) run in one task at a time, so a decision never races an execution.

Safety rules, in order of precedence:

* never trade on a stale or gapped book (the oracle says so; the decision then skips/waits);
* a partial fill is hedged with exactly the filled quantity (rounded to the other leg's step);
  a hedge that fails after its retries unwinds the naked leg, and the unwind never gives up;
* an order whose outcome is unknown (runner gone, timeout) is looked up by client id until the
  runner answers — never resent, never assumed;
* on stop, no new entries; phases in flight finish; with ``close_on_stop`` hedged positions are
  exited; nothing unhedged is left behind while a runner answers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from loguru import logger

from strategy_client.core_api import CoreApi
from strategy_client.errors import (
    CoreApiError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    RequestTimeout,
    RunnerUnavailable,
    VenueRejected,
)
from strategy_client.events import Gap, Received, Snapshot
from strategy_client.model import AccountSnapshot, Exchange, Fill, FundingPayment, InstrumentKey, OrderBook
from strategy_client.wire import (
    AccountEvent,
    BookEvent,
    FundingEvent,
    FundingPaymentEvent,
    OrderEvent,
    TopicKind,
)

from .edge import Action, Decision, DecisionPolicy, market_view
from .execution import ExecutionPolicy, LegOrder
from .margin import MarginAction, MarginPolicy
from .oracle import PriceOracle
from .orders import OrderTracker, TrackedOrder
from .pair import ArbPair, LegId, PairSize
from .pnl import PnlLedger
from .state import ArbState, PositionMachine, Transition

__all__ = ["ArbitrageEngine", "Slot"]

ZERO = Decimal(0)
UNKNOWN_OUTCOME_WINDOW_S = 120.0


class Slot:
    """One arbitrage position: its pair, size, state machine and order sequence."""

    def __init__(self, position_id: str, pair: ArbPair, size: PairSize, machine: PositionMachine) -> None:
        self.position_id = position_id
        self.pair = pair
        self.size = size
        self.machine = machine
        self.seq = itertools.count(1)
        self.opened_ms = 0

    @property
    def open(self) -> bool:
        return self.machine.state is not ArbState.CLOSED


class ArbitrageEngine:
    def __init__(
        self,
        api: CoreApi,
        *,
        name: str,
        pair_for: Callable[[int], ArbPair | None],
        size: Decimal,
        max_positions: int,
        oracle: PriceOracle,
        decision: DecisionPolicy,
        execution: ExecutionPolicy,
        margin: MarginPolicy,
        currency: str = "USDT",
        clock_ns: Callable[[], int] = time.time_ns,
        on_transition: Callable[[Transition], None] | None = None,
        on_market: Callable[[Any], None] | None = None,
    ) -> None:
        self.api = api
        self.name = name
        self.pair_for = pair_for
        self.size_base = size
        self.max_positions = max_positions
        self.oracle = oracle
        self.decision = decision
        self.execution = execution
        self.margin = margin
        self.clock_ns = clock_ns
        self.ledger = PnlLedger(currency)
        self.tracker = OrderTracker(self._book_fill)
        self.slots: dict[str, Slot] = {}
        self.accounts: dict[Exchange, AccountSnapshot] = {}
        self.transitions: list[Transition] = []
        self.last_decision: Decision | None = None
        self.decisions = 0
        self.entries = 0
        self.exits = 0
        self.errors: list[str] = []
        self.stopping = False
        self.escalated = False
        self._user_on_transition = on_transition
        self._on_market = on_market
        self._phase: asyncio.Task[None] | None = None
        self._reconcile_task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._run_tag = f"{(time.time_ns() // 1_000_000) % 10**8:x}"

    # ------------------------------------------------------------------ setup
    async def start(self, pairs: list[ArbPair]) -> None:
        """Leverage on every perp leg, then account snapshots of every exchange involved."""
        seen: set[InstrumentKey] = set()
        for pair in pairs:
            for key, leverage in self.margin.leverage_requests(pair):
                if key not in seen:
                    seen.add(key)
                    got = await self.api.set_leverage(key, leverage)
                    logger.info("{}: leverage {} on {}", self.name, got, key)
        await self.refresh_accounts({leg.key.exchange for pair in pairs for leg in pair.legs})

    async def refresh_accounts(self, exchanges: set[Exchange]) -> None:
        for ex in exchanges:
            try:
                self.accounts[ex] = await self.api.get_account_snapshot(ex)
            except CoreApiError as exc:
                logger.warning("{}: account snapshot of {} failed: {}", self.name, ex.value, exc)

    # ------------------------------------------------------------------ events in
    def on_event(self, item: Any) -> None:
        """A subscription item (Received / Gap / Snapshot) or a bare wire event (paper execution)."""
        now = self.clock_ns()
        if isinstance(item, Received):
            self._on_wire(item.event, now)
        elif isinstance(item, Gap):
            if item.kind is TopicKind.BOOK and item.key is not None:
                self.oracle.on_gap(item.key, now)
            if item.kind is TopicKind.EXECUTION:
                self.request_reconcile(f"exec gap on {item.topic}")
            if item.snapshot is not None:
                self._on_snapshot(item.snapshot, now)
        elif isinstance(item, Snapshot):
            self._on_snapshot(item, now)
            if item.reason in ("reconnect", "reset"):
                self.request_reconcile(f"{item.runner} {item.reason}")
        else:
            self._on_wire(item, now)

    def _on_wire(self, ev: Any, now: int) -> None:
        if isinstance(ev, BookEvent):
            self.oracle.on_book(ev.book, venue_stale=ev.stale)
            if self._on_market is not None:
                self._on_market(ev.book)
        elif isinstance(ev, FundingEvent):
            self.oracle.on_funding(ev.funding, now)
            if self._on_market is not None:
                self._on_market(ev.funding)
        elif isinstance(ev, OrderEvent):
            self.tracker.on_update(ev.order, ev.fill)
        elif isinstance(ev, FundingPaymentEvent):
            self._on_funding_payment(ev.payment)
        elif isinstance(ev, AccountEvent):
            self.accounts[ev.account.exchange] = ev.account

    def _on_snapshot(self, snap: Snapshot, now: int) -> None:
        for book in snap.books or ():
            self.oracle.on_book(book, resync=True)
            if self._on_market is not None:
                self._on_market(book)
        for rate in snap.funding or ():
            self.oracle.on_funding(rate, now)
        for order in snap.orders or ():
            self.tracker.on_update(order, None)
        if snap.account is not None:
            self.accounts[snap.account.exchange] = snap.account

    def _book_fill(self, tracked: TrackedOrder, fill: Fill) -> bool:
        slot = self.slots.get(tracked.position_id)
        if slot is None:
            return False
        lo = tracked.leg_order
        record = self.ledger.record_fill(
            slot.position_id,
            lo.leg,
            fill,
            reference_mid=lo.reference_mid,
            purpose=lo.purpose.value,
            fee_in_currency=fill.fee * fill.price if fill.fee_asset not in (self.ledger.currency,) else None,
        )
        if record is None:
            return False
        self.ledger.mark(fill.key, fill.price, fill.ts_ms)
        slot.machine.fill(lo.leg, fill.side, fill.qty, fill.ts_ms)
        return True

    def _on_funding_payment(self, payment: FundingPayment) -> None:
        holders = [s for s in self.slots.values() if s.pair.leg_of(payment.key) is not None]
        weights = [(s, abs(self.ledger.net_base(s.position_id).get(payment.key, ZERO))) for s in holders]
        weights = [(s, w) for s, w in weights if w > 0]
        total = sum((w for _, w in weights), ZERO)
        if total <= 0:
            logger.info("{}: funding payment {} on {} not ours (no position)", self.name, payment.amount, payment.key)
            return
        left = payment.amount
        for i, (slot, w) in enumerate(weights):
            share = left if i == len(weights) - 1 else payment.amount * w / total
            left -= share
            self.ledger.record_funding(
                slot.position_id,
                FundingPayment(
                    key=payment.key, amount=share, asset=payment.asset, rate=payment.rate, ts_ms=payment.ts_ms
                ),
            )
        logger.info("{}: funding {} {} on {}", self.name, payment.amount, payment.asset, payment.key)

    # ------------------------------------------------------------------ decisions
    @property
    def busy(self) -> bool:
        return self._phase is not None and not self._phase.done()

    def open_slots(self) -> list[Slot]:
        return [s for s in self.slots.values() if s.open]

    def evaluate(self) -> Decision | None:
        """Look at the market once: exit what should exit, else maybe enter. Never blocks."""
        if self.busy or self.stopping:
            return None
        now_ns = self.clock_ns()
        self.decisions += 1
        # margin first: a degrading ratio exits before anything else
        assessment = self.margin.assess(self.accounts)
        hedged = [s for s in self.open_slots() if s.machine.state is ArbState.HEDGED]
        if assessment.action is not MarginAction.OK and hedged:
            victim = min(hedged, key=lambda s: s.opened_ms)
            self._start(self._exit(victim, f"margin ratio {assessment.worst_ratio:.3f}: {assessment.action}"))
            return None
        for slot in hedged:
            pos = self.ledger.open_position(slot.position_id)
            if pos is None or pos.base <= 0:
                continue
            view = market_view(self.oracle, slot.pair, now_ns)
            d = self.decision.evaluate_exit(slot.pair, pos, view)
            self.last_decision = d
            if d.action is Action.EXIT:
                self._start(self._exit(slot, f"{d.reason}: {d.detail}"))
                return d
        if self.escalated or len(self.open_slots()) >= self.max_positions:
            return self.last_decision
        pair = self.pair_for(now_ns)
        if pair is None:
            return None
        view = market_view(self.oracle, pair, now_ns)
        if not (view.book_a.fresh and view.book_b.fresh) or view.book_a.book is None or view.book_b.book is None:
            return None
        book_a, book_b = view.book_a.book, view.book_b.book
        size = self.execution.size(pair, self.size_base)
        mid_a, mid_b = book_a.mid, book_b.mid
        if size.is_zero or mid_a is None or mid_b is None:
            return None
        check = self.margin.check_entry(pair, size.base, mid_a, mid_b, self.accounts, self.ledger.exposure())
        if not check.ok:
            size = self.execution.size(pair, min(size.base, check.max_base))
            if size.is_zero:
                return None
        route = self.execution.route(pair, size, book_a, book_b)
        d = self.decision.evaluate_entry(pair, size, view, route, order_type=self.execution.taker_type)
        self.last_decision = d
        if d.action is Action.ENTER:
            final = self.margin.check_entry(pair, size.base, mid_a, mid_b, self.accounts, self.ledger.exposure())
            if not final.ok:
                logger.info("{}: entry refused by margin: {}", self.name, "; ".join(final.reasons))
                return d
            self._start(self._enter(pair, size, route, d))
        return d

    def _start(self, coro: Any) -> None:
        self._phase = asyncio.get_running_loop().create_task(self._guard(coro), name=f"{self.name}.phase")

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a phase failure is reported, the engine keeps running
            self.errors.append(f"{type(exc).__name__}: {exc}")
            logger.exception("{}: phase failed", self.name)

    # ------------------------------------------------------------------ phases
    def _new_slot(self, pair: ArbPair, size: PairSize, price: Decimal) -> Slot:
        pid = f"{self.name[:4]}{self._run_tag}-{next(self._ids)}"
        machine = self.execution.machine(pid, pair, price, on_transition=self._transition)
        slot = Slot(pid, pair, size, machine)
        self.slots[pid] = slot
        self.ledger.register(pid, pair)
        return slot

    def _transition(self, t: Transition) -> None:
        self.transitions.append(t)
        logger.info(
            "{} {}: {} → {} ({}) a={} b={}: {}",
            self.name,
            t.position_id,
            t.from_state,
            t.to_state,
            t.event,
            t.a_base,
            t.b_base,
            t.reason,
        )
        if t.to_state is ArbState.UNWINDING and self.execution.config.unwind_attempts <= 0:
            self.escalated = True
        if self._user_on_transition is not None:
            self._user_on_transition(t)

    def _now_ms(self) -> int:
        return self.clock_ns() // 1_000_000

    def _book(self, key: InstrumentKey) -> OrderBook | None:
        return self.oracle.quote(key, self.clock_ns()).book

    async def _enter(self, pair: ArbPair, size: PairSize, route: Any, d: Decision) -> None:
        assert d.edge is not None
        slot = self._new_slot(pair, size, d.edge.mid_a)
        slot.opened_ms = self._now_ms()
        self.entries += 1
        slot.machine.start_entry(slot.opened_ms, f"net edge {d.edge.net_bps:.2f} bps")
        first_leg = pair.leg(route.first)
        book = self._book(first_leg.key)
        mids = {LegId.A: d.edge.mid_a, LegId.B: d.edge.mid_b}
        if book is None:
            slot.machine.legs_settled(self._now_ms(), "no book for the first leg")
            return
        order = self.execution.plan_entry(
            pair, size, route, book, position_id=slot.position_id, seq=next(slot.seq), reference_mid=mids[route.first]
        )
        first = await self._run(slot, order)
        await self._hedge(slot, route.first, first, mids, exiting=False)

    async def _exit(self, slot: Slot, reason: str) -> None:
        pos = self.ledger.open_position(slot.position_id)
        if pos is None:
            return
        self.exits += 1
        slot.machine.start_exit(self._now_ms(), reason)
        book_a, book_b = self._book(slot.pair.a.key), self._book(slot.pair.b.key)
        if book_a is None or book_b is None or book_a.mid is None or book_b.mid is None:
            slot.machine.legs_settled(self._now_ms(), "no books to exit on")
            return
        base = slot.machine.a_base
        size = self.execution.size(slot.pair, base)
        route = self.execution.route(slot.pair, size, book_a, book_b, exiting=True)
        mids = {LegId.A: book_a.mid, LegId.B: book_b.mid}
        first_leg = slot.pair.leg(route.first)
        order = self.execution.plan_exit(
            slot.pair,
            size,
            route,
            book_a if first_leg.id is LegId.A else book_b,
            position_id=slot.position_id,
            seq=next(slot.seq),
            reference_mid=mids[route.first],
        )
        first = await self._run(slot, order)
        await self._hedge(slot, route.first, first, mids, exiting=True)

    async def _hedge(
        self, slot: Slot, first: LegId, first_order: TrackedOrder, mids: dict[LegId, Decimal], *, exiting: bool
    ) -> None:
        """Hedge exactly what the first leg filled; retry; unwind when the retries are spent."""
        hedged = ZERO
        attempt = 0
        machine = slot.machine
        other = slot.pair.leg(first.other)
        while machine.state in (ArbState.ENTERING, ArbState.EXITING):
            book = self._book(other.key)
            if book is None:
                machine.hedge_failed(self._now_ms(), f"no book for {other.key}")
                attempt += 1
                await asyncio.sleep(0.2)
                continue
            plan = self.execution.plan_hedge(
                slot.pair,
                first,
                first_order.filled_qty,
                hedged,
                book,
                position_id=slot.position_id,
                seq=next(slot.seq),
                reference_mid=mids[first.other],
                attempt=attempt,
                exiting=exiting,
            )
            if plan.order is None:
                machine.legs_settled(self._now_ms(), plan.note)
                break
            t = await self._run(slot, plan.order)
            hedged += t.filled_qty
            if t.filled_qty >= plan.order.request.qty:
                continue  # re-plan: usually "nothing more to hedge" → settled
            machine.hedge_failed(self._now_ms(), t.error or f"hedge filled {t.filled_qty} of {plan.order.request.qty}")
            attempt += 1
        if machine.state is ArbState.UNWINDING:
            await self._unwind(slot)

    async def _unwind(self, slot: Slot) -> None:
        machine = slot.machine
        attempt = 0
        while machine.state is ArbState.UNWINDING:
            if machine.escalated and not self.escalated:
                self.escalated = True
                logger.error("{} {}: unwind escalated — no new entries until resolved", self.name, slot.position_id)
            book_a, book_b = self._book(slot.pair.a.key), self._book(slot.pair.b.key)
            if book_a is None or book_b is None:
                await asyncio.sleep(0.5)
                continue
            plan = self.execution.plan_unwind(
                slot.pair,
                machine.a_base,
                machine.b_base,
                book_a,
                book_b,
                position_id=slot.position_id,
                seq=next(slot.seq),
                attempt=attempt,
            )
            if plan.order is not None:
                await self._run(slot, plan.order)
            machine.legs_settled(self._now_ms(), plan.note)
            attempt += 1
            if machine.state is ArbState.UNWINDING:
                await asyncio.sleep(min(5.0, 0.2 * attempt))

    # ------------------------------------------------------------------ one order
    async def _run(self, slot: Slot, lo: LegOrder) -> TrackedOrder:
        """Send one order and follow it to a final state (cancel at its timeout)."""
        tracked = self.tracker.track(slot.position_id, lo)
        timeout_s = lo.timeout_ms / 1000
        try:
            reply = await self.api.submit_order(lo.request, timeout_s=max(timeout_s, 2.0))
            self.tracker.on_update(reply, None)
        except (VenueRejected, InvalidRequest) as exc:
            self.tracker.fail(tracked, f"rejected: {exc}")
            logger.warning("{} {}: {} {} rejected: {}", self.name, slot.position_id, lo.purpose, lo.leg, exc)
            return tracked
        except (RequestTimeout, OutcomeUnknown, RunnerUnavailable) as exc:
            logger.warning(
                "{} {}: outcome of {} unknown ({}): reconciling", self.name, slot.position_id, tracked.client_id, exc
            )
            await self._resolve(tracked)
            return tracked
        try:
            await asyncio.wait_for(tracked.done.wait(), timeout_s)
        except TimeoutError:
            await self._cancel_and_settle(tracked)
        return tracked

    async def _cancel_and_settle(self, tracked: TrackedOrder) -> None:
        key = tracked.leg_order.request.key
        try:
            canceled = await self.api.cancel_order(key, client_id=tracked.client_id)
            self.tracker.on_update(canceled, None)
        except NotFound:
            pass  # already final: the query below tells how
        except CoreApiError as exc:
            logger.warning("{}: cancel {} failed: {}", self.name, tracked.client_id, exc)
        try:
            await asyncio.wait_for(tracked.done.wait(), 1.0)
        except TimeoutError:
            await self._resolve(tracked)

    async def _resolve(self, tracked: TrackedOrder) -> None:
        """Query by client id until the runner answers; book fills the events did not bring."""
        key = tracked.leg_order.request.key
        deadline = time.monotonic() + UNKNOWN_OUTCOME_WINDOW_S
        while True:
            try:
                order = await self.api.get_order(key, client_id=tracked.client_id, timeout_s=2.0)
            except NotFound:
                self.tracker.fail(tracked, "never reached the venue")
                return
            except (RequestTimeout, RunnerUnavailable, OutcomeUnknown) as exc:
                if time.monotonic() > deadline:
                    tracked.error = f"unresolved after {UNKNOWN_OUTCOME_WINDOW_S:.0f}s: {exc}"
                    logger.error("{}: order {} {}", self.name, tracked.client_id, tracked.error)
                    return
                await asyncio.sleep(0.5)
                continue
            self.tracker.on_update(order, None)
            if not order.status.is_final:
                try:
                    order = await self.api.cancel_order(key, client_id=tracked.client_id, timeout_s=2.0)
                    self.tracker.on_update(order, None)
                except CoreApiError:
                    await asyncio.sleep(0.2)
                    continue
            try:
                await asyncio.wait_for(tracked.done.wait(), 1.0)  # let the fill events arrive first
            except TimeoutError:
                leg = tracked.leg_order
                fees = self.slots[tracked.position_id].pair.leg(leg.leg).fees
                self.tracker.book_missing(tracked, self._now_ms(), fees.taker, self.ledger.currency)
                tracked.done.set()
            return

    # ------------------------------------------------------------------ reconcile / stop
    def request_reconcile(self, reason: str) -> None:
        if self._reconcile_task is not None and not self._reconcile_task.done():
            return
        self._reconcile_task = asyncio.get_running_loop().create_task(
            self._reconcile(reason), name=f"{self.name}.reconcile"
        )

    async def _reconcile(self, reason: str) -> None:
        logger.info("{}: reconciling own orders ({})", self.name, reason)
        for tracked in self.tracker.live():
            await self._resolve(tracked)
        for slot in self.open_slots():
            if slot.machine.state in (ArbState.IDLE, ArbState.HEDGED):
                net = self.ledger.net_base(slot.position_id)
                machine = slot.machine
                machine.reconcile(net.get(slot.pair.a.key, ZERO), -net.get(slot.pair.b.key, ZERO), self._now_ms())
                if machine.state in (ArbState.BROKEN, ArbState.UNWINDING) and not self.busy:
                    self._start(self._unwind(slot))

    async def stop(self, *, close_positions: bool, timeout_s: float = 60.0) -> list[str]:
        """No new entries; finish the phase in flight; exit hedged positions if asked.

        Returns what could not be cleaned up (empty when nothing unhedged or open is left)."""
        self.stopping = True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.busy:
                assert self._phase is not None
                await asyncio.wait({self._phase}, timeout=max(0.0, deadline - time.monotonic()))
                continue
            pending = [s for s in self.open_slots() if s.machine.state in (ArbState.BROKEN, ArbState.UNWINDING)]
            if pending:
                self._start(self._unwind(pending[0]))
                continue
            if close_positions:
                hedged = [s for s in self.open_slots() if s.machine.state is ArbState.HEDGED]
                if hedged:
                    self._start(self._exit(hedged[0], "strategy stopping"))
                    continue
            break
        left = []
        for slot in self.open_slots():
            m = slot.machine
            if m.state is ArbState.IDLE and m.flat:
                continue
            if m.unhedged or (close_positions and m.state is not ArbState.CLOSED):
                left.append(f"{slot.position_id}: {m.state} a={m.a_base} b={m.b_base}")
        if self._phase is not None and not self._phase.done():
            self._phase.cancel()
        return left

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        totals = self.ledger.breakdown()
        states = [s.machine.state.value for s in self.open_slots()] or ["idle"]
        edge = None
        terms = ""
        if self.last_decision is not None:
            d = self.last_decision
            if d.edge is not None:
                edge = d.edge.net_bps
                e = d.edge
                terms = (
                    f"basis {e.basis_bps:+.1f} funding {e.funding_bps:+.1f} fees {e.fees_bps:.1f} "
                    f"slip {e.slippage_bps:.1f}"
                )
            elif d.hold is not None:
                edge = d.hold.hold_bps
        exposure = sum((s.machine.a_base for s in self.open_slots()), ZERO)
        return {
            "state": ",".join(states),
            "edge_bps": edge,
            "edge_terms": terms,
            "position_base": exposure,
            "pnl": totals.total,
            "basis": totals.basis,
            "funding": totals.funding,
            "fees": totals.fees,
            "slippage": totals.slippage,
            "entries": self.entries,
            "exits": self.exits,
        }
