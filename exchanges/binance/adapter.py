"""``BinanceAdapter``: Binance Spot + USD-M perpetuals behind :class:`exchanges.base.ExchangeAdapter`.

* REST (``rest.py``) for reads; place/cancel over the WS-API when it is connected, REST
  otherwise (also when the WS-API says it sent nothing).
* ``place_order`` always sends a client id. After an unknown outcome (timeout, 5xx, dropped
  connection, -1000/-1006/-1007) or a duplicate-id answer (-4116, -2010 "Duplicate order
  sent.") it queries the order by client id a few times. Found → that order. Not found → on
  futures, once the request's ``timestamp + recvWindow`` has passed on the venue clock the
  matching engine can no longer accept it (it answers -5028), so "not found" is then certain
  and the order is returned as REJECTED (``reject_reason`` says why); on spot no such
  guarantee is documented, so the adapter raises :class:`UnknownOutcome`. It never resends.
* Market and user streams are delegated to ``market_stream.py`` / ``user_stream.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

import httpx
from loguru import logger as log

from exchanges.account_times import AccountAsOf
from exchanges.base import BookSink, FundingRateRecord, MarketSink, StreamStatus, UserEvent
from exchanges.credentials import Credentials
from exchanges.errors import (
    AuthError,
    DuplicateClientId,
    ExchangeError,
    InvalidRequest,
    MalformedPayload,
    OrderNotFound,
    TimestampOutOfWindow,
    TransportError,
    UnknownOutcome,
)
from exchanges.placement import TRANSIENT as _TRANSIENT
from exchanges.placement import foreign_id_detail, not_placed, order_matches, outcome_unknown, search_placed
from exchanges.transport.clock import ServerClock
from exchanges.transport.http import keep_clock_fresh
from exchanges.transport.push import log_status, run_connections
from strategy_client.model import (
    AccountSnapshot,
    Exchange,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    Position,
)

from .depth_stream import BinanceDepthBooks
from .errors import Product
from .funding_income import FundingIncome, with_funding_income
from .market_stream import BinanceMarketStreams
from .parse import (
    DEFAULT_FUNDING_INTERVAL_MS,
    funding_intervals,
    futures_order_params,
    parse_account,
    parse_depth,
    parse_funding_rate,
    parse_funding_record,
    parse_futures_order,
    parse_perp_instruments,
    parse_positions,
    parse_spot_instruments,
    parse_spot_order,
    spot_order_params,
)
from .rest import FUTURES_DEPTH_LIMITS, SPOT_DEPTH_LIMIT_MAX, BinanceRestClient
from .rest_schemas import FUTURES_ORDER_DECODER, SPOT_ORDER_DECODER, Depth, FuturesOrder, SpotOrder
from .tape import BinanceTape
from .urls import BinanceUrls
from .user_stream import BinanceUserStreams
from .ws_api import BinanceWsApi

__all__ = [
    "BinanceAdapter",
    "ClientIdFactory",
    "CLIENT_ID_RE",
    "WsApiClient",
    "WsApiFactory",
]

CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
# after timestamp + recvWindow the futures engine refuses the request; margin for clock error
_CERTAINTY_SLACK_MS = 1000


def _b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


class ClientIdFactory:
    """Collision-safe client order ids: ``<prefix>-<session>-<ms base36>-<counter base36>``.

    ``session`` is 40 random bits chosen per factory (per process), the counter makes ids
    unique within it and the time keeps them unique across restarts. At most 36 characters
    from Binance's alphabet ``[.A-Z:/a-z0-9_-]``.
    """

    def __init__(self, prefix: str = "tb", *, wall_ms: Callable[[], int] | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.]{1,8}", prefix):
            raise ValueError(f"client id prefix must be 1-8 chars of [A-Za-z0-9_.], got {prefix!r}")
        self._prefix = prefix
        self._session = secrets.token_hex(5)
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._counter = itertools.count()

    def __call__(self) -> str:
        cid = f"{self._prefix}-{self._session}-{_b36(self._wall_ms())}-{_b36(next(self._counter))}"
        return cid[:36]


class WsApiClient(Protocol):
    """What the adapter needs from ``ws_api.BinanceWsApi``."""

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def request(
        self, method: str, params: dict[str, object], *, signed: bool = True, timeout_s: float = 5.0
    ) -> bytes: ...

    def rehearse(self, method: str, params: dict[str, object], *, signed: bool = True) -> int: ...


WsApiFactory = Callable[[str, Credentials, ServerClock, Product], WsApiClient]


def _default_ws_api(url: str, credentials: Credentials, clock: ServerClock, product: Product) -> WsApiClient:
    return BinanceWsApi(url, credentials, clock, product=product)


def _product(key: InstrumentKey) -> Product:
    if key.exchange is not Exchange.BINANCE:
        raise InvalidRequest(f"{key} is not a Binance instrument", venue="binance")
    return "spot" if key.kind is MarketKind.SPOT else "futures"


class BinanceAdapter:
    """Binance Spot + USD-M perps as one :class:`exchanges.base.ExchangeAdapter`."""

    exchange = Exchange.BINANCE

    def __init__(
        self,
        urls: BinanceUrls,
        credentials: Credentials | None,
        *,
        use_ws_api: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: ServerClock | None = None,
        rest: BinanceRestClient | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        ws_api_factory: WsApiFactory | None = None,
        ws_api_connect_timeout_s: float = 5.0,
        ws_api_timeout_s: float = 5.0,
        reconcile_attempts: int = 4,
        reconcile_backoff_s: float = 0.2,
        certainty_wait_max_s: float = 8.0,
        clock_refresh_s: float = 120.0,
        funding_info_ttl_s: float = 600.0,
        client_ids: Callable[[], str] | None = None,
        on_stream_status: Callable[[StreamStatus], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = urls
        self._credentials = credentials
        self.rest = rest or BinanceRestClient(
            urls,
            credentials,
            transport=transport,
            clock=clock,
            timeout_s=timeout_s,
            max_retries=max_retries,
            sleep=sleep,
            monotonic=monotonic,
        )
        self.clock = self.rest.clock
        self._use_ws_api = use_ws_api and credentials is not None
        self._ws_api_factory = ws_api_factory or _default_ws_api
        self._ws_api_connect_timeout_s = ws_api_connect_timeout_s
        self._ws_api_timeout_s = ws_api_timeout_s
        self.ws_api: dict[Product, WsApiClient] = {}
        self._reconcile_attempts = reconcile_attempts
        self._reconcile_backoff_s = reconcile_backoff_s
        self._certainty_wait_max_s = certainty_wait_max_s
        self._clock_refresh_s = clock_refresh_s
        self._funding_info_ttl_s = funding_info_ttl_s
        self._new_client_id = client_ids or ClientIdFactory()
        self._sleep = sleep
        self._monotonic = monotonic
        self._instruments: dict[InstrumentKey, Instrument] = {}
        self._funding_intervals: dict[str, int] = {}
        self._funding_loaded_at: float | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.market = BinanceMarketStreams(urls, on_status=on_stream_status)
        self.tape = BinanceTape(urls, on_status=on_stream_status or log_status)
        self.depth = BinanceDepthBooks(urls, self._depth_snapshot, on_status=on_stream_status or log_status)
        self.dropped: Counter[str] = Counter()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Measure the clock, load instruments, connect the WS-API (REST covers until it is up)."""
        await self.rest.start()
        await self.load_instruments()
        if self._use_ws_api and self._credentials is not None:
            endpoints: tuple[tuple[Product, str], ...] = (
                ("spot", self.urls.spot_ws_api),
                ("futures", self.urls.futures_ws_api),
            )
            for product, url in endpoints:
                client = self._ws_api_factory(url, self._credentials, self.clock, product)
                if isinstance(client, BinanceWsApi):  # one quota with REST: the host's budget counts both
                    client.budget = self.rest.budget(product)
                self.ws_api[product] = client
                try:
                    async with asyncio.timeout(self._ws_api_connect_timeout_s):
                        await client.start()
                except TimeoutError:
                    log.warning("binance {} WS-API not connected yet; orders use REST meanwhile", product)
                except Exception as exc:  # noqa: BLE001 - the WS-API is an optimisation: REST still works
                    log.warning("binance {} WS-API failed to start ({!r}); orders use REST", product, exc)
        self._supervisor = asyncio.create_task(self._supervise(), name="binance-adapter")

    async def close(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        for client in self.ws_api.values():
            try:
                await client.close()
            except Exception as exc:  # noqa: BLE001 - closing: one client's failure must not keep the other open
                log.warning("closing WS-API: {!r}", exc)
        self.ws_api.clear()
        await self.rest.close()

    async def __aenter__(self) -> BinanceAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._refresh_clock_forever(), name="binance-clock-refresh")

    async def _refresh_clock_forever(self) -> None:
        await keep_clock_fresh(lambda: self.rest.sync_clock("spot"), self._clock_refresh_s, "binance")

    def _drop(self, kind: str, sample: object) -> None:
        self.dropped[kind] += 1
        if self.dropped[kind] == 1:
            log.warning("binance: dropping {} (first sample: {!r})", kind, sample)

    # ------------------------------------------------------------------ instruments and books

    @property
    def instruments(self) -> dict[InstrumentKey, Instrument]:
        return dict(self._instruments)

    def instrument(self, key: InstrumentKey) -> Instrument | None:
        return self._instruments.get(key)

    async def load_instruments(self) -> list[Instrument]:
        spot_info, fut_info = await asyncio.gather(self.rest.spot_exchange_info(), self.rest.futures_exchange_info())
        spot, bad_spot = parse_spot_instruments(spot_info)
        perps, bad_perp = parse_perp_instruments(fut_info)
        for symbol in bad_spot + bad_perp:
            self._drop("instrument without usable filters", symbol)
        instruments = spot + perps
        self._instruments = {i.key: i for i in instruments}
        return instruments

    async def fetch_order_book(self, key: InstrumentKey, depth: int = 20) -> OrderBook:
        product = _product(key)
        if depth <= 0:
            raise InvalidRequest(f"depth must be positive, got {depth}", venue="binance")
        if product == "spot":
            limit = min(depth, SPOT_DEPTH_LIMIT_MAX)
        else:
            limit = next((n for n in FUTURES_DEPTH_LIMITS if n >= depth), FUTURES_DEPTH_LIMITS[-1])
        raw = await self.rest.depth(product, key.symbol, limit)
        return parse_depth(raw, key, local_ts_ns=time.time_ns(), fallback_ts_ms=self.clock.now_ms(), levels=depth)

    # ------------------------------------------------------------------ orders

    @staticmethod
    def _parse_order(raw: SpotOrder | FuturesOrder) -> Order:
        if isinstance(raw, SpotOrder):
            return parse_spot_order(raw)
        return parse_futures_order(raw)

    def _ws_params(self, params: dict[str, str]) -> dict[str, object]:
        wire: dict[str, object] = dict(params)
        wire["recvWindow"] = self.rest.recv_window_ms
        wire["timestamp"] = self.clock.now_ms()
        return wire

    async def _ws_or_rest_place(self, product: Product, params: dict[str, str]) -> Order:
        ws = self.ws_api.get(product)
        if ws is not None and ws.connected:
            wire = self._ws_params(params)
            try:
                raw = await ws.request("order.place", wire, timeout_s=self._ws_api_timeout_s)
            except TransportError as exc:  # nothing was sent: REST is the first send
                log.info("binance {} WS-API unavailable ({}); placing over REST", product, exc)
            except TimestampOutOfWindow as exc:  # refused before the engine: resync, send once more
                log.info("binance {} WS-API order.place: {}; resyncing, placing over REST", product, exc)
                await self.rest.sync_clock(product)
            else:
                decoder = SPOT_ORDER_DECODER if product == "spot" else FUTURES_ORDER_DECODER
                try:
                    return self._parse_order(decoder.decode(raw))
                except Exception as exc:
                    # the order was accepted; only its reply is unreadable: reconcile by client id
                    raise UnknownOutcome(f"order.place reply unreadable: {exc!r}", venue="binance") from exc
        if product == "spot":
            return parse_spot_order(await self.rest.spot_place_order(params))
        return parse_futures_order(await self.rest.futures_place_order(params))

    def _order_params(self, product: Product, request: OrderRequest, client_id: str) -> dict[str, str]:
        if product == "spot":
            return spot_order_params(request, client_id, self._instruments.get(request.key))
        return futures_order_params(request, client_id, self._instruments.get(request.key))

    def rehearse_order(self, request: OrderRequest) -> None:
        """Build ``request``'s ``order.place`` as :meth:`place_order` would — params, cost,
        signature, JSON — and send nothing (``exchange_runner/warmth.py``)."""
        product = _product(request.key)
        params = self._order_params(product, request, request.client_id or "rehearsal")
        ws = self.ws_api.get(product)
        if ws is not None:
            ws.rehearse("order.place", self._ws_params(params))

    async def place_order(self, request: OrderRequest) -> Order:
        """Place ``request``; see the module docstring for what happens on an unknown outcome."""
        product = _product(request.key)
        client_id = request.client_id or self._new_client_id()
        if not CLIENT_ID_RE.match(client_id):
            raise InvalidRequest(f"client id {client_id!r} must match {CLIENT_ID_RE.pattern}", venue="binance")
        params = self._order_params(product, request, client_id)
        try:
            return await self._ws_or_rest_place(product, params)
        except (UnknownOutcome, DuplicateClientId) as exc:
            # the latest server time at which the venue may still have accepted the request
            deadline_ms = self.clock.now_ms() + self.rest.recv_window_ms + _CERTAINTY_SLACK_MS
            log.warning("binance {} order {}: {} — reconciling by client id", product, client_id, exc)
            return await self._reconcile_placement(request, client_id, exc, deadline_ms)

    async def _lookup(self, request: OrderRequest, client_id: str) -> Order | None:
        """One query by client id: our order, or None when the venue has no such order.

        Transient failures pass through. An order that holds the id but is not ours: while
        open it proves our request was refused as a duplicate (raise); if final it is an older
        order whose id was reused, which says nothing about ours (pass through as transient).
        """
        try:
            order = await self.get_order(request.key, client_id=client_id)
        except OrderNotFound:
            return None
        if order_matches(order, request):
            return order
        detail = foreign_id_detail(client_id, order)
        if order.status.is_open:
            raise DuplicateClientId(detail, venue="binance")
        raise UnknownOutcome(detail, venue="binance")

    async def _reconcile_placement(
        self, request: OrderRequest, client_id: str, cause: ExchangeError, deadline_ms: int
    ) -> Order:
        """Find the order a placement with an unknown outcome may have created (never resend)."""
        product = _product(request.key)
        found = await search_placed(
            lambda: self._lookup(request, client_id),
            attempts=self._reconcile_attempts,
            backoff_s=self._reconcile_backoff_s,
            sleep=self._sleep,
        )
        if found.order is not None:
            return found.order
        last = found.last
        if isinstance(cause, DuplicateClientId) and found.not_found:
            # the venue refused the request (its id is live elsewhere, e.g. on another symbol)
            raise cause
        if product == "futures" and found.not_found:
            # after timestamp + recvWindow the futures engine refuses the request (-5028), so a
            # "not found" from then on is final
            wait_s = (deadline_ms - self.clock.now_ms()) / 1000
            if wait_s <= self._certainty_wait_max_s:
                if wait_s > 0:
                    await self._sleep(wait_s)
                try:
                    order = await self._lookup(request, client_id)
                except _TRANSIENT as exc:
                    last = exc
                else:
                    if order is not None:
                        return order
                    if self.clock.now_ms() >= deadline_ms:
                        return self._not_placed(request, client_id, cause)
        raise outcome_unknown(client_id, cause, last, f"binance-{product}")

    def _not_placed(self, request: OrderRequest, client_id: str, cause: ExchangeError) -> Order:
        log.warning("binance order {} was not placed (venue has no such order): {}", client_id, cause)
        now = self.clock.now_ms()
        reason = f"no such order after its recvWindow passed ({cause})"
        return not_placed(request, client_id, reason=reason, created_ms=now, now_ms=now)

    async def _send_cancel(self, key: InstrumentKey, client_id: str | None, venue_id: str | None) -> Order:
        product = _product(key)
        ws = self.ws_api.get(product)
        if ws is not None and ws.connected:
            params: dict[str, object] = {"symbol": key.symbol}
            if venue_id:
                params["orderId"] = int(venue_id)
            else:
                params["origClientOrderId"] = client_id
            params["recvWindow"] = self.rest.recv_window_ms
            try:
                raw = await ws.request("order.cancel", params, timeout_s=self._ws_api_timeout_s)
            except TransportError as exc:
                log.info("binance {} WS-API unavailable ({}); canceling over REST", product, exc)
            except TimestampOutOfWindow as exc:
                log.info("binance {} WS-API order.cancel: {}; resyncing, canceling over REST", product, exc)
                await self.rest.sync_clock(product)
            else:
                decoder = SPOT_ORDER_DECODER if product == "spot" else FUTURES_ORDER_DECODER
                try:
                    return self._parse_order(decoder.decode(raw))
                except Exception as exc:
                    raise UnknownOutcome(f"order.cancel reply unreadable: {exc!r}", venue="binance") from exc
        if product == "spot":
            return parse_spot_order(
                await self.rest.spot_cancel_order(key.symbol, order_id=venue_id, client_id=client_id)
            )
        return parse_futures_order(
            await self.rest.futures_cancel_order(key.symbol, order_id=venue_id, client_id=client_id)
        )

    async def cancel_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        """Cancel; if the venue says unknown order (already final) or the outcome is unknown,
        return the order's state from a query (final, e.g. FILLED) or raise."""
        if not client_id and not venue_id:
            raise InvalidRequest("cancel needs client_id or venue_id", venue="binance")
        if venue_id and not venue_id.isdigit():
            raise InvalidRequest(f"a Binance order id is an integer, got {venue_id!r}", venue="binance")
        try:
            return await self._send_cancel(key, client_id, venue_id)
        except OrderNotFound as exc:
            try:
                return await self.get_order(key, client_id=client_id, venue_id=venue_id)
            except OrderNotFound:
                raise exc from None
        except UnknownOutcome as exc:
            last: ExchangeError = exc
            for attempt in range(self._reconcile_attempts):
                await self._sleep(self._reconcile_backoff_s * (2**attempt))
                try:
                    order = await self.get_order(key, client_id=client_id, venue_id=venue_id)
                except (OrderNotFound, *_TRANSIENT) as err:
                    last = err
                    continue
                if order.is_final:
                    return order
                last = UnknownOutcome(f"order still {order.status} after cancel", venue="binance")
            raise UnknownOutcome(f"cancel outcome unknown: {exc}; last: {last}", venue="binance") from exc

    async def get_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        product = _product(key)
        if not client_id and not venue_id:
            raise InvalidRequest("get_order needs client_id or venue_id", venue="binance")
        if product == "spot":
            return parse_spot_order(
                await self.rest.spot_get_order(key.symbol, order_id=venue_id or None, client_id=client_id)
            )
        return parse_futures_order(
            await self.rest.futures_get_order(key.symbol, order_id=venue_id or None, client_id=client_id)
        )

    async def get_open_orders(self, kind: MarketKind, key: InstrumentKey | None = None) -> list[Order]:
        if key is not None and key.kind is not kind:
            raise InvalidRequest(f"{key} is not a {kind} instrument", venue="binance")
        symbol = key.symbol if key is not None else None
        raws: Sequence[SpotOrder | FuturesOrder]
        if kind is MarketKind.SPOT:
            raws = await self.rest.spot_open_orders(symbol)
        else:
            raws = await self.rest.futures_open_orders(symbol)
        orders: list[Order] = []
        for raw in raws:
            try:
                orders.append(self._parse_order(raw))
            except MalformedPayload as exc:
                self._drop("open order the model cannot represent", str(exc))
        return orders

    # ------------------------------------------------------------------ account and positions

    async def fetch_positions(self) -> list[Position]:
        """Non-flat USD-M positions (positionRisk v3) with leverage from positionRisk v2."""
        v3, v2 = await asyncio.gather(self.rest.position_risk_v3(), self.rest.position_risk_v2())
        leverage = {p.symbol: int(p.leverage) for p in v2 if p.leverage > 0}
        return parse_positions(v3, leverage)

    async def fetch_account(self) -> AccountSnapshot:
        return (await self.fetch_account_asof())[0]

    async def fetch_account_asof(self) -> tuple[AccountSnapshot, AccountAsOf]:
        """The account and the venue's times for it: spot ``updateTime``, futures
        ``assets[].updateTime`` (``exchanges.account_times``)."""
        if self._credentials is None:
            raise AuthError("fetch_account needs API credentials", venue="binance")
        spot, futures, positions = await asyncio.gather(
            self.rest.spot_account(), self.rest.futures_account(), self.fetch_positions()
        )
        asof = AccountAsOf(
            balances_ms=spot.updateTime, margin_ms={a.asset: a.updateTime for a in futures.assets if a.updateTime}
        )
        return parse_account(spot, futures, positions, ts_ms=self.clock.now_ms()), asof

    async def set_leverage(self, key: InstrumentKey, leverage: int) -> int:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"leverage applies to perps, not {key}", venue="binance")
        _product(key)
        return (await self.rest.change_leverage(key.symbol, leverage)).leverage

    # ------------------------------------------------------------------ funding

    async def funding_interval_ms(self, symbol: str) -> int:
        """The symbol's funding interval (fundingInfo lists adjusted symbols only; default 8 h)."""
        now = self._monotonic()
        stale = self._funding_loaded_at is None or now - self._funding_loaded_at > self._funding_info_ttl_s
        if stale:
            try:
                self._funding_intervals = funding_intervals(await self.rest.funding_info())
                self._funding_loaded_at = now
            except ExchangeError as exc:
                if self._funding_loaded_at is None:
                    raise
                log.warning("binance fundingInfo refresh failed, keeping the cached intervals: {}", exc)
        return self._funding_intervals.get(symbol, DEFAULT_FUNDING_INTERVAL_MS)

    async def fetch_funding_rate(self, key: InstrumentKey) -> FundingRate:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"funding applies to perps, not {key}", venue="binance")
        _product(key)
        premium, interval = await asyncio.gather(
            self.rest.premium_index(key.symbol), self.funding_interval_ms(key.symbol)
        )
        return parse_funding_rate(premium, interval)

    async def fetch_funding_history(
        self, key: InstrumentKey, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[FundingRateRecord]:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"funding applies to perps, not {key}", venue="binance")
        _product(key)
        rows = await self.rest.funding_rate_history(key.symbol, start_ms, end_ms, limit)
        return [parse_funding_record(r) for r in rows]

    # ------------------------------------------------------------------ streams

    def stream_order_books(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[OrderBook]:
        """Top-5 books from ``@depth5@100ms`` (spot and perps), as ``market_stream`` yields them."""
        return self.market.order_books(keys)

    async def run_order_books(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """The same books pushed into ``sink`` from the socket reader (see ``PushesBooks``)."""
        await self.market.run_order_books(keys, sink)

    async def run_depth_books(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """Full-depth books from ``@depth@100ms`` + REST snapshots, their top 20 levels pushed
        into ``sink`` (``depth_stream.py``; ``PushesDepthBooks``)."""
        await self.depth.run(keys, sink)

    async def _depth_snapshot(self, kind: MarketKind, symbol: str, limit: int) -> Depth:
        product: Product = "spot" if kind is MarketKind.SPOT else "futures"
        if product == "futures":
            limit = next((n for n in FUTURES_DEPTH_LIMITS if n >= limit), FUTURES_DEPTH_LIMITS[-1])
        return await self.rest.depth(product, symbol, min(limit, SPOT_DEPTH_LIMIT_MAX))

    async def run_market_data(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> None:
        """Trades (``@aggTrade``) and 24 h tickers (``@ticker``) pushed into ``sink`` (``tape.py``)."""
        await run_connections(self.tape.connections(trades, tickers, sink))

    def stream_funding(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[FundingRate]:
        """Funding from ``@markPrice@1s``, with each symbol's interval from fundingInfo."""
        return self._funding_stream(keys)

    async def _funding_stream(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[FundingRate]:
        for key in keys:
            self.market.set_funding_interval(key.symbol, await self.funding_interval_ms(key.symbol))
        rates = self.market.funding(keys)
        try:
            async for rate in rates:
                yield rate
        finally:
            aclose = getattr(rates, "aclose", None)
            if aclose is not None:
                await aclose()

    def stream_user_events(self) -> AsyncIterator[UserEvent]:
        """Futures user data (listenKey) and spot user data (WS-API) merged."""
        if self._credentials is None:
            raise AuthError("user streams need API credentials", venue="binance")
        events = BinanceUserStreams(
            self.rest, self.urls, self._credentials, self.clock, spot_budget=self.rest.budget("spot")
        ).events()
        # cross-margin FUNDING_FEE names no symbol: the income history does, read on the venue's clock
        return with_funding_income(events, FundingIncome(self.rest, now_ms=self.clock.now_ms))
