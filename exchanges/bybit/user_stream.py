"""Bybit private stream (§7): orders, fills, positions and the unified wallet as one async
iterator of :data:`~exchanges.base.UserEvent`.

``/v5/private``: ``auth`` first (``expires`` = venue time + ``auth_expires_ms``, signature
``HMAC(secret, "GET/realtime" + expires)``), then ``order``, ``execution``, ``position`` and
``wallet``. A refused auth is reported as a disconnected :class:`StreamStatus` (reason
``auth failed: ...``) and retried with backoff. Bybit sends no snapshot on subscribe, so a
``connected=True`` status whose reason starts with ``reconnected`` tells the runner to
reconcile over REST.

Nothing is dropped (``Overflow.BLOCK``): a slow consumer pushes back on the socket. Unknown or
malformed pushes are counted in ``errors`` (first sample of each kind logged) and skipped.
Fills are executions of type ``Trade`` and the liquidation-style ``AdlTrade``/``BustTrade``
(and ``BlockTrade``/``MovePosition``); ``Funding`` executions are funding payments; other types
(e.g. ``Settle``) and categories other than spot/linear are counted in ``ignored``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, OrderedDict
from collections.abc import AsyncGenerator, Iterable
from decimal import Decimal

import msgspec
from loguru import logger

from exchanges.base import AccountUpdate, ExecType, OrderUpdate, StreamStatus, UserEvent
from exchanges.credentials import Credentials
from exchanges.errors import MalformedPayload
from exchanges.transport.backoff import Backoff, ReconnectPacer
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.clock import ServerClock
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame, WsStats
from strategy_client.model import Exchange, MarketKind, Order

from .parse import KIND, SymbolMap, dec
from .signing import ws_auth_signature
from .ws import BybitWs
from .ws_parse import (
    PayloadError,
    order_after_fill,
    order_exec_type,
    parse_fill,
    parse_funding_execution,
    parse_order_ws,
    parse_position_ws,
    parse_wallet_ws,
)
from .ws_schemas import (
    EXECUTIONS_DECODER,
    ORDERS_DECODER,
    POSITIONS_DECODER,
    PUSH_DECODER,
    WALLETS_DECODER,
    ExecutionWs,
)

__all__ = ["BybitUserStream", "USER_STREAM", "TOPICS"]

USER_STREAM = "bybit:user"
TOPICS = ("order", "execution", "position", "wallet")
_TRADE_EXEC_TYPES = frozenset({"Trade", "AdlTrade", "BustTrade", "BlockTrade", "MovePosition"})
_ORDER_CACHE = 10_000
ZERO = Decimal(0)


class _OrderMemory:
    """The last ``order`` state and the fills seen per order id (bounded LRU)."""

    def __init__(self, size: int = _ORDER_CACHE) -> None:
        self._size = size
        self._orders: OrderedDict[str, tuple[Order | None, Decimal, Decimal]] = OrderedDict()

    def _put(self, order_id: str, value: tuple[Order | None, Decimal, Decimal]) -> None:
        self._orders[order_id] = value
        self._orders.move_to_end(order_id)
        while len(self._orders) > self._size:
            self._orders.popitem(last=False)

    def order(self, order_id: str) -> Order | None:
        return self._orders.get(order_id, (None, ZERO, ZERO))[0]

    def remember(self, order: Order) -> None:
        _, qty, value = self._orders.get(order.venue_id, (None, ZERO, ZERO))
        self._put(order.venue_id, (order, qty, value))

    def add_fill(self, order_id: str, qty: Decimal, value: Decimal) -> tuple[Decimal, Decimal]:
        known, q, v = self._orders.get(order_id, (None, ZERO, ZERO))
        q, v = q + qty, v + value
        self._put(order_id, (known, q, v))
        return q, v

    def forget_fills(self) -> None:
        """After a reconnect fills may have been missed: sums are no longer complete."""
        for order_id, (known, _, _) in list(self._orders.items()):
            self._orders[order_id] = (known, ZERO, ZERO)


class BybitUserStream:
    """The private stream as ``UserEvent``s (see the module doc)."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        clock: ServerClock,
        symbols: SymbolMap | None = None,
        *,
        settle_coins: Iterable[str] = ("USDT",),
        topics: Iterable[str] = TOPICS,
        auth_expires_ms: int = 10_000,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        ping_interval_s: float = 20.0,
        pong_timeout_s: float = 10.0,
        auth_timeout_s: float = 10.0,
    ) -> None:
        self._url = url
        self._credentials = credentials
        self._clock = clock
        self._symbols = symbols or SymbolMap()
        self._settles = set(settle_coins)
        self._topics = tuple(topics)
        self._auth_expires_ms = auth_expires_ms
        self._queue_size = queue_size
        self._backoff = backoff or Backoff()
        self._ping_interval_s = ping_interval_s
        self._pong_timeout_s = pong_timeout_s
        self._auth_timeout_s = auth_timeout_s
        self._rng = random.Random()
        self.errors = ErrorTally("bybit:user")
        self.ignored: Counter[str] = Counter()
        self._memory = _OrderMemory()
        self._ws: BybitWs | None = None
        self._running = False

    def stats(self) -> dict[str, WsStats]:
        return {USER_STREAM: self._ws.stats} if self._ws is not None else {}

    def pacers(self) -> dict[str, ReconnectPacer]:
        """The connection's reconnect pacing (attempt counter, delays chosen)."""
        return {USER_STREAM: self._ws.pacer} if self._ws is not None else {}

    def _auth_args(self) -> list[object]:
        expires = self._clock.now_ms() + self._auth_expires_ms
        return [self._credentials.api_key, expires, ws_auth_signature(self._credentials.api_secret, expires)]

    async def events(self) -> AsyncGenerator[UserEvent, None]:
        """Order updates, account updates and stream statuses until closed (never dropped)."""
        if self._running:
            raise RuntimeError("BybitUserStream.events() is already being iterated")
        self._running = True
        buffer: BoundedBuffer[Frame | StreamStatus] = BoundedBuffer(self._queue_size, Overflow.BLOCK)
        ws = BybitWs(
            USER_STREAM,
            self._url,
            topics=self._topics,
            auth=self._auth_args,
            buffer=buffer,
            backoff=self._backoff,
            ping_interval_s=self._ping_interval_s,
            ping_timeout_s=self._pong_timeout_s,
            login_timeout_s=self._auth_timeout_s,
            tally=self.errors,
            rng=self._rng,
        )
        self._ws = ws
        supervisor = asyncio.create_task(self._supervise(ws, buffer), name="bybit:user:supervisor")
        try:
            while True:
                item = await buffer.get()
                if isinstance(item, StreamStatus):
                    if item.connected and item.reason.startswith("reconnected"):
                        self._memory.forget_fills()
                    yield item
                    continue
                for event in self._translate(item):
                    yield event
        finally:
            supervisor.cancel()
            await asyncio.wait({supervisor})
            if not supervisor.cancelled() and supervisor.exception() is not None:
                logger.error("bybit user stream stopped: {!r}", supervisor.exception())
            self._running = False

    @staticmethod
    async def _supervise(ws: BybitWs, buffer: BoundedBuffer[Frame | StreamStatus]) -> None:
        try:
            await ws.run()
        except BaseException as exc:
            buffer.fail(exc if isinstance(exc, Exception) else RuntimeError(f"user stream stopped: {exc!r}"))
            raise

    # -- translation ---------------------------------------------------------------------------

    def _translate(self, frame: Frame) -> list[UserEvent]:
        try:
            push = PUSH_DECODER.decode(frame.data)
        except msgspec.ValidationError as exc:
            self.errors.record("push:malformed", frame.data, exc)
            return []
        except msgspec.DecodeError as exc:
            self.errors.record("push:not_json", frame.data, exc)
            return []
        topic = push.topic.split(".", 1)[0]
        try:
            if topic == "order":
                return self._orders(push.data, push.creationTime, frame.recv_ns)
            if topic == "execution":
                return self._executions(push.data, push.creationTime, frame.recv_ns)
            if topic == "position":
                return self._positions(push.data, push.creationTime, frame.recv_ns)
            if topic == "wallet":
                return self._wallets(push.data, push.creationTime, frame.recv_ns)
        except msgspec.ValidationError as exc:
            self.errors.record(f"{topic}:malformed", frame.data, exc)
            return []
        except msgspec.DecodeError as exc:
            self.errors.record(f"{topic}:not_json", frame.data, exc)
            return []
        except (MalformedPayload, PayloadError) as exc:
            self.errors.record(f"{topic}:{getattr(exc, 'kind', 'bad_value')}", frame.data, exc)
            return []
        self.ignored[push.topic] += 1
        return []

    def _kind(self, category: str) -> MarketKind | None:
        kind = KIND.get(category)
        if kind is None:
            self.ignored[f"category:{category}"] += 1
        return kind

    def _orders(self, raw: msgspec.Raw, ts_ms: int, recv_ns: int) -> list[UserEvent]:
        out: list[UserEvent] = []
        for item in ORDERS_DECODER.decode(raw):
            kind = self._kind(item.category)
            if kind is None:
                continue
            order = parse_order_ws(item, self._symbols.key(kind, item.symbol))
            self._memory.remember(order)
            out.append(
                OrderUpdate(order=order, exec_type=order_exec_type(order), venue_ts_ms=ts_ms, local_ts_ns=recv_ns)
            )
        return out

    def _executions(self, raw: msgspec.Raw, ts_ms: int, recv_ns: int) -> list[UserEvent]:
        out: list[UserEvent] = []
        for item in EXECUTIONS_DECODER.decode(raw):
            kind = self._kind(item.category)
            if kind is None:
                continue
            key = self._symbols.key(kind, item.symbol)
            if item.execType == "Funding":
                out.append(parse_funding_execution(item, key, ts_ms, recv_ns))
            elif item.execType in _TRADE_EXEC_TYPES:
                out.append(self._fill(item, kind, ts_ms, recv_ns))
            else:
                self.ignored[f"execType:{item.execType}"] += 1
        return out

    def _fill(self, item: ExecutionWs, kind: MarketKind, ts_ms: int, recv_ns: int) -> OrderUpdate:
        key = self._symbols.key(kind, item.symbol)
        fill = parse_fill(item, key)
        qty, value = self._memory.add_fill(item.orderId, fill.qty, dec(item.execValue, f"execution {item.execId}"))
        order = order_after_fill(item, key, self._memory.order(item.orderId), qty, value)
        return OrderUpdate(order=order, exec_type=ExecType.TRADE, fill=fill, venue_ts_ms=ts_ms, local_ts_ns=recv_ns)

    def _positions(self, raw: msgspec.Raw, ts_ms: int, recv_ns: int) -> list[UserEvent]:
        positions = []
        for item in POSITIONS_DECODER.decode(raw):
            if item.category != "linear" or item.positionIdx != 0:
                self.ignored[f"position:{item.category}:{item.positionIdx}"] += 1
                continue
            positions.append(parse_position_ws(item, self._symbols.key(MarketKind.PERP, item.symbol), ts_ms))
        if not positions:
            return []
        return [
            AccountUpdate(
                exchange=Exchange.BYBIT,
                kind=MarketKind.PERP,
                reason="position",
                positions=tuple(positions),
                venue_ts_ms=ts_ms,
                local_ts_ns=recv_ns,
            )
        ]

    def _wallets(self, raw: msgspec.Raw, ts_ms: int, recv_ns: int) -> list[UserEvent]:
        return [
            parse_wallet_ws(w, self._settles, ts_ms, recv_ns)
            for w in WALLETS_DECODER.decode(raw)
            if w.accountType in ("UNIFIED", "")
        ]
