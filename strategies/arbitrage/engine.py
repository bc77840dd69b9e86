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
* an order whose outcome is unknown — any submit error that does not prove the order never
  reached the venue (``OutcomeUnknown``, ``RequestTimeout``, ``RunnerUnavailable``,
  ``VenueUnavailable``, a runner bug) — is resolved by its client id from the ``exec`` events
  and ``get_order`` (:meth:`ArbitrageEngine._resolve`); while the runner says ``pending`` or
  ``unknown`` it is waited for, without a time limit. It is never resent under a new client id,
  no fill is booked that the venue did not report, and none it reported is dropped;
* a retryable failure (the order proven not placed) is retried with a jittered exponential
  backoff: the first leg of an entry or exit ``retry_attempts`` times, a hedge within its
  ``hedge_retries``, an unwind until it succeeds; a refusal (the venue or runner said no)
  escalates: a hedge unwinds at once, an exit is abandoned (the position stays hedged) and
  tried again after ``retry_backoff_max_s``;
* on stop, no new entries; phases in flight finish; with ``close_on_stop`` hedged positions are
  exited — all within the stop grace, after which whatever is left (an order whose outcome is
  still unknown, an unhedged or hedged remainder) is returned, each with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from loguru import logger

from strategy_client.aio import within
from strategy_client.core_api import CoreApi
from strategy_client.errors import (
    CoreApiError,
    InvalidRequest,
    NotFound,
    ProtocolMismatch,
    VenueRejected,
)
from strategy_client.events import Gap, Received, Snapshot
from strategy_client.journal import JournalError
from strategy_client.model import AccountSnapshot, Exchange, Fill, FundingPayment, InstrumentKey, OrderBook, Side
from strategy_client.wire import (
    AccountEvent,
    BookEvent,
    FundingEvent,
    FundingPaymentEvent,
    OrderEvent,
    TopicKind,
)

from .decision import Action, Decision, DecisionPolicy, market_view
from .execution import ExecutionPolicy, LegOrder
from .margin import MarginAction, MarginPolicy
from .oracle import PriceOracle
from .orders import OrderTracker, TrackedOrder
from .pair import ArbPair, LegId, PairSize
from .pnl import PnlLedger
from .slot import Slot
from .state import ArbState, Transition

if TYPE_CHECKING:
    from .journaling import PairJournal

__all__ = ["ArbitrageEngine", "Slot", "REFUSALS"]

ZERO = Decimal(0)
#: Submit errors that prove nothing was placed: the runner or the venue said no.
REFUSALS: tuple[type[CoreApiError], ...] = (VenueRejected, InvalidRequest, ProtocolMismatch)
RESOLVE_POLL_MAX_S = 4.0
SETUP_RETRY_S = 60.0  # how long the start's idempotent setup calls (leverage) are retried


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
        self.paused = False  # the lifecycle's Paused: no new entries; open pairs are still managed
        self.escalated = False
        self.retries = 0  # sends after a retryable failure
        self.unknown_outcomes = 0  # submits whose outcome had to be resolved by client id
        self.last_closed_ms = 0
        self.rng = random.Random()
        self._user_on_transition = on_transition
        self._on_market = on_market
        self._phase: asyncio.Task[None] | None = None
        self._reconcile_task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._run_tag = f"{(clock_ns() // 1_000_000) % 10**8:x}"  # a backtest's: the recording's start
        self.journal: PairJournal | None = None
        #: perp keys where a foreign position nets against ours: closing orders go without
        #: reduce_only there (the venue's net position may be smaller than ours, or opposite)
        self.plain_close_keys: set[InstrumentKey] = set()

    # ------------------------------------------------------------------ setup
    async def start(self, pairs: list[ArbPair]) -> None:
        """Leverage on every perp leg, then account snapshots of every exchange involved."""
        seen: set[InstrumentKey] = set()
        for pair in pairs:
            for key, leverage in self.margin.leverage_requests(pair):
                if key not in seen:
                    seen.add(key)
                    got = await self._set_leverage(key, leverage)
                    logger.info("{}: leverage {} on {}", self.name, got, key)
        await self.refresh_accounts({leg.key.exchange for pair in pairs for leg in pair.legs})

    async def _set_leverage(self, key: InstrumentKey, leverage: int) -> int:
        """Setting leverage is idempotent: a retryable failure at start (a runner restarting, its
        venue's rate-limit budget parking the request, a venue pause) is asked again with backoff
        for up to :data:`SETUP_RETRY_S`, each retry logged; then the error stands."""
        deadline = time.monotonic() + SETUP_RETRY_S
        delay = 0.5
        while True:
            try:
                return await self.api.set_leverage(key, leverage)
            except CoreApiError as exc:
                if not exc.retryable or time.monotonic() + delay > deadline:
                    raise
                logger.warning(
                    "{}: leverage on {} not set yet ({}); asking again in {:.1f}s", self.name, key, exc, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

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
        if self.journal is not None:
            self.journal.fill(record, fill.venue_id, ":reconciled:" in fill.trade_id)
        # the exposure the machine tracks is what is held: net of a fee paid in the base asset
        before = len(slot.machine.history)
        slot.machine.fill(lo.leg, fill.side, abs(record.base_delta), fill.ts_ms)
        if self.journal is not None and len(slot.machine.history) == before:
            self.journal.slot_changed(self, slot)  # a transition journals it already
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
        if self.journal is not None:
            self.journal.funding(payment)
        for i, (slot, w) in enumerate(weights):
            share = left if i == len(weights) - 1 else payment.amount * w / total
            left -= share
            self.ledger.record_funding(
                slot.position_id,
                FundingPayment(
                    key=payment.key, amount=share, asset=payment.asset, rate=payment.rate, ts_ms=payment.ts_ms
                ),
            )
            if self.journal is not None:
                self.journal.slot_changed(self, slot)
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
        # an unhedged position first: nothing else trades until it is unwound
        for slot in self.open_slots():
            if slot.machine.state in (ArbState.BROKEN, ArbState.UNWINDING):
                self._start(self._unwind(slot), slot)
                return None
        # margin first: a degrading ratio exits before anything else
        assessment = self.margin.assess(self.accounts)
        hedged = [s for s in self.open_slots() if s.machine.state is ArbState.HEDGED]
        if assessment.action is not MarginAction.OK and hedged:
            victim = min(hedged, key=lambda s: s.opened_ms)
            self._start(self._exit(victim, f"margin ratio {assessment.worst_ratio:.3f}: {assessment.action}"), victim)
            return None
        now_ms = now_ns // 1_000_000
        for slot in hedged:
            if now_ms < slot.next_exit_ms:
                continue  # its last exit was refused: wait out the backoff
            pos = self.ledger.open_position(slot.position_id)
            if pos is None or pos.base <= 0:
                continue
            view = market_view(self.oracle, slot.pair, now_ns)
            d = self.decision.evaluate_exit(slot.pair, pos, view)
            self.last_decision = d
            if d.action is Action.EXIT:
                self._journal_decision(d, slot.position_id, slot.pair)
                self._start(self._exit(slot, f"{d.reason}: {d.detail}"), slot)
                return d
        if self.escalated or self.paused or len(self.open_slots()) >= self.max_positions:
            return self.last_decision
        cooldown_ms = int(self.decision.config.reentry_cooldown_s * 1000)
        if self.last_closed_ms and now_ms - self.last_closed_ms < cooldown_ms:
            return None  # hysteresis: no re-entry right after a position closed
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

    def _journal_decision(self, d: Decision, pair_id: str, pair: ArbPair) -> None:
        if self.journal is not None:
            self.journal.decision(d, pair_id, f"{pair.a.key},{pair.b.key}", self._now_ms())

    def _start(self, coro: Any, slot: Slot | None = None) -> None:
        self._phase = asyncio.get_running_loop().create_task(self._guard(coro, slot), name=f"{self.name}.phase")

    async def _guard(self, coro: Any, slot: Slot | None) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a phase failure is reported, the engine keeps running
            self.errors.append(f"{type(exc).__name__}: {exc}")
            logger.exception("{}: phase failed", self.name)
            # one phase runs at a time: a position mid-phase is this phase's (an entry creates its own)
            for s in [slot] if slot is not None else list(self.slots.values()):
                self._settle_after_failure(s, f"phase failed: {type(exc).__name__}: {exc}")

    def _settle_after_failure(self, slot: Slot, reason: str) -> None:
        """A phase that raised must not leave its position mid-phase: decide from the exposure
        (flat → closed, hedged → hedged, unhedged → unwinding, which the next evaluation or the
        stop picks up) — unless one of its orders is still unresolved (its fate decides)."""
        if slot.machine.state not in (ArbState.ENTERING, ArbState.EXITING):
            return
        if any(t.position_id == slot.position_id for t in self.tracker.live()):
            return
        slot.last_error = reason
        slot.machine.legs_settled(self._now_ms(), reason)

    def _backoff(self, attempt: int, base_s: float | None = None, cap_s: float | None = None) -> float:
        """Exponential backoff with jitter: ``min(cap, base × 2^(attempt−1))`` × U(0.5, 1)."""
        cfg = self.execution.config
        base = cfg.retry_backoff_s if base_s is None else base_s
        cap = cfg.retry_backoff_max_s if cap_s is None else cap_s
        return float(min(cap, base * 2 ** max(0, attempt - 1)) * (0.5 + 0.5 * self.rng.random()))

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
        if t.to_state is ArbState.CLOSED:
            self.last_closed_ms = t.ts_ms
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
        slot = self.slots.get(t.position_id)
        if self.journal is not None and slot is not None:
            self.journal.slot_changed(self, slot)
        if self._user_on_transition is not None:
            self._user_on_transition(t)

    def _now_ms(self) -> int:
        return self.clock_ns() // 1_000_000

    def _book(self, key: InstrumentKey) -> OrderBook | None:
        return self.oracle.quote(key, self.clock_ns()).book

    async def _enter(self, pair: ArbPair, size: PairSize, route: Any, d: Decision) -> None:
        assert d.edge is not None
        slot = self._new_slot(pair, size, d.edge.mid_a)
        self._journal_decision(d, slot.position_id, pair)  # before the entry's first transition
        slot.opened_ms = self._now_ms()
        self.entries += 1
        slot.machine.start_entry(slot.opened_ms, f"net edge {d.edge.net_bps:.2f} bps")
        start = self._exposure(slot)
        first = route.first
        mids = {LegId.A: d.edge.mid_a, LegId.B: d.edge.mid_b}
        note = ""
        attempt = 0
        while True:
            book = self._book(pair.leg(first).key)
            if book is None:
                note = "no book for the first leg"
                break
            order = self.execution.plan_entry(
                pair, size, route, book, position_id=slot.position_id, seq=next(slot.seq), reference_mid=mids[first]
            )
            t = await self._run(slot, order)
            note = t.error
            if not self._should_retry(t, slot, first, start, attempt, exiting=False):
                break
            attempt += 1
            await self._retry_pause(slot, attempt, t)
            again = self._entry_still_stands(pair, size, route)
            if again is not None:
                note = f"{t.error}; not retried: {again}"
                break
        await self._hedge(slot, first, mids, exiting=False, start=start, note=note)

    def _entry_still_stands(self, pair: ArbPair, size: PairSize, route: Any) -> str | None:
        """Before an entry is sent again: None if the decision still says enter, else why not."""
        if self.stopping or self.paused:
            return "stopping" if self.stopping else "paused"
        view = market_view(self.oracle, pair, self.clock_ns())
        d = self.decision.evaluate_entry(pair, size, view, route, order_type=self.execution.taker_type)
        return None if d.action is Action.ENTER else f"{d.reason}: {d.detail}"

    async def _exit(self, slot: Slot, reason: str) -> None:
        pos = self.ledger.open_position(slot.position_id)
        if pos is None:
            return
        self.exits += 1
        slot.machine.start_exit(self._now_ms(), reason)
        start = self._exposure(slot)
        book_a, book_b = self._book(slot.pair.a.key), self._book(slot.pair.b.key)
        if book_a is None or book_b is None or book_a.mid is None or book_b.mid is None:
            self._abandon_exit(slot, "no books to exit on")
            return
        # both legs hold the hedge size; a spot leg holds it plus less than a step (fee gross-up)
        base = min(slot.machine.a_base, slot.machine.b_base)
        size = self.execution.size(slot.pair, base)
        route = self.execution.route(slot.pair, size, book_a, book_b, exiting=True)
        mids = {LegId.A: book_a.mid, LegId.B: book_b.mid}
        first = route.first
        note = ""
        attempt = 0
        while True:
            book = self._book(slot.pair.leg(first).key)
            if book is None or size.is_zero:
                note = "no book for the first exit leg" if book is None else f"exit size {base} rounds to 0"
                break
            order = self.execution.plan_exit(
                slot.pair,
                size,
                route,
                book,
                position_id=slot.position_id,
                seq=next(slot.seq),
                reference_mid=mids[first],
            )
            t = await self._run(slot, order)
            note = t.error
            if not self._should_retry(t, slot, first, start, attempt, exiting=True):
                break
            attempt += 1
            await self._retry_pause(slot, attempt, t)
        if self._moved(slot, first, start, exiting=True) <= 0 and note:
            self._abandon_exit(slot, f"exit leg failed: {note}")
            return
        await self._hedge(slot, first, mids, exiting=True, start=start, note=note)

    def _abandon_exit(self, slot: Slot, reason: str) -> None:
        """Nothing of the exit filled: the position stays as it is; the exit is tried again later."""
        cfg = self.execution.config
        slot.last_error = reason
        slot.next_exit_ms = self._now_ms() + int(self._backoff(99, cap_s=cfg.retry_backoff_max_s) * 1000)
        slot.machine.legs_settled(self._now_ms(), reason)

    def _should_retry(
        self, t: TrackedOrder, slot: Slot, leg: LegId, start: tuple[Decimal, Decimal], attempt: int, *, exiting: bool
    ) -> bool:
        """Send the first leg again? Only when nothing moved and the failure was retryable."""
        if not t.failed or t.refused or not t.retryable or self._moved(slot, leg, start, exiting=exiting) > 0:
            return False
        if attempt >= self.execution.config.retry_attempts:
            return False
        return not (self.stopping and not exiting)

    async def _retry_pause(self, slot: Slot, attempt: int, t: TrackedOrder) -> None:
        delay = self._backoff(attempt)
        self.retries += 1
        logger.warning(
            "{} {}: {} failed ({}); retry {} in {:.2f}s",
            self.name,
            slot.position_id,
            t.client_id,
            t.error,
            attempt,
            delay,
        )
        await asyncio.sleep(delay)

    @staticmethod
    def _exposure(slot: Slot) -> tuple[Decimal, Decimal]:
        return slot.machine.a_base, slot.machine.b_base

    @staticmethod
    def _moved(slot: Slot, leg: LegId, start: tuple[Decimal, Decimal], *, exiting: bool) -> Decimal:
        """Base this phase has moved on ``leg`` in the phase's direction (net of base-asset fees)."""
        now = slot.machine.a_base if leg is LegId.A else slot.machine.b_base
        before = start[0] if leg is LegId.A else start[1]
        moved = before - now if exiting else now - before
        return max(ZERO, moved)

    async def _hedge(
        self,
        slot: Slot,
        first: LegId,
        mids: dict[LegId, Decimal],
        *,
        exiting: bool,
        start: tuple[Decimal, Decimal],
        note: str = "",
    ) -> None:
        """Hedge exactly what the first leg has moved (fills booked so far, late ones included);
        retry (with backoff after errors); unwind when the retries are spent or the hedge is refused."""
        attempt = 0
        machine = slot.machine
        other = slot.pair.leg(first.other)
        while machine.state in (ArbState.ENTERING, ArbState.EXITING):
            book = self._book(other.key)
            if book is None:
                machine.hedge_failed(self._now_ms(), f"no book for {other.key}")
                attempt += 1
                await asyncio.sleep(self._backoff(attempt))
                continue
            plan = self.execution.plan_hedge(
                slot.pair,
                first,
                self._moved(slot, first, start, exiting=exiting),
                self._moved(slot, first.other, start, exiting=exiting),
                book,
                position_id=slot.position_id,
                seq=next(slot.seq),
                reference_mid=mids[first.other],
                attempt=attempt,
                exiting=exiting,
            )
            if plan.order is None:
                machine.legs_settled(self._now_ms(), "; ".join(x for x in (plan.note, note) if x))
                break
            t = await self._run(slot, plan.order)
            if t.filled_qty >= plan.order.request.qty:
                continue  # re-plan: usually "nothing more to hedge" → settled
            if t.refused:
                slot.last_error = f"hedge refused: {t.error}"
                machine.legs_settled(self._now_ms(), slot.last_error)  # unhedged → unwinding at once
                break
            machine.hedge_failed(self._now_ms(), t.error or f"hedge filled {t.filled_qty} of {plan.order.request.qty}")
            attempt += 1
            if t.error and machine.state in (ArbState.ENTERING, ArbState.EXITING):
                await self._retry_pause(slot, attempt, t)
        if machine.state is ArbState.UNWINDING:
            await self._unwind(slot)

    async def _unwind(self, slot: Slot) -> None:
        """Trade the imbalance away; never gives up (the stop grace bounds it at stop)."""
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
            note = plan.note
            if plan.order is not None:
                t = await self._run(slot, plan.order)
                if t.error:
                    note = "; ".join(x for x in (note, t.error) if x)
                    slot.last_error = f"unwind: {t.error}"
            machine.legs_settled(self._now_ms(), note)
            attempt += 1
            if machine.state is ArbState.UNWINDING:
                await asyncio.sleep(self._backoff(attempt, cap_s=max(5.0, self.execution.config.retry_backoff_max_s)))

    # ------------------------------------------------------------------ one order
    async def _run(self, slot: Slot, lo: LegOrder) -> TrackedOrder:
        """:meth:`_send`, then the order's final state is journaled."""
        tracked = await self._send(slot, lo)
        if self.journal is not None and tracked.order is not None:
            self.journal.order_final(tracked.order, tracked.error)
        return tracked

    async def _send(self, slot: Slot, lo: LegOrder) -> TrackedOrder:
        """Send one order and follow it to a final state (cancel at its timeout).

        Never raises for an order error: a refusal marks the order ``refused``; any other error
        means its outcome is unknown and it is resolved by client id (:meth:`_resolve`) — the
        returned order is final with every fill the venue reported booked."""
        if lo.request.reduce_only and lo.request.key in self.plain_close_keys:
            # a foreign position nets against ours here: reduce_only would be refused or cut
            lo = msgspec.structs.replace(lo, request=msgspec.structs.replace(lo.request, reduce_only=False))
        tracked = self.tracker.track(slot.position_id, lo)
        timeout_s = lo.timeout_ms / 1000
        slot.orders.append(lo)
        if self.journal is not None:
            try:
                await self.journal.before_send(self, slot, lo)
            except JournalError as exc:
                tracked.refused = True
                tracked.retryable = False
                self.tracker.fail(tracked, f"not sent: its intent could not be journaled: {exc}")
                logger.error("{} {}: {} not sent: {}", self.name, slot.position_id, tracked.client_id, exc)
                return tracked
        tracked.sent_mono = time.monotonic()
        try:
            reply = await self.api.submit_order(lo.request, timeout_s=max(timeout_s, 2.0))
        except REFUSALS as exc:
            tracked.refused = True
            tracked.retryable = False
            self.tracker.fail(tracked, f"refused: {type(exc).__name__}: {exc}")
            logger.warning("{} {}: {} {} refused: {}", self.name, slot.position_id, lo.purpose, lo.leg, exc)
            return tracked
        except CoreApiError as exc:
            # anything else may have reached the venue (5xx, timeout, runner gone, outcome unknown)
            self.unknown_outcomes += 1
            tracked.error = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "{} {}: outcome of {} unknown ({}): resolving by client id",
                self.name,
                slot.position_id,
                tracked.client_id,
                tracked.error,
            )
            await self._resolve(tracked)
            return tracked
        self.tracker.on_update(reply, None)
        if reply.status.is_unresolved and not tracked.done.is_set():
            await self._resolve(tracked)
            return tracked
        try:
            await within(tracked.done.wait(), timeout_s)
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
            await within(tracked.done.wait(), self.execution.config.fill_settle_s)
        except TimeoutError:
            await self._resolve(tracked)

    async def _resolve(self, tracked: TrackedOrder) -> None:
        """Learn an order's fate from the venue, by client id; never resend, never guess.

        Returns once the order is final and its fills are booked. Until then it asks the runner
        (``get_order``) with a growing interval while ``exec`` events may settle it first:

        * ``pending``/``unknown``: the venue has not said yet — keep waiting (no time limit;
          the stop grace bounds it, and the stop reports the order as unresolved);
        * open: cancel it (the leg's time is over), then as below;
        * final: wait ``fill_settle_s`` for the fill events, then book what the order's totals
          show beyond them (``reconciled``);
        * "not found" once ``not_found_settle_s`` have passed since the send: it never reached
          a venue (nothing filled; retryable);
        * an error: ask again.
        """
        cfg = self.execution.config
        key = tracked.leg_order.request.key
        attempt = 0
        last_error = ""
        while not tracked.done.is_set():
            attempt += 1
            try:
                order = await self.api.get_order(key, client_id=tracked.client_id, timeout_s=2.0)
            except NotFound:
                if time.monotonic() - tracked.sent_mono >= cfg.not_found_settle_s:
                    reason = tracked.error or "submit failed"
                    self.tracker.fail(tracked, f"{reason}; never reached the venue (not found)")
                    return
            except CoreApiError as exc:
                if f"{exc}" != last_error:
                    last_error = f"{exc}"
                    logger.warning("{}: order {} still unresolved: {}", self.name, tracked.client_id, exc)
            else:
                self.tracker.on_update(order, None)
                if order.status.is_open:
                    try:
                        self.tracker.on_update(
                            await self.api.cancel_order(key, client_id=tracked.client_id, timeout_s=2.0), None
                        )
                    except CoreApiError as exc:
                        logger.warning("{}: cancel {} failed: {}", self.name, tracked.client_id, exc)
                elif order.status.is_final:
                    await self._settle_fills(tracked)
                    return
            if tracked.done.is_set():
                return
            delay = self._backoff(attempt, base_s=cfg.resolve_poll_s, cap_s=RESOLVE_POLL_MAX_S)
            try:  # an exec event may settle it first
                await within(tracked.done.wait(), delay)
            except TimeoutError:
                pass

    async def _settle_fills(self, tracked: TrackedOrder) -> None:
        """A final order: give its fill events a moment, then book what its totals show beyond them."""
        if tracked.done.is_set():
            if tracked.error and tracked.filled_qty <= 0:
                # "nothing filled" after a failed submit may be the runner's guess (a venue 5xx it
                # took for a refusal): a fill the venue made anyway arrives on the exec topic
                await asyncio.sleep(self.execution.config.fill_settle_s)
            return
        try:
            await within(tracked.done.wait(), self.execution.config.fill_settle_s)
        except TimeoutError:
            lo = tracked.leg_order
            slot = self.slots[tracked.position_id]
            leg = slot.pair.leg(lo.leg)
            in_base = leg.buy_fee_in_base and lo.request.side is Side.BUY
            asset = leg.instrument.base if in_base else self.ledger.currency
            self.tracker.book_missing(tracked, self._now_ms(), leg.fees.taker, asset, fee_in_base=in_base)
            tracked.done.set()

    # ------------------------------------------------------------------ reconcile / stop
    def request_reconcile(self, reason: str) -> None:
        if self.stopping or (self._reconcile_task is not None and not self._reconcile_task.done()):
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
                    self._start(self._unwind(slot), slot)

    async def stop(self, *, close_positions: bool, timeout_s: float = 20.0) -> list[str]:
        """No new entries; finish the phase in flight; exit hedged positions if asked — all
        within ``timeout_s`` (the stop grace).

        Returns what is left, each with its reason (empty when everything ended flat, or hedged
        with ``close_positions`` off): orders whose outcome is still unknown, unhedged positions,
        hedged positions that could not be exited."""
        self.stopping = True
        deadline = time.monotonic() + timeout_s
        while (left_s := deadline - time.monotonic()) > 0:
            if self.busy:
                assert self._phase is not None
                await asyncio.wait({self._phase}, timeout=left_s)
                continue
            pending = [s for s in self.open_slots() if s.machine.state in (ArbState.BROKEN, ArbState.UNWINDING)]
            if pending:
                self._start(self._unwind(pending[0]), pending[0])
                continue
            if close_positions:
                hedged = [s for s in self.open_slots() if s.machine.state is ArbState.HEDGED]
                if hedged:
                    slot = min(hedged, key=lambda s: s.next_exit_ms)
                    wait_s = (slot.next_exit_ms - self._now_ms()) / 1000
                    if wait_s > 0:
                        await asyncio.sleep(min(wait_s, left_s))
                        continue
                    self._start(self._exit(slot, "strategy stopping"), slot)
                    continue
            break
        for task in (self._phase, self._reconcile_task):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=2.0)
        return self.leftovers(close_positions=close_positions)

    def leftovers(self, *, close_positions: bool) -> list[str]:
        """What is not clean, each with its reason (see :meth:`stop`)."""
        left: list[str] = []
        for t in self.tracker.live():
            req = t.leg_order.request
            status = t.order.status.value if t.order is not None else "sent"
            left.append(
                f"order {t.client_id} ({t.leg_order.purpose} {req.side} {req.qty} {req.key}): outcome still "
                f"unknown ({status}; {t.error or 'no answer'}) — not resent; its fills, if any, are not booked"
            )
        for slot in self.open_slots():
            m = slot.machine
            if m.state is ArbState.IDLE and m.flat:
                continue
            why = slot.last_error or (m.history[-1].reason if m.history else "")
            if m.unhedged:
                left.append(
                    f"{slot.position_id}: UNHEDGED {m.state} a={m.a_base} b={m.b_base} (imbalance {m.imbalance}): {why}"
                )
            elif close_positions and m.state is not ArbState.CLOSED:
                left.append(
                    f"{slot.position_id}: hedged remainder left open, {m.state} a={m.a_base} b={m.b_base}: {why}"
                )
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
