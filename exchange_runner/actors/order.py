"""OrderManager: submits, cancels and tracks orders; publishes their lifecycle.

Sources of truth, in order: the user-data stream (fills, by trade id), the placement/cancel
replies (acknowledgement and status only — fills in a reply are left to the stream so that no
fill is reported twice), and REST reconciles (catch up on anything the stream missed).

An unknown outcome (timeout, 5xx, dropped connection that the adapter could not resolve) leaves
the order PENDING and starts a reconcile by client id; nothing is ever resent blindly.

With ``metrics`` set (an :class:`OrderObserver`), the manager reports each placement's round
trip (submit received → venue acknowledgement, or the failure) and each order's fill latency
(submit → its first fill on the execution stream), by market kind. Submit times are kept only
for orders still waiting for a first fill (at most :data:`MAX_TIMED_ORDERS`, oldest forgotten).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from decimal import Decimal
from typing import Any, Protocol

import msgspec
from loguru import logger

from exchanges import errors as xerr
from exchanges.base import ExchangeAdapter, OrderUpdate
from exchanges.telemetry import request_outcome
from strategy_client.model import Instrument, InstrumentKey, MarketKind, Order, OrderRequest, OrderStatus
from strategy_client.wire import TopicKind

from ..bus import BlockingQueue
from ..publisher import Publisher
from .base import Actor
from .order_state import OrderBook_

__all__ = [
    "OrderManager",
    "OrderObserver",
    "Submit",
    "Cancel",
    "GetOrderMsg",
    "GetOpen",
    "Reconcile",
    "new_client_id",
    "MAX_TIMED_ORDERS",
]

MAX_TIMED_ORDERS = 10_000


class OrderObserver(Protocol):
    def order_acked(self, market: str, outcome: str, seconds: float) -> None: ...

    def order_filled(self, market: str, seconds: float) -> None: ...


class Submit(msgspec.Struct, frozen=True):
    request: OrderRequest


class Cancel(msgspec.Struct, frozen=True):
    key: InstrumentKey
    client_id: str = ""
    venue_id: str = ""


class GetOrderMsg(msgspec.Struct, frozen=True):
    key: InstrumentKey
    client_id: str = ""
    venue_id: str = ""


class GetOpen(msgspec.Struct, frozen=True):
    key: InstrumentKey | None = None
    kind: MarketKind | None = None


class Reconcile(msgspec.Struct, frozen=True):
    reason: str = "periodic"


class CancelAll(msgspec.Struct, frozen=True):
    pass


class _Result(msgspec.Struct):
    order: Order
    from_reply: bool = True


Msg = Submit | Cancel | GetOrderMsg | GetOpen | Reconcile | CancelAll | _Result


def new_client_id(prefix: str = "tb") -> str:
    """≤ 36 chars of [A-Za-z0-9-]: time-ordered and random, unique across restarts."""
    return f"{prefix}-{time.time_ns() // 1_000_000:x}-{secrets.token_hex(5)}"


class OrderManager(Actor[Msg]):
    def __init__(
        self,
        adapter: ExchangeAdapter,
        publisher: Publisher,
        instruments: dict[InstrumentKey, Instrument],
        *,
        paper: bool = False,
        fill_grace_s: float = 2.0,
        unknown_retry_s: float = 0.5,
        unknown_give_up_s: float = 30.0,
    ) -> None:
        super().__init__("order")
        self.adapter = adapter
        self.publisher = publisher
        self.instruments = instruments
        self.paper = paper
        self.orders = OrderBook_()
        self.executions: BlockingQueue[OrderUpdate] = BlockingQueue(65_536, name="order.executions")
        self.fill_grace_s = fill_grace_s
        self.unknown_retry_s = unknown_retry_s
        self.unknown_give_up_s = unknown_give_up_s
        self.submitted = 0
        self.unknown_outcomes = 0
        self.reconciled_fixes = 0
        self.metrics: OrderObserver | None = None
        self._submitted_at: dict[str, float] = {}  # client id → perf_counter at submit (metrics only)

    def on_start(self) -> None:
        self.spawn(self._consume_executions(), "executions")

    async def _consume_executions(self) -> None:
        while True:
            upd = await self.executions.get()
            if self._submitted_at:
                self._time_fill(upd)
            self._publish(self.orders.apply_update(upd))

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
        if self.paper:
            event = msgspec.structs.replace(event, paper=True)
        self.publisher.publish(TopicKind.EXECUTION, event, event.order.key)

    # -- inbox ------------------------------------------------------------------------
    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, Submit):
            return self._submit(msg.request)
        if isinstance(msg, Cancel):
            return self._cancel(msg)
        if isinstance(msg, GetOrderMsg):
            return self._get(msg)
        if isinstance(msg, GetOpen):
            return [o for o in self.orders.open_orders(msg.key) if msg.kind is None or o.key.kind is msg.kind]
        if isinstance(msg, _Result):
            if msg.from_reply:
                self._apply_reply(msg.order)
            else:
                self._publish(self.orders.apply(msg.order))
            return None
        if isinstance(msg, Reconcile):
            return self._start_reconcile(msg.reason)
        if isinstance(msg, CancelAll):
            return self._future(self._cancel_all())
        raise TypeError(f"unexpected message {type(msg).__name__}")

    def _future(self, coro: Any, name: str = "call") -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                res = await coro
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller
                if not fut.done():
                    fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return
            if not fut.done():
                fut.set_result(res)

        self.spawn(run(), name)
        return fut

    # -- submit -----------------------------------------------------------------------
    def _submit(self, req: OrderRequest) -> asyncio.Future[Any]:
        if req.key not in self.instruments:
            raise xerr.InvalidRequest(f"unknown instrument {req.key}")
        cid = req.client_id or new_client_id()
        if self.orders.get(cid) is not None and not self.orders.get(cid).is_final:  # type: ignore[union-attr]
            raise xerr.DuplicateClientId(f"client id {cid} is already live")
        req = msgspec.structs.replace(req, client_id=cid)
        now_ms = time.time_ns() // 1_000_000
        self.orders.track(
            Order(
                key=req.key,
                client_id=cid,
                venue_id="",
                side=req.side,
                type=req.type,
                tif=req.tif,
                price=req.price,
                qty=req.qty,
                status=OrderStatus.PENDING,
                reduce_only=req.reduce_only,
                created_ts_ms=now_ms,
                updated_ts_ms=now_ms,
            )
        )
        self.submitted += 1
        t0 = time.perf_counter()
        if self.metrics is not None:
            if len(self._submitted_at) >= MAX_TIMED_ORDERS:
                self._submitted_at.pop(next(iter(self._submitted_at)))
            self._submitted_at[cid] = t0
        return self._future(self._place(req, t0), f"place:{cid}")

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
            self.unknown_outcomes += 1
            logger.warning("order {}: outcome unknown, reconciling by client id", req.client_id)
            self.spawn(self._resolve_unknown(req), f"resolve:{req.client_id}")
            raise
        except xerr.ExchangeError as exc:
            pending = self.orders.get(req.client_id)
            if pending is not None and pending.status is OrderStatus.PENDING:
                rejected = msgspec.structs.replace(
                    pending,
                    status=OrderStatus.REJECTED,
                    reject_reason=str(exc),
                    updated_ts_ms=time.time_ns() // 1_000_000,
                )
                await self.tell(_Result(rejected))
            raise
        await self.tell(_Result(order))
        return order

    async def _resolve_unknown(self, req: OrderRequest) -> None:
        deadline = time.monotonic() + self.unknown_give_up_s
        while time.monotonic() < deadline:
            await asyncio.sleep(self.unknown_retry_s)
            try:
                order = await self.adapter.get_order(req.key, client_id=req.client_id)
            except xerr.OrderNotFound:
                continue
            except xerr.ExchangeError as exc:
                logger.warning("order {}: reconcile query failed: {}", req.client_id, exc)
                continue
            await self.tell(_Result(order, from_reply=False))
            return
        pending = self.orders.get(req.client_id)
        if pending is not None and pending.status is OrderStatus.PENDING:
            logger.error(
                "order {}: venue does not know it after {}s; marking rejected",
                req.client_id,
                self.unknown_give_up_s,
            )
            await self.tell(
                _Result(
                    msgspec.structs.replace(
                        pending,
                        status=OrderStatus.REJECTED,
                        reject_reason="not found at venue after unknown outcome",
                    ),
                    from_reply=False,
                )
            )

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
        raise xerr.InvalidRequest("give a client_id or a venue_id")

    def _cancel(self, msg: Cancel) -> asyncio.Future[Any]:
        cid = self._resolve_cid(msg.client_id, msg.venue_id)

        async def run() -> Order:
            order = await self.adapter.cancel_order(msg.key, client_id=cid or None, venue_id=msg.venue_id or None)
            await self.tell(_Result(order, from_reply=False))
            return order

        return self._future(run(), f"cancel:{cid or msg.venue_id}")

    def _get(self, msg: GetOrderMsg) -> Order | asyncio.Future[Any]:
        cid = self._resolve_cid(msg.client_id, msg.venue_id)
        known = self.orders.get(cid) if cid else None
        if known is not None and known.key == msg.key and known.status is not OrderStatus.PENDING:
            return known

        async def run() -> Order:
            order = await self.adapter.get_order(msg.key, client_id=cid or None, venue_id=msg.venue_id or None)
            await self.tell(_Result(order, from_reply=False))
            return order

        return self._future(run(), f"get:{cid or msg.venue_id}")

    # -- reconcile --------------------------------------------------------------------
    def _start_reconcile(self, reason: str) -> asyncio.Future[Any]:
        return self._future(self._reconcile(reason), f"reconcile:{reason}")

    async def _reconcile(self, reason: str) -> int:
        """Bring local state in line with the venue: open orders, and every order we think is live."""
        fixes = 0
        kinds = {k.kind for k in self.instruments}
        venue_open: dict[str, Order] = {}
        for kind in kinds:
            for order in await self.adapter.get_open_orders(kind):
                venue_open[order.client_id] = order
        for order in venue_open.values():
            await self.tell(_Result(order, from_reply=False))
        for cid, order in list(self.orders.active.items()):
            if cid in venue_open or order.status is OrderStatus.PENDING:
                continue
            try:
                fresh = await self.adapter.get_order(order.key, client_id=cid)
            except xerr.OrderNotFound:
                continue
            if fresh.status != order.status or fresh.filled_qty != order.filled_qty:
                fixes += 1
            await self.tell(_Result(fresh, from_reply=False))
        self.reconciled_fixes += fixes
        if fixes:
            logger.info("order reconcile ({}): {} orders corrected", reason, fixes)
        return len(venue_open)

    async def _cancel_all(self) -> int:
        canceled = 0
        for order in list(self.orders.open_orders()):
            try:
                done = await self.adapter.cancel_order(order.key, client_id=order.client_id)
                await self.tell(_Result(done, from_reply=False))
                canceled += 1
            except xerr.ExchangeError as exc:
                logger.warning("cancel-on-exit {}: {}", order.client_id, exc)
        return canceled
