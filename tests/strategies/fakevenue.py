"""A scripted venue + runner at the CoreApi boundary, with the faults issue 12 observed.

The venue's own record (:attr:`FaultyVenue.fills`, :attr:`FaultyVenue.truth`) is what really
happened; what the strategy is told — the submit's answer, ``get_order``, the ``exec`` events —
is scripted per submit (:class:`Fault`). Spot buys pay their fee in the base asset received, as
Binance, Bybit and OKX do (0.1 %); perp fees are in USDT. Everything above the CoreApi (engine,
policies, state machine, ledger) is real.

``runner`` chooses how the runner reports a submit whose venue answer was lost:

* ``"today"``: as main did before issue 12 — the submit fails ``venue_unavailable``
  (retryable), the runner marks the order REJECTED, and a fill the venue made anyway arrives
  later on the exec topic attached to that REJECTED order;
* ``"new"``: the submit fails ``outcome_unknown``; ``get_order`` says UNKNOWN until the venue
  answers, then the real state (and the exec events follow).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec

from strategies.arbitrage.decision import DecisionConfig, DecisionPolicy
from strategies.arbitrage.engine import ArbitrageEngine
from strategies.arbitrage.execution import ExecutionConfig, ExecutionPolicy, FirstLeg
from strategies.arbitrage.margin import MarginConfig, MarginPolicy
from strategies.arbitrage.oracle import OracleConfig, PriceOracle
from strategies.arbitrage.pair import ArbPair, FeeRates, Leg, LegId
from strategy_client.errors import (
    NotFound,
    OutcomeUnknown,
    RequestTimeout,
    RunnerUnavailable,
    VenueRejected,
    VenueUnavailable,
)
from strategy_client.model import (
    AccountSnapshot,
    Balance,
    BookLevel,
    Exchange,
    Fill,
    FundingRate,
    InstrumentKey,
    MarginBalance,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Side,
)
from strategy_client.wire import BookEvent, FundingEvent, OrderEvent, OrderEventKind

from .builders import PERP, SPOT, instrument

D = Decimal
SPOT_FEE = D("0.001")
PERP_FEE = D("0.0005")


class Fault(StrEnum):
    OK = "ok"  # filled, answered, events delivered
    REFUSED = "refused"  # the venue says no: nothing placed
    FAIL_5XX = "fail_5xx"  # 5xx before processing (sim `fail`): nothing placed, retryable
    FILLED_5XX = "filled_5xx"  # the venue filled it, the submit failed venue_unavailable (retryable)
    FILLED_TIMEOUT = "filled_timeout"  # filled; the caller's timeout ran out first
    UNKNOWN = "unknown"  # filled; the answer was lost: UNKNOWN for a while, then the venue says
    NEVER_SENT = "never_sent"  # the runner went away before it got the submit: nothing placed
    EVENTS_LOST = "events_lost"  # filled and answered, but the exec events never arrive


@dataclass
class Scripted:
    fault: Fault
    unknown_queries: int = 3  # get_order answers UNKNOWN this many times (Fault.UNKNOWN)
    event_delay_s: float = 0.0  # exec events of this order arrive this much later
    lose_events: bool = False
    after: Callable[[], None] | None = None  # runs once the venue has handled this submit


@dataclass
class FaultyVenue:
    emit: Callable[[Any], None]
    runner: str = "new"
    script: list[Scripted] = field(default_factory=list)
    truth: dict[str, Order] = field(default_factory=dict)  # the venue's orders
    view: dict[str, Order] = field(default_factory=dict)  # the runner's answer to get_order
    fills: list[Fill] = field(default_factory=list)  # every fill the venue made
    submitted: list[OrderRequest] = field(default_factory=list)
    unknown_left: dict[str, int] = field(default_factory=dict)
    held: dict[str, list[OrderEvent]] = field(default_factory=dict)  # events waiting for resolution
    steps: dict[str, Scripted] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    prices: dict[InstrumentKey, Decimal] = field(default_factory=lambda: {SPOT: D(100_000), PERP: D(100_400)})
    trade: int = 0
    down_for: int = 0  # get_order calls that fail before the runner answers again

    # -- what the venue does -----------------------------------------------------------
    def _execute(self, req: OrderRequest) -> tuple[Order, Fill]:
        price = self.prices[req.key] + (1 if req.side is Side.BUY else -1)
        self.trade += 1
        spot_buy = req.key == SPOT and req.side is Side.BUY
        fill = Fill(
            key=req.key,
            client_id=req.client_id,
            venue_id=f"v{self.trade}",
            trade_id=f"t{self.trade}",
            side=req.side,
            price=price,
            qty=req.qty,
            fee=req.qty * SPOT_FEE if spot_buy else req.qty * price * (SPOT_FEE if req.key == SPOT else PERP_FEE),
            fee_asset="BTC" if spot_buy else "USDT",
            is_maker=False,
            ts_ms=time.time_ns() // 1_000_000,
        )
        order = Order(
            key=req.key,
            client_id=req.client_id,
            venue_id=fill.venue_id,
            side=req.side,
            type=req.type,
            tif=req.tif,
            price=req.price,
            qty=req.qty,
            filled_qty=req.qty,
            avg_price=price,
            status=OrderStatus.FILLED,
        )
        self.truth[req.client_id] = order
        self.fills.append(fill)
        return order, fill

    def _rejected(self, req: OrderRequest, reason: str) -> Order:
        return Order(
            key=req.key,
            client_id=req.client_id,
            venue_id="",
            side=req.side,
            type=req.type,
            tif=req.tif,
            price=req.price,
            qty=req.qty,
            status=OrderStatus.REJECTED,
            reject_reason=reason,
        )

    def _deliver(self, event: OrderEvent, step: Scripted) -> None:
        if step.lose_events:
            return
        if step.event_delay_s <= 0:
            self.emit(event)
            return

        async def later() -> None:
            await asyncio.sleep(step.event_delay_s)
            self.emit(event)

        task = asyncio.get_running_loop().create_task(later())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- CoreApi ---------------------------------------------------------------------------
    async def submit_order(self, order: OrderRequest, *, timeout_s: float | None = None) -> Order:
        if any(o.client_id == order.client_id for o in self.submitted):
            raise AssertionError(f"client id {order.client_id} sent twice")
        self.submitted.append(order)
        step = self.script.pop(0) if self.script else Scripted(Fault.OK)
        try:
            return self._submit(order, step)
        finally:
            if step.after is not None:  # before the caller resumes, whatever it awaits next
                step.after()

    def _submit(self, order: OrderRequest, step: Scripted) -> Order:
        f = step.fault
        if f is Fault.REFUSED:
            self.view[order.client_id] = self._rejected(order, "insufficient margin")
            raise VenueRejected("insufficient margin", venue_code="-2019")
        if f is Fault.FAIL_5XX:
            self.view[order.client_id] = self._rejected(order, "503 -1001")
            raise VenueUnavailable("binance 503 -1001 internal error")
        if f is Fault.NEVER_SENT:
            raise RunnerUnavailable("no binance runner registered")
        placed, fill = self._execute(order)
        event = OrderEvent(kind=OrderEventKind.FILL, order=placed, fill=fill)
        if f in (Fault.OK, Fault.EVENTS_LOST):
            self.view[order.client_id] = placed
            self._deliver(event, Scripted(f, lose_events=f is Fault.EVENTS_LOST or step.lose_events))
            return placed
        if f is Fault.FILLED_TIMEOUT:
            self.view[order.client_id] = placed
            self._deliver(event, step)
            raise RequestTimeout("no reply within 2.0s")
        if f is Fault.FILLED_5XX and self.runner == "today":
            # the runner believed the error: REJECTED; the fill still comes on the user stream.
            # (Were that event lost too, no client could ever learn of the fill — the runner
            # answers REJECTED from memory: what the runner's UNKNOWN state fixes. Not scripted.)
            rejected = self._rejected(order, "503 -1001")
            self.view[order.client_id] = rejected
            step = Scripted(step.fault, event_delay_s=step.event_delay_s)
            self._deliver(OrderEvent(kind=OrderEventKind.REJECT, order=rejected, fill=fill), step)
            raise VenueUnavailable("binance 504 gateway timeout")
        # Fault.UNKNOWN, or FILLED_5XX with the new runner: UNKNOWN until the venue says
        unknown = msgspec.structs.replace(self._rejected(order, ""), status=OrderStatus.UNKNOWN)
        self.view[order.client_id] = unknown
        self.unknown_left[order.client_id] = step.unknown_queries
        self.held[order.client_id] = [event]
        self.steps[order.client_id] = step
        self.emit(OrderEvent(kind=OrderEventKind.UNKNOWN, order=unknown))
        if step.unknown_queries <= 0:
            self._resolve(order.client_id)
        raise OutcomeUnknown("outcome unknown, reconciling")

    def _resolve(self, client_id: str) -> None:
        """The venue answers: the runner's view becomes the truth and the held events go out."""
        self.view[client_id] = self.truth[client_id]
        step = self.steps.get(client_id, Scripted(Fault.OK))
        for event in self.held.pop(client_id, []):
            self._deliver(event, step)

    def resolve_all(self) -> None:
        for cid in list(self.held):
            self.unknown_left[cid] = 0
            self._resolve(cid)

    async def get_order(
        self, key: Any, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order:
        if self.down_for > 0:
            self.down_for -= 1
            raise RunnerUnavailable("runner restarting")
        if client_id not in self.view:
            raise NotFound(f"order {client_id} not found")
        left = self.unknown_left.get(client_id, 0)
        if left > 0:
            self.unknown_left[client_id] = left - 1
            if left == 1:
                self._resolve(client_id)
        return self.view[client_id]

    async def cancel_order(
        self, key: Any, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order:
        raise NotFound("already final")

    async def set_leverage(self, key: Any, leverage: int, *, timeout_s: float | None = None) -> int:
        return leverage

    async def get_account_snapshot(self, exchange: Exchange, *, timeout_s: float | None = None) -> AccountSnapshot:
        return AccountSnapshot(
            exchange=exchange,
            balances=(Balance(asset="USDT", free=D(10**7)), Balance(asset="BTC", free=D(100))),
            margin=(
                MarginBalance(
                    asset="USDT", wallet_balance=D(10**7), margin_balance=D(10**7), available_balance=D(10**7)
                ),
            ),
        )

    # -- the venue's record -----------------------------------------------------------------
    def filled_by_client_id(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for f in self.fills:
            out[f.client_id] = out.get(f.client_id, D(0)) + f.qty
        return out

    def net_base(self) -> dict[InstrumentKey, Decimal]:
        """What the account holds because of these fills (spot buys net of their BTC fee)."""
        out: dict[InstrumentKey, Decimal] = {}
        for f in self.fills:
            delta = f.qty * f.side.sign - (f.fee if f.fee_asset == "BTC" else 0)
            out[f.key] = out.get(f.key, D(0)) + delta
        return out


def book(key: InstrumentKey, mid: Decimal) -> OrderBook:
    now = time.time_ns()
    return OrderBook(
        key=key,
        bids=tuple(BookLevel(mid - D(i + 1), D(5)) for i in range(5)),
        asks=tuple(BookLevel(mid + D(i + 1), D(5)) for i in range(5)),
        venue_ts_ms=now // 1_000_000,
        local_ts_ns=now,
        sequence=now,
    )


def _known(kind: Any, **values: Any) -> Any:
    """``kind(**values)`` without the fields ``kind`` does not have (so these tests also run,
    and fail for the right reasons, against the code before issue 12)."""
    return kind(**{k: v for k, v in values.items() if k in kind.__struct_fields__})


FAST: ExecutionConfig = _known(
    ExecutionConfig,
    first_leg=FirstLeg.A,
    hedge_retries=2,
    retry_attempts=3,
    retry_backoff_s=0.005,
    retry_backoff_max_s=0.02,
    resolve_poll_s=0.005,
    not_found_settle_s=0.0,
    fill_settle_s=0.05,
    leg_timeout_s=0.5,
    hedge_timeout_s=0.5,
    unwind_timeout_s=0.5,
)


def decision_config(**values: Any) -> DecisionConfig:
    base: dict[str, Any] = {"entry_threshold_bps": D(1), "min_hold_s": 0, "reentry_cooldown_s": 0}
    base.update(values)
    return _known(DecisionConfig, **base)  # type: ignore[no-any-return]


def make_engine(
    runner: str = "new",
    *,
    size: str = "0.01",
    execution: ExecutionConfig = FAST,
    decision: DecisionConfig | None = None,
) -> tuple[ArbitrageEngine, FaultyVenue]:
    """Spot (step 0.00001, fees in BTC on buys) against a perp (step 0.001), Binance-like."""
    pair = ArbPair(
        a=Leg(
            id=LegId.A,
            instrument=instrument(SPOT, step="0.00001", tick="0.01", min_notional="5"),
            fees=FeeRates(taker=SPOT_FEE, maker=SPOT_FEE),
        ),
        b=Leg(id=LegId.B, instrument=instrument(PERP, step="0.001", min_notional="100"), fees=FeeRates()),
    )
    holder: list[ArbitrageEngine] = []
    venue = FaultyVenue(lambda ev: holder[0].on_event(ev), runner=runner)  # noqa: PLW0108 - holder is filled later
    engine = ArbitrageEngine(
        venue,  # type: ignore[arg-type]
        name="fault",
        pair_for=lambda now: pair,
        size=D(size),
        max_positions=1,
        oracle=PriceOracle(OracleConfig()),
        decision=DecisionPolicy(decision or decision_config()),
        execution=ExecutionPolicy(execution),
        margin=MarginPolicy(MarginConfig()),
    )
    holder.append(engine)
    return engine, venue


def market(engine: ArbitrageEngine, venue: FaultyVenue, basis_bps: int, rate: str = "0.0001") -> None:
    """Fresh books with the perp ``basis_bps`` over spot, and the perp's funding rate."""
    spot = D(100_000)
    perp = spot * (1 + D(basis_bps) / 10_000)
    venue.prices = {SPOT: spot, PERP: perp}
    engine.on_event(BookEvent(book=book(SPOT, spot)))
    engine.on_event(BookEvent(book=book(PERP, perp)))
    now_ms = time.time_ns() // 1_000_000
    engine.on_event(
        FundingEvent(
            funding=FundingRate(
                key=PERP,
                rate=D(rate),
                interval_ms=8 * 3_600_000,
                next_funding_ts_ms=now_ms + 3_600_000,
                mark_price=perp,
                index_price=spot,
                ts_ms=now_ms,
            )
        )
    )


async def start_engine(engine: ArbitrageEngine) -> None:
    await engine.refresh_accounts({Exchange.BINANCE})
