"""The signal → order chain (``strategy signals``; docs/bus.md, "Signals").

For each message taken off the broker, in order:

1. **decode** into :class:`~.schema.Signal` — not one: *malformed*;
2. **once only**: a signal id the journal already links to an order (or a rejection) is
   acknowledged and nothing else happens (at-least-once delivery, idempotent by signal id);
3. **validate**: *expired* (past ``ts_ms + ttl_ms``), *unknown_instrument* (no runner knows it),
   *paused* / *stopping* (the lifecycle), then the order's type and size (:mod:`.plan`) —
   *invalid* when no order can carry it;
4. **journal** the signal ↔ order link (unique per signal: the idempotency gate) and the
   order's intent (the client id is derived from the signal id, so the runner refuses a second
   one too), then **submit** through the runner — its pre-trade risk gate answers *risk*, the
   venue *venue*;
5. **acknowledge** the message. Rejections are published (``signals.rejected.<instance>``);
   malformed, expired and unknown-instrument messages are also parked in the dead-letter
   queue/subject with the reason.

The order is then followed to its end from the runners' ``exec`` events: every change is
published as an enriched order event (fills, average price, fees, slippage vs the signal's
price, latency signal → ack). A resting order still open at the signal's expiry is cancelled.
Once an entry filled and the signal named a stop-loss or take-profit, the reference price (the
book's mid) is watched and the filled quantity closed with a reduce-only market order (perp; a
plain one on spot) when it reaches either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from strategy_client.aio import within
from strategy_client.core_api import CoreApi
from strategy_client.errors import (
    CoreApiError,
    InvalidRequest,
    NotFound,
    RiskRejected,
    RunnerUnavailable,
    VenueRejected,
)
from strategy_client.events import Received, Snapshot
from strategy_client.journal import DuplicateIntent, Journal, JournalError
from strategy_client.journal.lifecycle import LifecycleEvent
from strategy_client.journal.signals import SignalLink, SignalLinkStore
from strategy_client.model import (
    FINAL_STATUSES,
    Fill,
    Instrument,
    InstrumentKey,
    InvalidInstrumentKey,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Side,
    to_plain,
)
from strategy_client.wire import BookEvent, OrderEvent

from .bus import Delivery, SignalBus
from .events import (
    ENCODER,
    Latency,
    LifecycleMessage,
    SignalOrderEvent,
    SignalRejectedEvent,
    routing_key,
)
from .plan import OrderPlan, PlanConfig, client_id, close_request, describe, plan_order, slippage_bps
from .schema import RejectReason, Signal, SignalRejected, decode_signal

__all__ = ["Counters", "SignalEngine", "OUTBOX_CAPACITY"]

ZERO = Decimal(0)
#: events waiting for the broker; when full the chain waits (never drops an event): consumption
#: slows down, the broker keeps the signals
OUTBOX_CAPACITY = 10_000
SIGNAL_JSON = msgspec.json.Encoder(decimal_format="string")
#: a link's status while its order has not ended (it is updated when the order ends or is refused)
IN_FLIGHT = "submitting"
#: an order the venue called final gets this long for its fill events before it is settled without them
FILL_SETTLE_S = 2.0


class Counters(msgspec.Struct, kw_only=True):
    received: int = 0
    orders: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = msgspec.field(default_factory=dict)
    dead_lettered: int = 0
    fills: int = 0
    closes: int = 0
    cancels_at_expiry: int = 0
    events_published: int = 0


@dataclass
class Tracked:
    signal: Signal
    role: str
    inst: Instrument
    request: OrderRequest
    reference: Decimal | None
    why: str
    received_ns: int
    submit_ns: int = 0
    ack_ns: int = 0
    ack_wall_ms: int = 0
    order: Order | None = None
    fills: list[Fill] = field(default_factory=list)
    final: bool = False
    unknown: bool = False
    cancel_sent: bool = False
    ended_ns: int = 0  # the venue said final while fills were still to come (monotonic)


@dataclass
class Held:
    """What a filled entry holds, watched for its stop-loss / take-profit."""

    signal: Signal
    inst: Instrument
    qty: Decimal
    closing: str = ""


class SignalEngine:
    def __init__(
        self,
        api: CoreApi,
        journal: Journal,
        bus: SignalBus,
        *,
        instance: str,
        cfg: PlanConfig,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.api = api
        self.journal = journal
        self.links = SignalLinkStore(journal)
        self.bus = bus
        self.instance = instance
        self.cfg = cfg
        self.paused = paused
        self.stopping = False
        self.counters = Counters()
        self.instruments: dict[str, Instrument] = {}
        self.books: dict[InstrumentKey, OrderBook] = {}
        self.tracked: dict[str, Tracked] = {}
        self.held: dict[str, Held] = {}  # signal id → its filled entry
        self.settled = asyncio.Event()  # set while no order it placed is still going
        self.settled.set()
        self.outbox: asyncio.Queue[tuple[str, bytes, str, dict[str, str]]] = asyncio.Queue(OUTBOX_CAPACITY)

    # -- the broker's messages -----------------------------------------------------------------
    async def handle(self, d: Delivery) -> None:
        self.counters.received += 1
        try:
            sig = decode_signal(d.body, d.content_type)
        except SignalRejected as rej:
            await self._reject(d, None, rej)
            return
        prior = await asyncio.to_thread(self.links.seen, sig.id)
        if prior is not None:
            await self._duplicate(d, sig, prior.role, prior.status)
            return
        try:
            inst = await self._instrument(sig)
            plan = self._plan(sig, inst)
        except SignalRejected as rej:
            await self._reject(d, sig, rej)
            return
        await self._submit(d, sig, inst, plan)

    async def _duplicate(self, d: Delivery, sig: Signal, role: str, status: str) -> None:
        self.counters.duplicates += 1
        logger.info(
            "signal {}: taken before ({} {}){}: acknowledged, nothing placed",
            sig.id,
            role,
            status,
            " (redelivered)" if d.redelivered else "",
        )
        await d.ack()

    async def _instrument(self, sig: Signal) -> Instrument:
        if sig.expires_ms < time.time_ns() // 1_000_000:
            raise SignalRejected(
                RejectReason.EXPIRED, f"made at {sig.ts_ms}, valid for {sig.ttl_ms} ms: expired at {sig.expires_ms}"
            )
        if self.stopping:
            raise SignalRejected(RejectReason.STOPPING, "the strategy is stopping")
        if self.paused():
            raise SignalRejected(RejectReason.PAUSED, "the strategy is paused: it opens nothing")
        inst = self.instruments.get(sig.instrument)
        if inst is not None:
            return inst
        try:
            key = InstrumentKey.parse(sig.instrument)
        except InvalidInstrumentKey as exc:
            raise SignalRejected(RejectReason.UNKNOWN_INSTRUMENT, str(exc)) from None
        try:
            inst = await self.api.get_instrument(key)
        except (NotFound, InvalidRequest, RunnerUnavailable) as exc:
            raise SignalRejected(RejectReason.UNKNOWN_INSTRUMENT, f"{key}: {exc}") from None
        except CoreApiError as exc:
            raise SignalRejected(RejectReason.UNAVAILABLE, f"{key}: the runner did not answer: {exc}") from None
        if not inst.is_trading:
            raise SignalRejected(RejectReason.UNKNOWN_INSTRUMENT, f"{key} is not trading ({inst.status})")
        self.instruments[sig.instrument] = inst
        return inst

    def _plan(self, sig: Signal, inst: Instrument) -> OrderPlan:
        book = self.books.get(inst.key)
        bid = book.best_bid.price if book is not None and book.best_bid is not None else None
        ask = book.best_ask.price if book is not None and book.best_ask is not None else None
        return plan_order(sig, inst, bid, ask, self.cfg)

    async def _reject(self, d: Delivery, sig: Signal | None, rej: SignalRejected, *, record: bool = True) -> None:
        """Count, journal (a redelivery finds it), publish; park a poison message; acknowledge.
        ``record``: False when the signal's entry link already says why (a refused order)."""
        reason = rej.reason
        self.counters.rejected[reason.value] = self.counters.rejected.get(reason.value, 0) + 1
        sid = sig.id if sig is not None else ""
        logger.info("signal {}: rejected: {}", sid or f"(message {d.message_id or '?'})", rej)
        if sig is not None and record:
            link = SignalLink(signal_id=sig.id, role="rejected", client_id="", status=reason.value, detail=rej.detail)
            await asyncio.to_thread(self.links.record, link)
        ref = sid or d.message_id or f"msg{self.counters.received}"
        ev = SignalRejectedEvent(
            id=f"{self.instance}/{ref}/rejected",
            instance=self.instance,
            signal_id=sid,
            reason=reason.value,
            detail=rej.detail,
            dead_lettered=reason.poison,
            instrument=sig.instrument if sig is not None else "",
            source=sig.source if sig is not None else "",
            message_id=d.message_id,
            redelivered=d.redelivered,
            ts_ms=time.time_ns() // 1_000_000,
        )
        await self._emit(routing_key("rejected", self.instance), ENCODER.encode(ev), ev.id, "rejected", sid)
        if reason.poison:
            await self.bus.dead_letter(d, reason.value, rej.detail)
            self.counters.dead_lettered += 1
        else:
            await d.ack()

    async def _submit(self, d: Delivery, sig: Signal, inst: Instrument, plan: OrderPlan) -> None:
        req = plan.request
        t = Tracked(sig, "entry", inst, req, plan.reference, plan.why, d.received_ns)
        if not await self._journal(t):
            await self._duplicate(d, sig, "entry", "journaled")
            return
        self._track(t)
        logger.info("signal {}: {} ({})", sig.id, describe(req), plan.why)
        try:
            await self._send(t)
        except SignalRejected as rej:
            await self._reject_sent(d, sig, rej)
            return
        await d.ack()

    async def _journal(self, t: Tracked) -> bool:
        """The link, then the intent; False when the signal (role) was taken before."""
        req = t.request
        link = SignalLink(
            signal_id=t.signal.id,
            role=t.role,
            client_id=req.client_id,
            key=str(req.key),
            side=req.side.value,
            qty=req.qty,
            status="submitting",
            detail=t.why,
            signal=SIGNAL_JSON.encode(t.signal).decode(),
        )
        if not await asyncio.to_thread(self.links.record, link):
            return False
        try:
            self.journal.write_intent(req, origin=f"signal:{t.signal.id}:{t.role}")
        except DuplicateIntent:
            return False
        return True

    async def _send(self, t: Tracked) -> None:
        t.submit_ns = time.time_ns()
        try:
            order = await self.api.submit_order(t.request)
        except RiskRejected as exc:
            t.final = True
            raise SignalRejected(RejectReason.RISK, str(exc)) from None
        except (VenueRejected, InvalidRequest) as exc:
            t.final = True
            raise SignalRejected(RejectReason.VENUE, str(exc)) from None
        except CoreApiError as exc:  # the outcome is unknown: resolved by client id, never resent
            t.unknown = True
            logger.warning(
                "signal {}: order {} outcome unknown ({}): asking the runner", t.signal.id, t.request.client_id, exc
            )
            return
        self.counters.orders += 1
        if t.ack_ns == 0:
            t.ack_ns, t.ack_wall_ms = time.time_ns(), time.time_ns() // 1_000_000
        await self._update(t, order, None, "ack")

    async def _reject_sent(self, d: Delivery, sig: Signal, rej: SignalRejected) -> None:
        t = self.tracked.get(client_id(sig.id, "entry"))
        self._untrack(client_id(sig.id, "entry"))
        await asyncio.to_thread(self.links.update, sig.id, "entry", rej.reason.value, rej.detail)
        if t is not None:
            t.final = True
        await self._reject(d, sig, rej, record=False)

    # -- after a restart -------------------------------------------------------------------------
    async def resume(self) -> list[str]:
        """At start, before any new signal: the orders an earlier run placed and did not see end
        are looked up by client id and followed to their end (expiry cancels, events, links);
        a filled entry whose stop-loss/take-profit was never placed is watched again."""
        links = await asyncio.to_thread(self.links.links)
        roles: dict[str, set[str]] = {}
        for link in links:
            roles.setdefault(link.signal_id, set()).add(link.role)
        lines: list[str] = []
        for link in links:
            watch_again = (
                link.role == "entry" and link.status == OrderStatus.FILLED.value and len(roles[link.signal_id]) == 1
            )
            if link.status != IN_FLIGHT and not watch_again:
                continue
            try:
                line = await self._resume_link(link, watch_again)
            except (SignalRejected, CoreApiError, JournalError) as exc:
                line = f"signal {link.signal_id}: {link.role} {link.client_id} not resumed: {exc}"
            if line:
                lines.append(line)
                logger.info("resume: {}", line)
        return lines

    async def _resume_link(self, link: SignalLink, watch_again: bool) -> str:
        sig = decode_signal(link.signal.encode())
        if watch_again and sig.stop_loss is None and sig.take_profit is None:
            return ""
        inst = await self.api.get_instrument(InstrumentKey.parse(link.key))
        try:
            order = await self.api.get_order(inst.key, client_id=link.client_id)
        except NotFound:
            await asyncio.to_thread(
                self.links.update, sig.id, link.role, "never_sent", "not at the venue after a restart"
            )
            return f"signal {sig.id}: {link.role} {link.client_id} never reached the venue (not sent again)"
        if watch_again:
            if order.filled_qty > 0:
                self.held[sig.id] = Held(sig, inst, order.filled_qty)
            return f"signal {sig.id}: {order.filled_qty} held, its stop-loss/take-profit watched again"
        intent = await asyncio.to_thread(self.journal.intent, link.client_id)
        request = intent.request if intent is not None else _request_of(order)
        t = Tracked(sig, link.role, inst, request, sig.price, link.detail, time.time_ns())
        t.ack_ns, t.ack_wall_ms = time.time_ns(), time.time_ns() // 1_000_000
        self._track(t)
        await self._update(t, order, None, "resumed")
        return f"signal {sig.id}: {link.role} {link.client_id} {order.status.value}: followed to its end"

    # -- the runners' events -------------------------------------------------------------------
    async def on_item(self, item: Any) -> None:
        if isinstance(item, Received):
            ev = item.event
            if isinstance(ev, OrderEvent):
                await self._on_order(ev)
            elif isinstance(ev, BookEvent):
                self.books[ev.book.key] = ev.book
                await self._watch(ev.book)
        elif isinstance(item, Snapshot) and item.books:
            for book in item.books:
                self.books[book.key] = book

    async def _on_order(self, ev: OrderEvent) -> None:
        t = self.tracked.get(ev.order.client_id)
        if t is None:
            return
        if t.ack_ns == 0:
            t.ack_ns, t.ack_wall_ms = time.time_ns(), time.time_ns() // 1_000_000
        fill = ev.fill
        if fill is not None and any(f.trade_id == fill.trade_id for f in t.fills):
            fill = None  # a repeat (replayed) fill: booked once
        if fill is not None:
            t.fills.append(fill)
            self.counters.fills += 1
        await self._update(t, ev.order, fill, ev.kind.value)

    async def _update(self, t: Tracked, order: Order, fill: Fill | None, kind: str) -> None:
        if t.final and fill is None:
            return
        if t.order is not None and t.order.filled_qty > order.filled_qty:
            order = msgspec.structs.replace(order, filled_qty=t.order.filled_qty, status=t.order.status)
        t.order = order
        t.unknown = t.unknown and order.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING)
        # final once the venue says so *and* its fills are in (a market order's answer may say
        # filled before the fill events arrive); housekeeping settles it after FILL_SETTLE_S
        booked = sum((f.qty for f in t.fills), ZERO)
        ended = order.status in FINAL_STATUSES
        final = ended and booked >= order.filled_qty
        if ended and not final and t.ended_ns == 0:
            t.ended_ns = time.monotonic_ns()
        await self._publish_order(t, order, fill, kind, final)
        if final and not t.final:
            t.final = True
            await self._finished(t, order)

    def _track(self, t: Tracked) -> None:
        self.tracked[t.request.client_id] = t
        self.settled.clear()

    def _untrack(self, cid: str) -> None:
        self.tracked.pop(cid, None)
        if all(t.final for t in self.tracked.values()):
            self.settled.set()

    async def _finished(self, t: Tracked, order: Order) -> None:
        self._untrack(order.client_id)
        filled = self._filled(t)
        detail = f"filled {filled} avg {order.avg_price}" if filled > 0 else order.reject_reason or ""
        await asyncio.to_thread(self.links.update, t.signal.id, t.role, order.status.value, detail)
        sig = t.signal
        if t.role == "entry" and filled > 0 and (sig.stop_loss is not None or sig.take_profit is not None):
            self.held[sig.id] = Held(sig, t.inst, filled)
        elif t.role != "entry":
            held = self.held.get(sig.id)
            if held is not None:
                held.qty -= filled
                held.closing = ""
                if held.qty <= 0 or order.status is not OrderStatus.FILLED:
                    self.held.pop(sig.id, None)

    def _filled(self, t: Tracked) -> Decimal:
        """What the order holds for us: its filled quantity, less a base-asset fee on a spot buy."""
        order = t.order
        filled = order.filled_qty if order is not None else ZERO
        if t.inst.key.kind is MarketKind.SPOT and t.request.side is Side.BUY:
            filled -= sum((f.fee for f in t.fills if f.fee_asset == t.inst.base), ZERO)
        return max(filled, ZERO)

    async def _publish_order(self, t: Tracked, order: Order, fill: Fill | None, kind: str, final: bool) -> None:
        fees: dict[str, Decimal] = {}
        for f in t.fills:
            fees[f.fee_asset] = fees.get(f.fee_asset, ZERO) + f.fee
        avg = order.avg_price
        if t.fills:
            qty = sum((f.qty for f in t.fills), ZERO)
            avg = sum((f.price * f.qty for f in t.fills), ZERO) / qty if qty > 0 else None
        ref = t.reference
        latency = Latency(
            signal_to_ack_ms=t.ack_wall_ms - t.signal.ts_ms if t.ack_ns else None,
            received_to_submit_us=(t.submit_ns - t.received_ns) // 1000 if t.submit_ns else None,
            received_to_ack_us=(t.ack_ns - t.received_ns) // 1000 if t.ack_ns else None,
        )
        ev = SignalOrderEvent(
            # the order's state names the event: a restarted run republishing a state it cannot know
            # was sent repeats its id (JetStream drops it), a new state never does
            id=f"{self.instance}/{t.signal.id}/{t.role}/{kind}/{to_plain(order.filled_qty)}",
            instance=self.instance,
            signal_id=t.signal.id,
            source=t.signal.source,
            role=t.role,
            kind=kind,
            order=order,
            fill=fill,
            fills=len(t.fills),
            filled_qty=order.filled_qty,
            avg_price=avg,
            fees=fees,
            signal_price=ref,
            slippage_bps=slippage_bps(order.side, avg, ref) if ref is not None else None,
            latency=latency,
            why=t.why,
            final=final,
            ts_ms=time.time_ns() // 1_000_000,
        )
        await self._emit(
            routing_key("order", self.instance, order.key), ENCODER.encode(ev), ev.id, "order", t.signal.id
        )

    # -- stop-loss / take-profit -----------------------------------------------------------------
    async def _watch(self, book: OrderBook) -> None:
        if not self.held:
            return
        mid = book.mid
        if mid is None:
            return
        for held in list(self.held.values()):
            if held.closing or held.inst.key != book.key:
                continue
            role = _trigger(held.signal, mid)
            if role:
                await self._close(held, role, mid)

    async def _close(self, held: Held, role: str, mid: Decimal) -> None:
        sig = held.signal
        held.closing = role
        perp = held.inst.key.kind is MarketKind.PERP
        req = close_request(held.inst, sig.side, held.qty, client_id(sig.id, role), perp)
        if req is None:  # dust below one step: nothing a venue would take
            self.held.pop(sig.id, None)
            return
        why = f"{role}: reference {mid} reached {sig.stop_loss if role == 'stop_loss' else sig.take_profit}"
        t = Tracked(
            sig, role, held.inst, req, sig.stop_loss if role == "stop_loss" else sig.take_profit, why, time.time_ns()
        )
        if not await self._journal(t):
            self.held.pop(sig.id, None)
            return
        self._track(t)
        self.counters.closes += 1
        logger.info("signal {}: {} → {}", sig.id, why, describe(req))
        try:
            await self._send(t)
        except SignalRejected as rej:
            self._untrack(req.client_id)
            self.held.pop(sig.id, None)
            logger.warning("signal {}: the {} close was refused: {}", sig.id, role, rej)
            await asyncio.to_thread(self.links.update, sig.id, role, rej.reason.value, rej.detail)

    # -- housekeeping: expiry, unknown outcomes --------------------------------------------------
    async def housekeeping(self, every_s: float = 0.1) -> None:
        """Expiry cancels, fill settling and unknown outcomes, every ``every_s``."""
        last_resolve = [0.0]
        while True:
            await asyncio.sleep(every_s)
            try:
                await self._housekeeping_once(last_resolve)
            except Exception as exc:  # noqa: BLE001 - the next round tries again; the task must not die
                logger.exception("{}: housekeeping: {}", self.instance, exc)

    async def _housekeeping_once(self, last_resolve: list[float]) -> None:
        now_ms = time.time_ns() // 1_000_000
        for t in list(self.tracked.values()):
            if _resting_entry(t) and t.signal.expires_ms < now_ms:
                await self._cancel(t)
        for t in [t for t in self.tracked.values() if t.ended_ns and not t.final]:
            if time.monotonic_ns() - t.ended_ns >= FILL_SETTLE_S * 1e9 and t.order is not None:
                t.final = True  # the fill events never came: settled with what the venue's order says
                await self._publish_order(t, t.order, None, "settled", True)
                await self._finished(t, t.order)
        if time.monotonic() - last_resolve[0] >= 1.0:
            last_resolve[0] = time.monotonic()
            for t in [t for t in self.tracked.values() if t.unknown]:
                await self._resolve(t)

    async def _cancel(self, t: Tracked) -> None:
        t.cancel_sent = True
        self.counters.cancels_at_expiry += 1
        try:
            await self.api.cancel_order(t.request.key, client_id=t.request.client_id)
        except CoreApiError as exc:
            logger.warning("signal {}: cancel at expiry of {}: {}", t.signal.id, t.request.client_id, exc)

    async def _resolve(self, t: Tracked) -> None:
        try:
            order = await self.api.get_order(t.request.key, client_id=t.request.client_id)
        except NotFound:
            return  # not at the venue yet (or never): asked again
        except CoreApiError:
            return
        if order.status not in (OrderStatus.UNKNOWN, OrderStatus.PENDING):
            if t.ack_ns == 0:
                t.ack_ns, t.ack_wall_ms = time.time_ns(), time.time_ns() // 1_000_000
            await self._update(t, order, None, "resolved")

    async def stop(self) -> None:
        """No new signals; resting entry orders are cancelled (what filled stays, see the docs)."""
        self.stopping = True
        for t in list(self.tracked.values()):
            if _resting_entry(t):
                await self._cancel(t)

    def open_count(self) -> int:
        return len(self.held) + sum(1 for t in self.tracked.values() if not t.final)

    # -- out to the broker -----------------------------------------------------------------------
    async def _emit(self, rk: str, body: bytes, mid: str, event: str, signal_id: str) -> None:
        headers = {"Tradebus-Event": event, "Tradebus-Id": mid, "Tradebus-Signal-Id": signal_id}
        await self.outbox.put((rk, body, mid, headers))

    def lifecycle_event(self, ev: LifecycleEvent) -> None:
        msg = LifecycleMessage(id=f"{self.instance}/lifecycle/{ev.ts_ms}/{ev.to_state.value}", lifecycle=ev)
        headers = {"Tradebus-Event": "lifecycle", "Tradebus-Id": msg.id, "Tradebus-Signal-Id": ""}
        try:
            self.outbox.put_nowait((routing_key("lifecycle", self.instance), ENCODER.encode(msg), msg.id, headers))
        except asyncio.QueueFull:
            logger.warning("{}: lifecycle event not published (the outbox is full)", self.instance)

    async def publisher(self) -> None:
        """Publishes the outbox in order; a broker error waits and retries the same event."""
        while True:
            rk, body, mid, headers = await self.outbox.get()
            while True:
                try:
                    await self.bus.publish(rk, body, mid, headers)
                    break
                except Exception as exc:  # noqa: BLE001 - a publisher that must outlive any broker error
                    logger.warning("{}: publishing {} failed ({}): retrying", self.instance, mid, exc)
                    await asyncio.sleep(0.5)
            self.counters.events_published += 1
            self.outbox.task_done()

    async def drain(self, timeout_s: float) -> None:
        try:
            await within(self.outbox.join(), timeout_s)
        except TimeoutError:
            logger.warning("{}: {} events not published at stop", self.instance, self.outbox.qsize())


def _request_of(order: Order) -> OrderRequest:
    """The request an order answers (its intent was not found)."""
    return OrderRequest(
        key=order.key,
        side=order.side,
        type=order.type,
        qty=order.qty,
        price=order.price,
        tif=order.tif,
        reduce_only=order.reduce_only,
        client_id=order.client_id,
    )


def _resting_entry(t: Tracked) -> bool:
    """An entry order open at the venue that nobody asked to cancel yet."""
    open_ = t.order is not None and t.order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
    return t.role == "entry" and not t.final and not t.cancel_sent and open_


def _trigger(sig: Signal, mid: Decimal) -> str:
    """``stop_loss`` / ``take_profit`` when the reference price reached it, else ``""``."""
    long = sig.side is Side.BUY
    if sig.stop_loss is not None and (mid <= sig.stop_loss if long else mid >= sig.stop_loss):
        return "stop_loss"
    if sig.take_profit is not None and (mid >= sig.take_profit if long else mid <= sig.take_profit):
        return "take_profit"
    return ""
