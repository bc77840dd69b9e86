"""Binance user data (orders, fills, balances, positions) for spot and USD-M futures, merged
into one async iterator of :data:`~exchanges.base.UserEvent`.

**Futures** (§7): a listenKey from ``rest.create_listen_key()`` before every connect (POST
returns the active key extended, or a new one), ``{futures_ws}/private/ws?listenKey=<k>&events=…``
(or ``/private/ws/<k>``), ``PUT`` keepalive every 30 min. The key is re-created when the stream
says ``listenKeyExpired`` (its ``E`` may be a string), when the keepalive answers -1125 /
:class:`~exchanges.errors.ListenKeyExpired`, and after any close (pitfall §11.2: an expired key
leaves a silent open socket, so we never wait for events to notice).

**The listenKey is shared, so it is never deleted on exit.** Binance gives the *same* key to
every ``POST /listenKey`` of one API key while it is valid: two runners (or a runner and a
script) on one account hold one key, and a ``DELETE`` by either closes the other's stream.
On exit we therefore leave the key to expire (60 min after the last keepalive); whoever is
still running keeps it alive. ``delete_key_on_close=True`` restores the old behaviour for a
caller that knows it owns the account alone.

**Spot** (§8): ``userDataStream.subscribe.signature`` on a dedicated WS-API connection
(:class:`~exchanges.binance.ws_api.BinanceWsApi`), re-subscribed after every reconnect and after
``eventStreamTerminated``; ``executionReport`` → :class:`~exchanges.base.OrderUpdate`,
``outboundAccountPosition`` → :class:`~exchanges.base.AccountUpdate`.

**Statuses**: every connect/disconnect is yielded as a :class:`~exchanges.base.StreamStatus`
(``binance:perp:user`` / ``binance:spot:user``). A ``connected=True`` status whose reason starts
with ``reconnected`` means events may have been missed: the order manager
reconciles over REST. Spot reports ``connected`` only once the subscription is live.

Nothing is ever dropped (``Overflow.BLOCK``): a slow consumer pushes back on the sockets.
Unknown or malformed events are counted in ``errors`` (first sample of each kind logged) and
skipped; event types we deliberately ignore (``TRADE_LITE``, ``balanceUpdate``...) are
counted in ``ignored``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Literal, Protocol
from urllib.parse import quote

import msgspec
from loguru import logger

from exchanges.base import StreamStatus, UserEvent
from exchanges.credentials import Credentials
from exchanges.errors import ExchangeError, ListenKeyExpired, UnknownOutcome
from exchanges.transport.backoff import Backoff, ReconnectPacer
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.clock import ServerClock
from exchanges.transport.ratelimit import SharedBudget
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame, WsStats

from .urls import BinanceUrls
from .ws import BinanceWs
from .ws_api import BinanceWsApi, WsApiItem
from .ws_parse import (
    PayloadError,
    listen_key_expired_ms,
    parse_account_config_update,
    parse_account_update,
    parse_execution_report,
    parse_margin_call,
    parse_order_trade_update,
    parse_outbound_account_position,
)
from .ws_schemas import (
    FUTURES_IGNORED_EVENTS,
    SPOT_IGNORED_EVENTS,
    AccountConfigUpdate,
    AccountUpdateEvent,
    BalanceUpdate,
    Combined,
    EventStreamTerminated,
    EventTag,
    ExecutionReport,
    FuturesUserEvent,
    ListenKeyExpiredEvent,
    MarginCallEvent,
    OrderTradeUpdate,
    OutboundAccountPosition,
    ServerShutdown,
    SpotUserEvent,
    SubscribeResult,
    TradeLite,
)

__all__ = ["ListenKeyApi", "BinanceUserStreams", "FUTURES_EVENTS", "FUTURES_STREAM", "SPOT_STREAM"]

FUTURES_STREAM = "binance:perp:user"
SPOT_STREAM = "binance:spot:user"
#: Event types requested with ``events=`` on the futures private endpoint.
FUTURES_EVENTS = (
    "ORDER_TRADE_UPDATE",
    "ACCOUNT_UPDATE",
    "MARGIN_CALL",
    "ACCOUNT_CONFIG_UPDATE",
    "listenKeyExpired",
)

_decode_futures: Callable[[bytes], FuturesUserEvent] = msgspec.json.Decoder(FuturesUserEvent).decode
_decode_futures_combined = msgspec.json.Decoder(Combined[msgspec.Raw]).decode
_decode_spot: Callable[[bytes], SpotUserEvent] = msgspec.json.Decoder(SpotUserEvent).decode
_decode_tag = msgspec.json.Decoder(EventTag).decode
_decode_subscribe = msgspec.json.Decoder(SubscribeResult).decode


class ListenKeyApi(Protocol):
    """The three listenKey calls of the futures REST client (``exchanges/binance/rest.py``)."""

    async def create_listen_key(self) -> str: ...
    async def keepalive_listen_key(self, key: str) -> None: ...
    async def delete_listen_key(self, key: str) -> None: ...


class BinanceUserStreams:
    """Spot + futures user data as one stream of ``UserEvent`` (see the module doc)."""

    def __init__(
        self,
        rest: ListenKeyApi,
        urls: BinanceUrls,
        credentials: Credentials,
        clock: ServerClock,
        *,
        spot: bool = True,
        futures: bool = True,
        keepalive_interval_s: float = 30 * 60.0,
        keepalive_retry_s: float = 60.0,
        listen_key_in: Literal["query", "path"] = "query",
        futures_events: Sequence[str] = FUTURES_EVENTS,
        delete_key_on_close: bool = False,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        max_lifetime_s: float | None = 23.5 * 3600,
        subscribe_timeout_s: float = 10.0,
        spot_budget: SharedBudget | None = None,
    ) -> None:
        if not (spot or futures):
            raise ValueError("enable at least one of spot and futures")
        self._rest = rest
        self._urls = urls
        self._credentials = credentials
        self._clock = clock
        self._spot = spot
        self._futures = futures
        self._keepalive_interval_s = keepalive_interval_s
        self._keepalive_retry_s = keepalive_retry_s
        self._listen_key_in = listen_key_in
        self._futures_events = tuple(futures_events)
        self._delete_key_on_close = delete_key_on_close
        self._queue_size = queue_size
        self._backoff = backoff or Backoff()
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._max_lifetime_s = max_lifetime_s
        self._subscribe_timeout_s = subscribe_timeout_s
        # the spot REST host's shared budget: the subscription counts in it (one quota with REST)
        # and a 418/429 answering it pauses every process of the scope, as any other request's
        self._spot_budget = spot_budget
        self._rng = random.Random()
        self.errors = ErrorTally("binance:user")
        self.ignored: Counter[str] = Counter()
        self.listen_keys_created = 0
        self._listen_key: str | None = None
        self._futures_ws: BinanceWs | None = None
        self._spot_api: BinanceWsApi | None = None
        self._spot_need_subscribe = asyncio.Event()
        self._spot_subscriptions = 0
        self.spot_subscription_id: int | None = None
        self._running = False

    # -- introspection -------------------------------------------------------------------------

    @property
    def listen_key(self) -> str | None:
        return self._listen_key

    def pacers(self) -> dict[str, ReconnectPacer]:
        """Each live connection's reconnect pacing (attempt counter, delays chosen)."""
        out: dict[str, ReconnectPacer] = {}
        if self._futures_ws is not None:
            out[FUTURES_STREAM] = self._futures_ws.pacer
        if self._spot_api is not None:
            out[SPOT_STREAM] = self._spot_api.pacer
        return out

    def stats(self) -> dict[str, WsStats]:
        out: dict[str, WsStats] = {}
        if self._futures_ws is not None:
            out[FUTURES_STREAM] = self._futures_ws.stats
        if self._spot_api is not None:
            out[SPOT_STREAM] = self._spot_api.stats
        return out

    # -- the iterator --------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[UserEvent, None]:
        """Order updates, account updates and stream statuses until closed (never dropped)."""
        if self._running:
            raise RuntimeError("BinanceUserStreams.events() is already being iterated")
        self._running = True
        self._spot_need_subscribe = asyncio.Event()
        self._spot_subscriptions = 0
        out: BoundedBuffer[UserEvent] = BoundedBuffer(self._queue_size, Overflow.BLOCK)
        supervisor = asyncio.create_task(self._supervise(out), name="binance:user:supervisor")
        try:
            while True:
                yield await out.get()
        finally:
            supervisor.cancel()
            await asyncio.wait({supervisor})
            if not supervisor.cancelled() and supervisor.exception() is not None:
                logger.error("binance user streams stopped: {!r}", supervisor.exception())
            self._running = False

    async def _supervise(self, out: BoundedBuffer[UserEvent]) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                if self._futures:
                    ws = BinanceWs(
                        FUTURES_STREAM,
                        self._futures_url,
                        overflow=Overflow.BLOCK,
                        queue_size=self._queue_size,
                        backoff=self._backoff,
                        tally=self.errors,
                        ping_interval_s=self._ping_interval_s,
                        ping_timeout_s=self._ping_timeout_s,
                        max_lifetime_s=self._max_lifetime_s,
                    )
                    self._futures_ws = ws
                    tg.create_task(ws.run(), name=f"{FUTURES_STREAM}:connection")
                    tg.create_task(self._futures_pump(ws, out), name=f"{FUTURES_STREAM}:pump")
                    tg.create_task(self._keepalive(ws), name=f"{FUTURES_STREAM}:keepalive")
                if self._spot:
                    sink: BoundedBuffer[WsApiItem] = BoundedBuffer(self._queue_size, Overflow.BLOCK)
                    api = BinanceWsApi(
                        self._urls.spot_ws_api,
                        self._credentials,
                        self._clock,
                        product="spot",
                        event_sink=sink,
                        name=SPOT_STREAM,
                        backoff=self._backoff,
                        ping_interval_s=self._ping_interval_s,
                        ping_timeout_s=self._ping_timeout_s,
                        max_lifetime_s=self._max_lifetime_s,
                        budget=self._spot_budget,
                    )
                    self._spot_api = api
                    tg.create_task(api.run(), name=f"{SPOT_STREAM}:ws-api")
                    tg.create_task(self._spot_pump(api, sink, out), name=f"{SPOT_STREAM}:pump")
                    tg.create_task(self._spot_subscriber(api, out), name=f"{SPOT_STREAM}:subscriber")
        except BaseException as exc:
            out.fail(exc if isinstance(exc, Exception) else RuntimeError(f"user streams stopped: {exc!r}"))
            raise
        finally:
            await self._delete_listen_key()

    # -- futures -------------------------------------------------------------------------------

    async def _futures_url(self) -> str:
        key = await self._rest.create_listen_key()
        if key != self._listen_key:
            self.listen_keys_created += 1
            logger.info("{}: using listenKey {}…", FUTURES_STREAM, key[:6])
        self._listen_key = key
        base = self._urls.futures_ws + "/private/ws"
        if self._listen_key_in == "path":
            return f"{base}/{quote(key, safe='')}"
        return f"{base}?listenKey={quote(key, safe='')}&events={'/'.join(self._futures_events)}"

    async def _keepalive(self, ws: BinanceWs) -> None:
        delay = self._keepalive_interval_s
        while True:
            await asyncio.sleep(delay)
            delay = self._keepalive_interval_s
            key = self._listen_key
            if key is None or not ws.connected:
                continue
            try:
                await self._rest.keepalive_listen_key(key)
            except ListenKeyExpired as exc:
                logger.warning("{}: keepalive says the listenKey is gone ({}); re-creating", FUTURES_STREAM, exc)
                self._listen_key = None
                ws.request_reconnect("listenKey unknown (-1125)")
            except ExchangeError as exc:
                if exc.venue_code == -1125:
                    self._listen_key = None
                    ws.request_reconnect("listenKey unknown (-1125)")
                else:
                    logger.warning("{}: listenKey keepalive failed: {}", FUTURES_STREAM, exc)
                    delay = self._keepalive_retry_s
            except Exception as exc:  # noqa: BLE001 - the keepalive loop outlives any one failure: retried
                logger.warning("{}: listenKey keepalive failed: {!r}", FUTURES_STREAM, exc)
                delay = self._keepalive_retry_s

    async def _delete_listen_key(self) -> None:
        key, self._listen_key = self._listen_key, None
        if key is None or not self._delete_key_on_close:
            return
        try:
            async with asyncio.timeout(3.0):
                await self._rest.delete_listen_key(key)
        except Exception as exc:  # noqa: BLE001 - best effort on the way out: the key expires anyway
            logger.debug("{}: could not delete listenKey: {!r}", FUTURES_STREAM, exc)

    def _decode_futures_event(self, data: bytes) -> FuturesUserEvent | None:
        try:
            if data.startswith(b'{"stream"'):
                data = bytes(_decode_futures_combined(data).data)
            return _decode_futures(data)
        except msgspec.ValidationError as exc:
            self._unknown_or_bad(data, exc, FUTURES_IGNORED_EVENTS, "futures")
        except msgspec.DecodeError as exc:
            self.errors.record("futures:not_json", data, exc)
        return None

    def _unknown_or_bad(self, data: bytes, exc: Exception, ignored: frozenset[str], product: str) -> None:
        try:
            event_type = _decode_tag(data).e
        except msgspec.DecodeError:
            event_type = ""
        if event_type in ignored:
            self.ignored[event_type] += 1
        elif str(exc).endswith("`$.e`") and event_type:
            self.errors.record(f"{product}:unknown:{event_type}", data, exc)
        else:
            self.errors.record(f"{product}:malformed:{event_type or '?'}", data, exc)

    async def _futures_pump(self, ws: BinanceWs, out: BoundedBuffer[UserEvent]) -> None:
        while True:
            item = await ws.buffer.get()
            if isinstance(item, StreamStatus):
                await out.put(item)
                continue
            event = self._decode_futures_event(item.data)
            if event is None:
                continue
            try:
                parsed = self._translate_futures(event, item, ws)
            except PayloadError as exc:
                self.errors.record(f"futures:{exc.kind}", item.data, exc)
                continue
            if parsed is not None:
                await out.put(parsed)

    def _translate_futures(self, event: FuturesUserEvent, frame: Frame, ws: BinanceWs) -> UserEvent | None:
        if isinstance(event, OrderTradeUpdate):
            return parse_order_trade_update(event, frame.recv_ns)
        if isinstance(event, AccountUpdateEvent):
            return parse_account_update(event, frame.recv_ns)
        if isinstance(event, ListenKeyExpiredEvent):
            logger.warning(
                "{}: listenKeyExpired at {} for {}…; re-creating the key",
                FUTURES_STREAM,
                listen_key_expired_ms(event),
                event.listenKey[:6],
            )
            self._listen_key = None
            ws.request_reconnect("listenKeyExpired")
            return None
        if isinstance(event, MarginCallEvent):
            logger.warning("{}: MARGIN_CALL for {}", FUTURES_STREAM, [p.s for p in event.p])
            return parse_margin_call(event, frame.recv_ns)
        if isinstance(event, AccountConfigUpdate):
            return parse_account_config_update(event, frame.recv_ns)
        if isinstance(event, TradeLite):
            self.ignored["TRADE_LITE"] += 1
            return None
        raise PayloadError("futures:unhandled", f"unhandled event {type(event).__name__}")

    # -- spot ----------------------------------------------------------------------------------

    async def _spot_pump(
        self, api: BinanceWsApi, sink: BoundedBuffer[WsApiItem], out: BoundedBuffer[UserEvent]
    ) -> None:
        while True:
            item = await sink.get()
            if isinstance(item, StreamStatus):
                if item.connected:
                    self._spot_need_subscribe.set()  # "connected" is reported once subscribed
                else:
                    self.spot_subscription_id = None
                    await out.put(
                        StreamStatus(stream=SPOT_STREAM, connected=False, reason=item.reason, ts_ns=item.ts_ns)
                    )
                continue
            try:
                event = _decode_spot(item.data)
            except msgspec.ValidationError as exc:
                self._unknown_or_bad(item.data, exc, SPOT_IGNORED_EVENTS, "spot")
                continue
            except msgspec.DecodeError as exc:
                self.errors.record("spot:not_json", item.data, exc)
                continue
            try:
                parsed = await self._translate_spot(event, item, api)
            except PayloadError as exc:
                self.errors.record(f"spot:{exc.kind}", item.data, exc)
                continue
            if parsed is not None:
                await out.put(parsed)

    async def _translate_spot(self, event: SpotUserEvent, frame: Frame, api: BinanceWsApi) -> UserEvent | None:
        if isinstance(event, ExecutionReport):
            return parse_execution_report(event, frame.recv_ns)
        if isinstance(event, OutboundAccountPosition):
            return parse_outbound_account_position(event, frame.recv_ns)
        if isinstance(event, BalanceUpdate):
            self.ignored["balanceUpdate"] += 1  # absolute balances follow in outboundAccountPosition
            return None
        if isinstance(event, EventStreamTerminated):
            logger.warning("{}: eventStreamTerminated; re-subscribing", SPOT_STREAM)
            self.spot_subscription_id = None
            self._spot_need_subscribe.set()
            return StreamStatus(
                stream=SPOT_STREAM, connected=False, reason="eventStreamTerminated", ts_ns=time.time_ns()
            )
        if isinstance(event, ServerShutdown):
            api.request_reconnect("serverShutdown")
            return None
        raise PayloadError("spot:unhandled", f"unhandled event {type(event).__name__}")

    async def _spot_subscriber(self, api: BinanceWsApi, out: BoundedBuffer[UserEvent]) -> None:
        attempt = 0
        while True:
            await self._spot_need_subscribe.wait()
            self._spot_need_subscribe.clear()
            if not api.connected:
                continue
            generation = api.generation
            try:
                raw = await api.request("userDataStream.subscribe.signature", {}, timeout_s=self._subscribe_timeout_s)
                result = _decode_subscribe(raw)
            except UnknownOutcome as exc:
                # The subscription may exist on this connection: start clean on a new one.
                logger.warning("{}: subscribe outcome unknown ({}); reconnecting", SPOT_STREAM, exc)
                api.request_reconnect("subscribe outcome unknown")
                continue
            except (ExchangeError, msgspec.DecodeError) as exc:
                attempt += 1
                delay = self._backoff.delay(attempt, self._rng)
                logger.warning("{}: subscribe failed ({}); retrying in {:.1f}s", SPOT_STREAM, exc, delay)
                await asyncio.sleep(delay)
                if api.connected and api.generation == generation:
                    self._spot_need_subscribe.set()
                continue
            attempt = 0
            self.spot_subscription_id = result.subscriptionId
            self._spot_subscriptions += 1
            reason = (
                f"connected: subscribed (subscriptionId {result.subscriptionId})"
                if self._spot_subscriptions == 1
                else f"reconnected: subscribed again (subscriptionId {result.subscriptionId}); "
                "events may have been missed"
            )
            logger.info("{}: {}", SPOT_STREAM, reason)
            await out.put(StreamStatus(stream=SPOT_STREAM, connected=True, reason=reason, ts_ns=time.time_ns()))
