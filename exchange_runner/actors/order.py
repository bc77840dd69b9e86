"""OrderManager: submits, cancels and tracks orders; publishes their lifecycle.

Sources of truth, in order: the user-data stream (fills, by trade id), the placement/cancel
replies (acknowledgement and status only — fills in a reply are left to the stream so that no
fill is reported twice), and REST reconciles (catch up on anything the stream missed).

This actor is the single owner of every order's fate. An order is PENDING while its placement
is out. It becomes UNKNOWN when the venue's answer is lost: the adapter raised
:class:`~exchanges.errors.UnknownOutcome` (timeout, 5xx, dropped connection it could not
resolve), placement failed inside the runner, or the caller's deadline (``Submit.answer_by``)
passed with no word from the venue. UNKNOWN is published on the ``exec`` topic like any other
change and is listed by ``get_open_orders``. It is left only when the venue says: the
placement's late reply, the user stream, a query by client id (the *chase*: backoff from
``unknown_retry_s`` doubling up to ``unknown_slow_s``, then at that slow cadence for as long as it
takes), or a reconcile. Each chase step asks the adapter's ``resolve_unknown`` when it has one
(:class:`~exchanges.base.ResolvesUnknown`: the venue's documented guarantee — Bybit's re-send under
the same orderLinkId, OKX's expTime — lives there), otherwise queries by client id. No timer of
this actor ever turns it into REJECTED and the actor never resends.

With ``metrics`` set (an :class:`OrderObserver`), the manager reports each placement's round
trip (submit received → venue acknowledgement, or the failure) and each order's fill latency
(submit → its first fill on the execution stream), by market kind. Submit times are kept only
for orders still waiting for a first fill (at most :data:`MAX_TIMED_ORDERS`, oldest forgotten).

With ``risk`` set (a :class:`~exchange_runner.risk.RiskGate`, docs/risk.md), this actor owns the
gate: every submit passes ``risk.check`` after the instrument and client-id checks and before the
order is tracked and sent; every stored order state updates its open-order tally; fills push their
realised PnL (net of quote/settle fees); a one-second tick lets drawdown and the day's edge trip
without orders. The gate's events are published on the ``risk`` topic; entering HALTED cancels
every open order.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

import msgspec
from loguru import logger

from exchanges import errors as xerr
from exchanges.base import ExchangeAdapter, OrderUpdate, ResolvesUnknown
from exchanges.placement import order_matches
from exchanges.telemetry import request_outcome
from strategy_client.model import (
    Instrument,
    InstrumentKey,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    RejectCode,
    RiskEventKind,
    TradingState,
)
from strategy_client.model.order import new_client_id
from strategy_client.progress import Progress
from strategy_client.wire import (
    CancelOrder,
    GetOpenOrders,
    GetOrder,
    GetRiskStatus,
    OrderReply,
    OrdersReply,
    Query,
    RiskGateEvent,
    RiskStatusReply,
    SetRiskLimit,
    SetTradingState,
    TopicKind,
    TradingStateReply,
)

from ..bus import BlockingQueue
from ..eager import start_eager
from ..journaling import RunnerJournal
from ..latency_ring import LatencyRing
from ..publisher import Publisher
from ..refusals import BadParams, ClientIdInUse, NotAvailable
from ..risk import RiskGate
from .base import Actor
from .order_state import OrderTable

__all__ = [
    "OrderManager",
    "OrderObserver",
    "Submit",
    "Admin",
    "Reconcile",
    "CancelAll",
    "MAX_TIMED_ORDERS",
]

MAX_TIMED_ORDERS = 10_000
RESTART_PROGRESS = "reconciling after a restart: orders checked"
RECONCILE_PER_INSTRUMENT_MAX = 8  # a reconcile asks per instrument up to this many of a kind (weight)


class OrderObserver(Protocol):
    def order_acked(self, market: str, outcome: str, seconds: float) -> None: ...

    def order_filled(self, market: str, seconds: float) -> None: ...


class Submit(Query[Order], frozen=True):
    """Place ``request``. ``answer_by`` (``time.monotonic()``; 0 = none) is when the caller
    stops waiting: the actor then answers with what the venue has said so far (e.g. the user
    stream's fill) or, if nothing, marks the order UNKNOWN and answers
    :class:`~exchanges.errors.UnknownOutcome`. A request still queued at ``answer_by`` is never
    sent (REJECTED, ``reject_reason`` says so) — the one case where "not placed" is certain."""

    request: OrderRequest
    answer_by: float = 0.0
    client: str = ""  # who sent it (CURVE key or ROUTER identity): the risk gate's per-client throttle


class Admin(Query[RiskStatusReply | TradingStateReply], frozen=True):
    """An admin request on the risk gate and who sent it (CURVE key or ROUTER identity; the
    gate's events name them): ``SetTradingState`` (HALTED cancels every open order before
    answering) or ``SetRiskLimit`` (tighten only unless the limits allow loosening)."""

    request: SetTradingState | SetRiskLimit
    by: str = "admin"


class Reconcile(Query[int], frozen=True):
    """Bring the orders in line with the venue; answers how many the venue lists open."""

    reason: str = "periodic"


class CancelAll(Query[int], frozen=True):
    """Cancel every order that may rest at the venue; answers how many were cancelled."""


class _RiskTick(msgspec.Struct, frozen=True):
    """Once a second: the gate re-reads equity (drawdown) and rolls the trading day."""


class _Result(msgspec.Struct):
    order: Order
    from_reply: bool = True


class _Lost(msgspec.Struct):
    """The placement's answer is lost: mark the order UNKNOWN and chase it."""

    key: InstrumentKey
    client_id: str


class _Deadline:
    """The caller's ``answer_by`` passed: answer ``reply`` with what is known."""

    __slots__ = ("client_id", "reply")

    def __init__(self, client_id: str, reply: asyncio.Future[Any]) -> None:
        self.client_id = client_id
        self.reply = reply


Msg = (
    Submit
    | CancelOrder
    | GetOrder
    | GetOpenOrders
    | Reconcile
    | CancelAll
    | _Result
    | _Lost
    | _Deadline
    | GetRiskStatus
    | Admin
    | _RiskTick
)

#: No risk gate configured: the limits and states are not the runner's (``risk`` None).
NO_RISK_GATE = "this runner has no risk gate"
#: Statuses of an order resting at the venue (HALTED cancels any that shows up).
_RESTING = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class OrderManager(Actor[Msg]):
    ANSWERS = (GetOrder, GetOpenOrders, GetRiskStatus)

    def __init__(
        self,
        adapter: ExchangeAdapter,
        publisher: Publisher,
        instruments: dict[InstrumentKey, Instrument],
        *,
        paper: bool = False,
        fill_grace_s: float = 2.0,
        unknown_retry_s: float = 0.25,
        unknown_slow_s: float = 30.0,
        reconcile_per_instrument_max: int = RECONCILE_PER_INSTRUMENT_MAX,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        """``monotonic`` (the clock of ``Submit.answer_by``) and ``wall_ms`` (order timestamps)
        are injectable: tests drive the deadlines without sleeping."""
        super().__init__("order")
        self.adapter = adapter
        self.monotonic = monotonic
        self.wall_ms = wall_ms
        self.publisher = publisher
        self.instruments = instruments
        self.paper = paper
        self.orders = OrderTable()
        self.executions: BlockingQueue[OrderUpdate] = BlockingQueue(65_536, name="order.executions")
        self.fill_grace_s = fill_grace_s
        self.unknown_retry_s = unknown_retry_s
        self.unknown_slow_s = unknown_slow_s
        self.reconcile_per_instrument_max = reconcile_per_instrument_max
        self.submitted = 0
        self.sent_by_key: Counter[InstrumentKey] = Counter()  # orders sent per instrument (the warmer follows them)
        self.unknown_outcomes = 0  # orders that became UNKNOWN
        self.unknown_queries = 0  # chase queries by client id
        self.unknown_not_found = 0  # ... answered "no such order" (the order stays UNKNOWN)
        self.reconciled_fixes = 0
        self._chasing: set[str] = set()  # client ids with a chase running
        self._cancel_asked: set[str] = set()  # UNKNOWN orders someone asked to cancel: never re-placed
        self.metrics: OrderObserver | None = None
        self._submitted_at: dict[str, float] = {}  # client id → perf_counter at submit (metrics only)
        # the actor's own time on each order sent: from taking it to its placement started — for an
        # order read off the ROUTER socket (not from a task) that includes the request written to
        # the venue's socket (exchange_runner/eager.py); the risk gate and journal intent are inside
        self.submit_ns = LatencyRing()
        self.risk: RiskGate | None = None  # the pre-trade gate (docs/risk.md); set before run()
        self.risk_tick_s = 1.0
        self._halt_cancels: set[str] = set()  # client ids with a HALTED cancel under way
        self.journal: RunnerJournal | None = None  # the intent is committed here before sending; set before run()
        self._restored: list[Order] = []  # PENDING/UNKNOWN orders reloaded from the journal: resolved at start

    @property
    def unknown_now(self) -> int:
        """Orders UNKNOWN at this moment (a gauge; ``unknown_outcomes`` counts every one ever)."""
        return len(self.orders.unknown())

    def on_start(self) -> None:
        self.spawn(self._consume_executions(), "executions")
        if self.risk is not None:
            self.spawn(self._risk_ticker(), "risk:tick")
        for order in self._restored:  # the runner stopped with their answer out: lost, ask the venue
            self._mark_unknown(order.client_id)
            self._chase(order.key, order.client_id)
        self._restored = []

    def restore(self, orders: list[Order]) -> None:
        """Before :meth:`run`: track the orders a restart reloaded from the journal as it last saw
        them. PENDING ones (sent, no answer journaled) become UNKNOWN at start and are chased;
        UNKNOWN ones are chased; all are queried by the start reconcile."""
        for order in orders:
            if self.orders.get(order.client_id) is not None:
                continue
            self.orders.track(order)
            if order.venue_id:
                self.orders.by_venue_id[order.venue_id] = order.client_id
            if order.filled_qty:
                self.orders.accounted_fill_qty[order.client_id] = order.filled_qty
            if order.status.is_unresolved:
                self._restored.append(order)

    async def _consume_executions(self) -> None:
        while True:
            upd = await self.executions.get()
            if self._submitted_at:
                self._time_fill(upd)
            ev = self.orders.apply_update(upd)
            if ev is not None and ev.fill is not None and self.risk is not None:
                fill, inst = ev.fill, self.instruments.get(ev.order.key)
                fee = fill.fee if inst is not None and fill.fee_asset in (inst.quote, inst.settle) else Decimal(0)
                self.risk.record_realized(fill.realized_pnl - fee, fill.ts_ms)
                self._drain_risk()
            self._publish(ev)

    async def _risk_ticker(self) -> None:
        while True:
            await asyncio.sleep(self.risk_tick_s)
            await self.tell(_RiskTick())

    def _drain_risk(self, *, cancel: bool = True) -> bool:
        """Publish the gate's events; on a switch into HALTED cancel every open order (unless
        ``cancel`` is false: the caller does it). True if such a switch was seen."""
        assert self.risk is not None
        halted = False
        for ev in self.risk.drain_events():
            self.publisher.publish(TopicKind.RISK, RiskGateEvent(exchange=self.adapter.exchange, risk=ev))
            if ev.kind is RiskEventKind.STATE and ev.state is TradingState.HALTED:
                halted = True
        if halted and cancel:
            logger.warning("risk: trading HALTED ({}); cancelling every open order", self.risk.state_reason)
            self._future(self._cancel_all(), "risk:cancel-all")
        return halted

    def _time_fill(self, upd: OrderUpdate) -> None:
        cid = upd.order.client_id
        if upd.fill is not None:
            t0 = self._submitted_at.pop(cid, None)
            if t0 is not None and self.metrics is not None:
                self.metrics.order_filled(upd.order.key.kind.value, time.perf_counter() - t0)
        elif upd.order.is_final:
            self._submitted_at.pop(cid, None)

    def _publish(self, event: Any) -> None:
        if event is None:
            return
        if self.risk is not None:
            self.risk.tally.update(event.order)
            if self.risk.state is TradingState.HALTED and event.order.status in _RESTING:
                self._cancel_landed(event.order)
        if self.paper:
            event = msgspec.structs.replace(event, paper=True)
        self.publisher.publish(TopicKind.EXECUTION, event, event.order.key)

    # -- inbox ------------------------------------------------------------------------
    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, Submit):
            return self._submit(msg)
        if isinstance(msg, CancelOrder):
            return self._cancel(msg)
        if isinstance(msg, GetOrder):
            return self._get(msg)
        if isinstance(msg, GetOpenOrders):
            kind = msg.kind
            return OrdersReply(
                orders=tuple(o for o in self.orders.open_orders(msg.key) if kind is None or o.key.kind is kind)
            )
        if isinstance(msg, _Result):
            if msg.from_reply:
                self._apply_reply(msg.order)
            else:
                self._publish(self.orders.apply(msg.order))
            return None
        if isinstance(msg, _Lost):
            self._mark_unknown(msg.client_id)
            self._chase(msg.key, msg.client_id)
            return None
        if isinstance(msg, _Deadline):
            self._on_deadline(msg)
            return None
        if isinstance(msg, Reconcile):
            return self._start_reconcile(msg.reason)
        if isinstance(msg, CancelAll):
            return self._future(self._cancel_all())
        if isinstance(msg, _RiskTick):
            if self.risk is not None:
                self.risk.observe()
                self._drain_risk()
            return None
        if isinstance(msg, GetRiskStatus | Admin):
            return self._risk_admin(msg)
        raise TypeError(f"unexpected message {type(msg).__name__}")

    # -- submit -----------------------------------------------------------------------
    def _submit(self, msg: Submit) -> Order | asyncio.Future[Any]:
        taken_ns = time.perf_counter_ns()
        req = msg.request
        if req.key not in self.instruments:
            raise BadParams(f"unknown instrument {req.key}")
        cid = req.client_id or new_client_id()
        known = self.orders.get(cid)
        if known is not None and not known.is_final:
            raise ClientIdInUse(f"client id {cid} is already live ({known.status.value})")
        req = msgspec.structs.replace(req, client_id=cid)
        if self.risk is not None:
            try:
                self.risk.check(req, msg.client)
            finally:
                self._drain_risk()
        if self.journal is not None:
            self.journal.write_intent(req)  # JournalRefused: not journaled, so not sent
        now_ms = self.wall_ms()
        order = Order.from_request(req, cid, status=OrderStatus.PENDING, created_ts_ms=now_ms)
        self.orders.track(order)
        if self.risk is not None:
            self.risk.tally.update(order)
        if msg.answer_by and self.monotonic() >= msg.answer_by:
            # the caller gave up while this waited in the inbox: it is not sent, and that is certain
            logger.warning("order {}: the caller's deadline passed before it could be sent; not sent", cid)
            not_sent = msgspec.structs.replace(
                order,
                status=OrderStatus.REJECTED,
                reject_reason="not sent: the caller's deadline passed first",
                reject_code=RejectCode.NOT_SENT,
            )
            self._publish(self.orders.apply(not_sent))
            return not_sent
        self.submitted += 1
        self.sent_by_key[req.key] += 1
        t0 = time.perf_counter()
        if self.metrics is not None:
            if len(self._submitted_at) >= MAX_TIMED_ORDERS:
                self._submitted_at.pop(next(iter(self._submitted_at)))
            self._submitted_at[cid] = t0
        # sent in this turn of the loop, not the next (exchange_runner/eager.py)
        placed = start_eager(self.spawn, self._place(req, t0), f"place:{cid}")
        self.submit_ns.add(time.perf_counter_ns() - taken_ns)
        if self.journal is not None:
            self.journal.release_intents()  # the writer takes the intent now the order is out
        if not msg.answer_by:
            return placed
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        timer = loop.call_later(max(0.0, msg.answer_by - self.monotonic()), self._deadline_due, cid, reply)
        reply.add_done_callback(lambda _: timer.cancel())
        placed.add_done_callback(lambda f: _relay(f, reply))
        return reply

    def _deadline_due(self, client_id: str, reply: asyncio.Future[Any]) -> None:
        """Timer callback: hand the deadline to the actor (state changes only through the inbox)."""
        if reply.done():
            return
        try:
            self.spawn(self.tell(_Deadline(client_id, reply)), f"deadline:{client_id}")
        except RuntimeError:  # the actor has stopped: the server's own timer answers the caller
            pass

    def _on_deadline(self, msg: _Deadline) -> None:
        """The caller stops waiting: answer with what the venue said so far, else UNKNOWN."""
        if msg.reply.done():
            return
        known = self.orders.get(msg.client_id)
        if known is not None and not known.status.is_unresolved:
            msg.reply.set_result(known)  # e.g. the user stream reported it before the reply came
            return
        self._mark_unknown(msg.client_id)
        msg.reply.set_exception(
            xerr.UnknownOutcome(
                f"order {msg.client_id}: no answer from the venue within the caller's timeout; the runner "
                "tracks it as UNKNOWN until the venue says — learn its fate from the exec topic or "
                "get_order, do not resend",
                venue=self.adapter.exchange.value,
            )
        )

    def _mark_unknown(self, client_id: str) -> None:
        event = self.orders.mark_unknown(client_id, self.wall_ms())
        if event is not None:
            self.unknown_outcomes += 1
            logger.warning("order {}: outcome unknown; tracked as UNKNOWN until the venue says", client_id)
            self._publish(event)

    async def _place(self, req: OrderRequest, t0: float) -> Order:
        try:
            order = await self._send(req)
        except BaseException as exc:
            self._time_ack(req, t0, exc)
            raise
        self._time_ack(req, t0, None)
        if order.is_final and not order.filled_qty:
            self._submitted_at.pop(req.client_id, None)
        return order

    def _time_ack(self, req: OrderRequest, t0: float, exc: BaseException | None) -> None:
        if self.metrics is not None and t0:
            self.metrics.order_acked(req.key.kind.value, request_outcome(exc), time.perf_counter() - t0)
        if exc is not None and not isinstance(exc, xerr.UnknownOutcome):
            self._submitted_at.pop(req.client_id, None)

    async def _send(self, req: OrderRequest) -> Order:
        try:
            order = await self.adapter.place_order(req)
        except xerr.UnknownOutcome:
            await self.tell(_Lost(req.key, req.client_id))
            raise
        except xerr.ExchangeError as exc:
            # the venue (or the adapter, before sending) said no: a known outcome
            pending = self.orders.get(req.client_id)
            if pending is not None and pending.status.is_unresolved:
                rejected = msgspec.structs.replace(
                    pending,
                    status=OrderStatus.REJECTED,
                    reject_reason=str(exc),
                    reject_code=xerr.reject_code(exc),
                    updated_ts_ms=self.wall_ms(),
                )
                await self.tell(_Result(rejected))
            raise
        except Exception as exc:
            # a bug while placing: the request may have left, so its outcome is unknown
            self.errors += 1
            logger.exception("order {}: placement failed inside the runner; outcome unknown", req.client_id)
            await self.tell(_Lost(req.key, req.client_id))
            raise xerr.UnknownOutcome(
                f"order {req.client_id}: placement failed inside the runner ({type(exc).__name__}); it may "
                "have reached the venue — tracked as UNKNOWN until the venue says",
                venue=self.adapter.exchange.value,
            ) from exc
        await self.tell(_Result(order))
        return order

    # -- the chase: ask the venue until it says ----------------------------------------
    def _chase(self, key: InstrumentKey, client_id: str, *, until_answer: bool = False) -> None:
        """Query ``client_id`` by backoff until the venue says what became of it (one chase per
        order). ``until_answer``: stop at the first answer (a cancel whose outcome is unknown);
        otherwise stop when the order is no longer UNKNOWN."""
        if client_id in self._chasing:
            return
        self._chasing.add(client_id)
        self.spawn(self._chase_loop(key, client_id, until_answer), f"chase:{client_id}")

    async def _chase_loop(self, key: InstrumentKey, client_id: str, until_answer: bool) -> None:
        delay = self.unknown_retry_s
        started = time.monotonic()
        not_found = 0
        slow = False
        try:
            while True:
                await asyncio.sleep(delay)
                known = self.orders.get(client_id)
                if known is None or known.is_final or (not until_answer and known.status is not OrderStatus.UNKNOWN):
                    return
                self.unknown_queries += 1
                try:
                    order = await self._ask_venue(key, known, until_answer)
                except xerr.OrderNotFound:
                    # not proof of absence: a venue may show an order only after a while
                    not_found += 1
                    self.unknown_not_found += 1
                except xerr.ExchangeError as exc:
                    logger.info("order {}: chase query failed ({}); asking again", client_id, exc)
                else:
                    if order_matches(order, known):
                        await self.tell(_Result(order, from_reply=False))
                        if until_answer:
                            return
                    else:
                        logger.warning(
                            "order {}: the venue's order under this client id is another one ({} {} {}); still UNKNOWN",
                            client_id,
                            order.side.value,
                            order.qty,
                            order.status.value,
                        )
                delay = min(delay * 2, self.unknown_slow_s)
                if delay >= self.unknown_slow_s and not slow:
                    slow = True
                    logger.error(
                        "order {}: still unresolved after {:.0f}s ({} not-found answers); asking every {:.0f}s",
                        client_id,
                        time.monotonic() - started,
                        not_found,
                        self.unknown_slow_s,
                    )
        finally:
            self._chasing.discard(client_id)
            if not until_answer:
                self._cancel_asked.discard(client_id)

    async def _ask_venue(self, key: InstrumentKey, known: Order, until_answer: bool) -> Order:
        """One chase step. For an UNKNOWN placement an adapter that knows its venue's guarantee
        (:class:`~exchanges.base.ResolvesUnknown`, which may re-send it) decides what may be
        concluded; otherwise — for a cancel, while trading is HALTED, or once someone asked to
        cancel the order — a query by client id. Raises OrderNotFound when the venue has no
        answer yet."""
        halted = self.risk is not None and self.risk.state is TradingState.HALTED
        may_place = not halted and known.client_id not in self._cancel_asked
        if not until_answer and may_place and isinstance(self.adapter, ResolvesUnknown):
            request = OrderRequest(
                key=known.key,
                side=known.side,
                type=known.type,
                qty=known.qty,
                price=known.price,
                tif=known.tif,
                reduce_only=known.reduce_only,
                client_id=known.client_id,
            )
            order = await self.adapter.resolve_unknown(request, known.created_ts_ms)
            if order is None:
                raise xerr.OrderNotFound(f"order {known.client_id}: still unknown", venue=self.adapter.exchange.value)
            return order
        return await self.adapter.get_order(key, client_id=known.client_id)

    def _apply_reply(self, order: Order) -> None:
        """Placement/cancel replies give status; fills are left to the stream (see module doc)."""
        accounted = self.orders.accounted_fill_qty.get(order.client_id, Decimal(0))
        if order.filled_qty > accounted:
            status = OrderStatus.PARTIALLY_FILLED if accounted > 0 else OrderStatus.NEW
            order = msgspec.structs.replace(order, status=status, filled_qty=accounted)
            self.spawn(self._catch_up_fills(order.key, order.client_id), f"catchup:{order.client_id}")
        self._publish(self.orders.apply(order))

    async def _catch_up_fills(self, key: InstrumentKey, client_id: str) -> None:
        """If the stream has not delivered the fills a reply showed within the grace, ask REST."""
        await asyncio.sleep(self.fill_grace_s)
        known = self.orders.get(client_id)
        if known is None or known.is_final:
            return
        try:
            order = await self.adapter.get_order(key, client_id=client_id)
        except xerr.ExchangeError as exc:
            logger.warning("order {}: fill catch-up query failed: {}", client_id, exc)
            return
        await self.tell(_Result(order, from_reply=False))

    # -- cancel / get -----------------------------------------------------------------
    def _resolve_cid(self, client_id: str, venue_id: str) -> str:
        if client_id:
            return client_id
        if venue_id:
            return self.orders.client_id_for(venue_id) or ""
        raise BadParams("give a client_id or a venue_id")

    def _cancel(self, msg: CancelOrder) -> asyncio.Future[OrderReply]:
        cid = self._resolve_cid(msg.client_id, msg.venue_id)
        known = self.orders.get(cid)
        if known is not None and known.status is OrderStatus.UNKNOWN:
            self._cancel_asked.add(cid)  # its chase only queries from now on (no re-send)

        async def run() -> OrderReply:
            try:
                order = await self.adapter.cancel_order(msg.key, client_id=cid or None, venue_id=msg.venue_id or None)
            except xerr.UnknownOutcome:
                if cid:
                    self._chase(msg.key, cid, until_answer=True)
                raise
            await self.tell(_Result(order, from_reply=False))
            return OrderReply(order=order)

        return self._future(run(), f"cancel:{cid or msg.venue_id}")

    def _get(self, msg: GetOrder) -> OrderReply | asyncio.Future[OrderReply]:
        cid = self._resolve_cid(msg.client_id, msg.venue_id)
        known = self.orders.get(cid) if cid else None
        if known is not None and known.key == msg.key:
            return OrderReply(order=known)  # PENDING/UNKNOWN included: the runner, not a one-off query, resolves those

        async def run() -> OrderReply:
            order = await self.adapter.get_order(msg.key, client_id=cid or None, venue_id=msg.venue_id or None)
            await self.tell(_Result(order, from_reply=False))
            return OrderReply(order=order)

        return self._future(run(), f"get:{cid or msg.venue_id}")

    # -- reconcile --------------------------------------------------------------------
    def _start_reconcile(self, reason: str) -> asyncio.Future[Any]:
        return self._future(self._reconcile(reason), f"reconcile:{reason}")

    async def _reconcile(self, reason: str) -> int:
        """Bring local state in line with the venue: open orders, and every order we think is live."""
        fixes = 0
        venue_open: dict[str, Order] = {}
        for kind, keys in self._reconcile_queries():
            for key in keys:
                for order in await self.adapter.get_open_orders(kind, key):
                    venue_open[order.client_id] = order
        for order in venue_open.values():
            await self.tell(_Result(order, from_reply=False))
        checks = [(cid, o) for cid, o in self.orders.active.items() if cid not in venue_open]
        # after a restart the journal's open and UNKNOWN orders are each asked for: on a terminal a
        # line counts them, otherwise log lines (a restart with many orders takes a while)
        progress = Progress(RESTART_PROGRESS, len(checks), sys.stderr) if reason == "start" and checks else None
        for cid, order in checks:
            if progress is not None:
                progress.step(cid)
            if order.status is OrderStatus.PENDING:
                continue  # PENDING: its placement is still out and will answer
            try:
                fresh = await self.adapter.get_order(order.key, client_id=cid)
            except xerr.OrderNotFound:
                continue  # for an UNKNOWN order: not proof of absence (see the module doc)
            except xerr.ExchangeError as exc:
                logger.info("order reconcile ({}): {} not checked: {}", reason, cid, exc)
                continue
            if order.status is OrderStatus.UNKNOWN and not order_matches(fresh, order):
                continue  # another order under this client id says nothing about ours
            if fresh.status != order.status or fresh.filled_qty != order.filled_qty:
                fixes += 1
            await self.tell(_Result(fresh, from_reply=False))
        if progress is not None:
            progress.finish()
        self.reconciled_fixes += fixes
        if fixes:
            logger.info("order reconcile ({}): {} orders corrected", reason, fixes)
        return len(venue_open)

    def _reconcile_queries(self) -> list[tuple[MarketKind, list[InstrumentKey | None]]]:
        """Per market kind, what a reconcile asks the venue for open orders: each instrument on
        its own while the runner has few (a venue charges a one-symbol query far less — Binance
        weight 1 and 6 against 40 and 80 for every symbol — and a reconcile runs after every
        user-stream reconnect), else one query for the whole kind (``reconcile_per_instrument_max``,
        the runner's setting; 0: always the whole kind)."""
        by_kind: dict[MarketKind, list[InstrumentKey | None]] = {}
        for key in sorted(self.instruments):
            by_kind.setdefault(key.kind, []).append(key)
        most = self.reconcile_per_instrument_max
        return [(kind, keys if len(keys) <= most else [None]) for kind, keys in by_kind.items()]

    def _cancel_landed(self, order: Order) -> None:
        """HALTED and ``order`` rests at the venue: it was in flight (PENDING, so not in the
        cancel-all's list) or UNKNOWN when trading stopped, and has landed since. Cancel it."""
        cid = order.client_id
        if cid in self._halt_cancels:
            return
        self._halt_cancels.add(cid)

        async def run() -> None:
            try:
                done = await self.adapter.cancel_order(order.key, client_id=cid)
                await self.tell(_Result(done, from_reply=False))
            except xerr.ExchangeError as exc:
                logger.warning("risk: HALTED, cancelling {} that landed after the cancel-all: {}", cid, exc)
            finally:
                self._halt_cancels.discard(cid)

        logger.warning("risk: HALTED; order {} landed at the venue after the cancel-all: cancelling it", cid)
        self.spawn(run(), f"risk:cancel:{cid}")

    # -- risk admin -------------------------------------------------------------------
    def _risk_admin(self, msg: GetRiskStatus | Admin) -> Any:
        gate = self.risk
        if gate is None:
            raise NotAvailable(NO_RISK_GATE)
        if isinstance(msg, GetRiskStatus):
            return RiskStatusReply(status=gate.status())
        req, by = msg.request, msg.by
        if isinstance(req, SetRiskLimit):
            try:
                gate.set_limit(req.field, req.value or None, req.instrument, by=by)
            finally:
                self._drain_risk()
            return RiskStatusReply(status=gate.status())
        halt_now = req.state is TradingState.HALTED
        try:
            previous = gate.set_state(req.state, req.reason, force=req.force, by=by)
        finally:
            # a HALTED request cancels below (also when already HALTED: the kill switch means it)
            self._drain_risk(cancel=not halt_now)
        logger.warning("risk: trading state {} → {} by {}", previous.value, gate.state.value, by)
        state = gate.state
        if not halt_now:
            return TradingStateReply(state=state, previous=previous)

        async def halt() -> TradingStateReply:
            canceled = await self._cancel_all()
            return TradingStateReply(state=state, previous=previous, canceled=canceled)

        return self._future(halt(), "risk:halt")

    async def _cancel_all(self) -> int:
        """Cancel every order that may rest at the venue, UNKNOWN ones included."""
        canceled = 0
        for order in list(self.orders.open_orders()):
            if order.client_id in self._halt_cancels:
                continue  # already being cancelled (an order that landed while HALTED)
            self._halt_cancels.add(order.client_id)
            try:
                done = await self.adapter.cancel_order(order.key, client_id=order.client_id)
                await self.tell(_Result(done, from_reply=False))
                canceled += 1
            except xerr.ExchangeError as exc:
                logger.warning("cancel-on-exit {}: {}", order.client_id, exc)
            finally:
                self._halt_cancels.discard(order.client_id)
        return canceled


def _relay(src: asyncio.Future[Any], dst: asyncio.Future[Any]) -> None:
    """The placement's outcome to the caller's reply, unless the deadline answered it first."""
    if src.cancelled():
        if not dst.done():
            dst.cancel()
        return
    exc = src.exception()  # retrieved even when nobody waits any more (no "never retrieved" noise)
    if dst.done():
        return
    if exc is not None:
        dst.set_exception(exc)
    else:
        dst.set_result(src.result())
