"""OKX private data (orders, fills, positions, balances) as one async iterator of
:data:`~exchanges.base.UserEvent` (reference §7).

The channels ride the adapter's private socket (:class:`~exchanges.okx.private.OkxPrivateSocket`:
``login``, re-done on every reconnect before the subscriptions are replayed): while the
iterator runs it subscribes ``orders`` (``instType`` ANY), ``positions`` (SWAP) and ``account``,
the last two with ``extraParams`` ``{"updateInterval":"0"}`` (event pushes only; the runner
reconciles over REST), and unsubscribes when it is closed. Translations:

* ``orders`` → :class:`~exchanges.base.OrderUpdate`: a push with ``fillSz`` > 0 is a TRADE with
  its :class:`Fill` (fees made positive-when-paid), ``live`` NEW, ``canceled`` CANCELED — or
  EXPIRED when the venue ended it (``cancelSource`` 13 FOK, 14 IOC, 31 post-only, 32 STP...).
  Duplicate fills (same ``instId``/``tradeId``) are dropped, as OKX may repeat pushes;
* ``positions`` → :class:`~exchanges.base.AccountUpdate` (kind perp) with the positions in base
  units (``pos`` "0" = closed); a change of a position's accumulated ``fundingFee`` is a settled
  funding payment (``reason`` ``funding_fee``, :class:`FundingPayment` in ``funding``);
* ``account`` → :class:`~exchanges.base.AccountUpdate` with balances and the swaps' margin.

Every connect/disconnect is yielded as a :class:`~exchanges.base.StreamStatus` (``okx:user``; a
socket already up when the iterator starts is reported ``connected`` first); a
``connected=True`` status whose reason starts with ``reconnected`` means events may have been
missed. A refused login is reported as ``login failed: <code> <msg>`` and retried with backoff.
Nothing is ever dropped (``Overflow.BLOCK``). Malformed pushes are counted in ``errors`` and
skipped.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from decimal import Decimal

import msgspec
from loguru import logger

from exchanges.base import AccountUpdate, ExecType, OrderUpdate, StreamStatus, UserEvent
from exchanges.errors import MalformedPayload
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame, WsStats
from strategy_client.model import Exchange, FundingPayment, MarketKind, OrderStatus, Position

from .parse import dec_or, is_system_cancel, parse_balances, parse_fill, parse_margin, parse_order, parse_position
from .private import PRIVATE_STREAM, OkxPrivateSocket
from .rest_schemas import OkxOrder, PositionInfo
from .symbols import SymbolMap
from .ws_schemas import decode_account, decode_head, decode_orders, decode_positions

__all__ = ["OkxUserStream", "USER_STREAM", "USER_SUBSCRIPTIONS"]

USER_STREAM = PRIVATE_STREAM
_EVENTS_ONLY = '{"updateInterval":"0"}'
USER_SUBSCRIPTIONS: tuple[dict[str, str], ...] = (
    {"channel": "orders", "instType": "ANY"},
    {"channel": "positions", "instType": "SWAP", "extraParams": _EVENTS_ONLY},
    {"channel": "account", "extraParams": _EVENTS_ONLY},
)
_SEEN_FILLS = 10_000


class OkxUserStream:
    """Orders, positions and balances of one OKX account (see the module doc)."""

    def __init__(self, socket: OkxPrivateSocket, symbols: Callable[[], SymbolMap], *, queue_size: int = 10_000) -> None:
        self.socket = socket
        self._symbols = symbols
        self._queue_size = queue_size
        self.errors = ErrorTally("okx:user")
        self._seen_fills: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._funding_fees: dict[str, tuple[str, Decimal]] = {}
        self.duplicates = 0
        self._running = False

    def stats(self) -> WsStats:
        return self.socket.stats()

    async def events(self) -> AsyncGenerator[UserEvent, None]:
        if self._running:
            raise RuntimeError("OkxUserStream.events() is already being iterated")
        self._running = True
        out: BoundedBuffer[UserEvent] = BoundedBuffer(self._queue_size, Overflow.BLOCK)
        task = asyncio.create_task(self._supervise(out), name=f"{USER_STREAM}:supervisor")
        try:
            while True:
                yield await out.get()
        finally:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                logger.error("okx user stream stopped: {!r}", task.exception())
            self._running = False

    async def _supervise(self, out: BoundedBuffer[UserEvent]) -> None:
        try:
            source = await self.socket.attach(USER_SUBSCRIPTIONS)
            try:
                await self._pump(source, out)
            finally:
                await self.socket.detach()
        except BaseException as exc:
            out.fail(exc if isinstance(exc, Exception) else RuntimeError(f"user stream stopped: {exc!r}"))
            raise

    async def _pump(self, source: BoundedBuffer[Frame | StreamStatus], out: BoundedBuffer[UserEvent]) -> None:
        while True:
            item = await source.get()
            if isinstance(item, StreamStatus):
                await out.put(item)
                continue
            for event in self._translate(item):
                await out.put(event)

    def _translate(self, frame: Frame) -> list[UserEvent]:
        data = frame.data
        try:
            head = decode_head(data)
            channel = head.arg.channel if head.arg is not None else ""
            if channel == "orders":
                return self._orders(data, frame.recv_ns)
            if channel == "positions":
                return self._positions(data, frame.recv_ns)
            if channel == "account":
                return self._account(data, frame.recv_ns)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.errors.record("malformed", data, exc)
            return []
        except MalformedPayload as exc:
            self.errors.record(f"malformed:{channel}", data, exc)
            return []
        if head.op:
            self.errors.record(f"unexpected-op:{head.op}", data)
        else:
            self.errors.record(f"unexpected:{channel or '?'}", data)
        return []

    def _orders(self, data: bytes, recv_ns: int) -> list[UserEvent]:
        symbols = self._symbols()
        out: list[UserEvent] = []
        for raw in decode_orders(data).data:
            try:
                order = parse_order(raw, symbols)
                fill = parse_fill(raw, order, symbols)
            except MalformedPayload as exc:
                self.errors.record("orders:item", msgspec.json.encode(raw), exc)
                continue
            if fill is not None:
                key = (raw.instId, fill.trade_id + "/" + raw.ordId)
                if key in self._seen_fills:
                    self.duplicates += 1
                    continue
                self._seen_fills[key] = None
                if len(self._seen_fills) > _SEEN_FILLS:
                    self._seen_fills.popitem(last=False)
            out.append(
                OrderUpdate(
                    order=order,
                    exec_type=_exec_type(raw, order.status, fill is not None),
                    fill=fill,
                    venue_ts_ms=order.updated_ts_ms,
                    local_ts_ns=recv_ns,
                )
            )
        return out

    def _positions(self, data: bytes, recv_ns: int) -> list[UserEvent]:
        msg = decode_positions(data)
        symbols = self._symbols()
        positions = []
        payments = []
        for raw in msg.data:
            pos = parse_position(raw, symbols)
            if pos is None:
                continue
            positions.append(pos)
            payment = self._funding_payment(raw, pos, msg.eventType == "snapshot")
            if payment is not None:
                payments.append(payment)
        if not positions:
            return []
        ts = max(p.updated_ts_ms for p in positions)
        reason = "snapshot" if msg.eventType == "snapshot" else "funding_fee" if payments else "order"
        return [
            AccountUpdate(
                exchange=Exchange.OKX,
                kind=MarketKind.PERP,
                reason=reason,
                positions=tuple(positions),
                funding=tuple(payments),
                venue_ts_ms=ts,
                local_ts_ns=recv_ns,
            )
        ]

    def _funding_payment(self, raw: PositionInfo, pos: Position, snapshot: bool) -> FundingPayment | None:
        """A settled payment, seen as a change of the position's accumulated ``fundingFee``
        (same position: same ``cTime``). Snapshots only set the baseline."""
        fee = dec_or(raw.fundingFee, "fundingFee")
        life = raw.cTime or raw.instId
        known = self._funding_fees.get(raw.instId)
        self._funding_fees[raw.instId] = (life, fee)
        if snapshot or known is None or known[0] != life or fee == known[1]:
            return None
        return FundingPayment(key=pos.key, amount=fee - known[1], asset=raw.ccy or "USDT", ts_ms=pos.updated_ts_ms)

    def _account(self, data: bytes, recv_ns: int) -> list[UserEvent]:
        msg = decode_account(data)
        settle = {i.settle for i in self._symbols().of_kind(MarketKind.PERP)}
        out: list[UserEvent] = []
        for bal in msg.data:
            out.append(
                AccountUpdate(
                    exchange=Exchange.OKX,
                    kind=MarketKind.SPOT,
                    reason="snapshot" if msg.eventType == "snapshot" else "order",
                    balances=parse_balances(bal),
                    margin=parse_margin(bal, settle),
                    venue_ts_ms=int(bal.uTime) if bal.uTime.isdigit() else 0,
                    local_ts_ns=recv_ns,
                )
            )
        return out


def _exec_type(raw: OkxOrder, status: OrderStatus, has_fill: bool) -> ExecType:
    if has_fill or status is OrderStatus.FILLED:
        return ExecType.TRADE
    if raw.state == "canceled" or raw.state == "mmp_canceled":
        return ExecType.EXPIRED if is_system_cancel(raw) else ExecType.CANCELED
    if raw.state == "live":
        return ExecType.NEW
    return ExecType.AMENDED
