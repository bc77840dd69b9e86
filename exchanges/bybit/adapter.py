"""``BybitAdapter``: Bybit v5 spot + linear perpetuals behind :class:`exchanges.base.ExchangeAdapter`.

* REST (``rest.py``) for everything the runner asks; the public streams (``market_stream.py``)
  for books and funding, the private stream (``user_stream.py``) for orders, fills, positions
  and the wallet.
* ``place_order`` always sends an ``orderLinkId``. Bybit acknowledges with ids only, so the
  adapter then reads the order back (``/v5/order/realtime``): a PostOnly order that would have
  taken comes back cancelled (``EC_PostOnlyWillTakeLiquidity``) and is raised as
  :class:`WouldTakeLiquidity`, a FOK that could not fill as :class:`NotFillable`; if the
  read-back fails the acknowledged order is returned as NEW (the stream brings the rest).
* After an unknown outcome (timeout, 5xx, dropped connection, 10016) or a duplicate-id answer
  (110072/170141) it queries the order by ``orderLinkId`` a few times. Found (and it is the one
  asked for) → that order; a different live order holds the id → :class:`DuplicateClientId`;
  otherwise :class:`UnknownOutcome` — Bybit documents no guarantee that a request older than
  its recvWindow can no longer be executed, so "not found" is never taken as "not placed".
  ``place_order`` never resends.
* ``resolve_unknown`` (called by the runner's chase for an UNKNOWN order) re-sends the
  identical request under the *same* ``orderLinkId`` — Bybit's documented remedy for 10016 —
  but only within ``resend_window_ms`` of the first send (default recvWindow + 2 s): placed
  once, or refused as a duplicate and then found. Past the window it only queries.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx
from loguru import logger as log

from exchanges.base import BookSink, FundingRateRecord, MarketSink, StreamStatus, UserEvent
from exchanges.credentials import Credentials
from exchanges.errors import (
    AuthError,
    DuplicateClientId,
    ExchangeError,
    InvalidRequest,
    MalformedPayload,
    NotFillable,
    OrderNotFound,
    UnknownOutcome,
    WouldTakeLiquidity,
)
from exchanges.placement import TRANSIENT as _TRANSIENT
from exchanges.placement import foreign_id_detail, order_matches, outcome_unknown, search_placed
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
    OrderStatus,
    Position,
    TimeInForce,
)

from .errors import VENUE
from .market_stream import BybitMarketStreams
from .parse import (
    CATEGORY,
    FOK_REJECT,
    POST_ONLY_REJECT,
    SymbolMap,
    order_params,
    parse_account,
    parse_book,
    parse_funding_rate,
    parse_funding_record,
    parse_linear_instrument,
    parse_order,
    parse_positions,
    parse_spot_instrument,
)
from .rest import BybitRestClient
from .rest_schemas import OrderItem
from .tape import BybitTape
from .urls import BybitUrls
from .user_stream import BybitUserStream

__all__ = ["BybitAdapter", "ClientIdFactory", "CLIENT_ID_RE", "DEPTH_LIMITS"]

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
DEPTH_LIMITS = {"spot": 200, "linear": 1000}
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


#: the re-send window past the request's recvWindow (clock offset, the venue's own latency)
RESEND_SLACK_MS = 2000


class ClientIdFactory:
    """Collision-safe ``orderLinkId``s: ``<prefix>-<session>-<ms base36>-<counter base36>``,
    at most 36 characters of Bybit's alphabet ``[A-Za-z0-9_-]``."""

    def __init__(self, prefix: str = "tb", *, wall_ms: Callable[[], int] | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]{1,8}", prefix):
            raise ValueError(f"client id prefix must be 1-8 chars of [A-Za-z0-9_], got {prefix!r}")
        self._prefix = prefix
        self._session = secrets.token_hex(5)
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._counter = itertools.count()

    def __call__(self) -> str:
        cid = f"{self._prefix}-{self._session}-{_b36(self._wall_ms())}-{_b36(next(self._counter))}"
        return cid[:36]


class BybitAdapter:
    """Bybit spot + linear perpetuals as one :class:`exchanges.base.ExchangeAdapter`."""

    exchange = Exchange.BYBIT

    def __init__(
        self,
        urls: BybitUrls,
        credentials: Credentials | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: ServerClock | None = None,
        rest: BybitRestClient | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        reconcile_attempts: int = 4,
        reconcile_backoff_s: float = 0.2,
        clock_refresh_s: float = 120.0,
        resend_window_ms: int | None = None,
        book_depth: int = 5,
        client_ids: Callable[[], str] | None = None,
        on_stream_status: Callable[[StreamStatus], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = urls
        self._credentials = credentials
        self.rest = rest or BybitRestClient(
            urls.rest,
            credentials,
            transport=transport,
            clock=clock,
            timeout_s=timeout_s,
            max_retries=max_retries,
            sleep=sleep,
            monotonic=monotonic,
        )
        self.clock = self.rest.clock
        self._reconcile_attempts = reconcile_attempts
        self._reconcile_backoff_s = reconcile_backoff_s
        self._clock_refresh_s = clock_refresh_s
        #: how long after the runner first sent an order an UNKNOWN one may be re-sent under the
        #: same orderLinkId (default: the request's recvWindow + 2 s, see resolve_unknown)
        self.resend_window_ms = (
            resend_window_ms if resend_window_ms is not None else self.rest.recv_window_ms + RESEND_SLACK_MS
        )
        self._book_depth = book_depth
        self._new_client_id = client_ids or ClientIdFactory()
        self._sleep = sleep
        self.symbols = SymbolMap()
        self._instruments: dict[InstrumentKey, Instrument] = {}
        self._funding_intervals: dict[str, int] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self.market = BybitMarketStreams(urls, self.symbols, on_status=on_stream_status)
        self.tape = BybitTape(urls, self.symbols, on_status=on_stream_status or log_status)
        self.dropped: Counter[str] = Counter()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Measure the clock and load instruments; keep the clock fresh in the background."""
        await self.rest.start()
        await self.load_instruments()
        self._supervisor = asyncio.create_task(self._refresh_clock_forever(), name="bybit-clock-refresh")

    async def close(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        await self.rest.close()

    async def __aenter__(self) -> BybitAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _refresh_clock_forever(self) -> None:
        await keep_clock_fresh(self.rest.sync_clock, self._clock_refresh_s, "bybit")

    def _drop(self, kind: str, sample: object) -> None:
        self.dropped[kind] += 1
        if self.dropped[kind] == 1:
            log.warning("bybit: dropping {} (first sample: {!r})", kind, sample)

    # ------------------------------------------------------------------ instruments and books

    @property
    def instruments(self) -> dict[InstrumentKey, Instrument]:
        return dict(self._instruments)

    def instrument(self, key: InstrumentKey) -> Instrument | None:
        return self._instruments.get(key)

    def _check(self, key: InstrumentKey) -> str:
        """The Bybit symbol of ``key``; InvalidRequest for another venue's key."""
        if key.exchange is not Exchange.BYBIT:
            raise InvalidRequest(f"{key} is not a Bybit instrument", venue=VENUE)
        return self.symbols.native(key)

    def _settle_coins(self) -> list[str]:
        coins = sorted({i.settle for i in self._instruments.values() if i.key.kind is MarketKind.PERP})
        return coins or ["USDT"]

    async def load_instruments(self) -> list[Instrument]:
        spot_items, linear_items = await asyncio.gather(self.rest.spot_instruments(), self.rest.linear_instruments())
        instruments: list[Instrument] = []
        for item in spot_items:
            try:
                inst = parse_spot_instrument(item)
            except MalformedPayload as exc:
                self._drop("spot instrument with unusable filters", str(exc))
                continue
            self.symbols.add(MarketKind.SPOT, inst.key.symbol, item.symbol)
            instruments.append(inst)
        for linear in linear_items:
            try:
                parsed = parse_linear_instrument(linear)
            except MalformedPayload as exc:
                self._drop("linear instrument with unusable filters", str(exc))
                continue
            if parsed is None:
                continue
            self.symbols.add(MarketKind.PERP, parsed.key.symbol, linear.symbol)
            if linear.fundingInterval > 0:
                self._funding_intervals[linear.symbol] = linear.fundingInterval * 60_000
            instruments.append(parsed)
        self._instruments = {i.key: i for i in instruments}
        self.market.set_funding_intervals(self._funding_intervals)
        return instruments

    async def fetch_order_book(self, key: InstrumentKey, depth: int = 20) -> OrderBook:
        symbol = self._check(key)
        if depth <= 0:
            raise InvalidRequest(f"depth must be positive, got {depth}", venue=VENUE)
        category = CATEGORY[key.kind]
        book, _ = await self.rest.orderbook(category, symbol, min(depth, DEPTH_LIMITS[category]))
        return parse_book(book, key, local_ts_ns=time.time_ns(), levels=depth)

    # ------------------------------------------------------------------ orders

    def _parse(self, item: OrderItem, kind: MarketKind) -> Order:
        return parse_order(item, self.symbols.key(kind, item.symbol))

    def rehearse_order(self, request: OrderRequest) -> None:
        """Build ``request``'s order params as :meth:`place_order` would, send nothing
        (``exchange_runner/warmth.py``; the REST call's signing is not rehearsed)."""
        order_params(request, self._check(request.key), request.client_id or "rehearsal")

    async def place_order(self, request: OrderRequest) -> Order:
        """Place ``request``; see the module docstring for read-back and unknown outcomes."""
        symbol = self._check(request.key)
        client_id = request.client_id or self._new_client_id()
        if not CLIENT_ID_RE.match(client_id):
            raise InvalidRequest(f"client id {client_id!r} must match {CLIENT_ID_RE.pattern}", venue=VENUE)
        params = order_params(request, symbol, client_id)
        try:
            ack = await self.rest.create_order(params)
        except (UnknownOutcome, DuplicateClientId) as exc:
            log.warning("bybit order {}: {} — reconciling by orderLinkId", client_id, exc)
            return await self._reconcile_placement(request, client_id, exc)
        order = await self._read_back(request, client_id, ack.orderId)
        self._raise_if_killed(order)
        return order

    def _raise_if_killed(self, order: Order) -> None:
        """Bybit accepts and cancels a PostOnly that would take and a FOK that cannot fill."""
        if order.filled_qty > 0:
            return
        if order.reject_reason == POST_ONLY_REJECT:
            raise WouldTakeLiquidity(
                f"post-only order {order.client_id} would take liquidity (cancelled by Bybit)", venue=VENUE
            )
        if order.reject_reason in FOK_REJECT and order.tif is TimeInForce.FOK:
            raise NotFillable(f"FOK order {order.client_id} could not fill completely (cancelled)", venue=VENUE)

    async def _read_back(self, request: OrderRequest, client_id: str, venue_id: str) -> Order:
        try:
            return await self.get_order(request.key, client_id=client_id)
        except (OrderNotFound, *_TRANSIENT) as exc:
            log.info("bybit order {} acknowledged; read-back failed ({}), reporting NEW", client_id, exc)
        now = self.clock.now_ms()
        return Order(
            key=request.key,
            client_id=client_id,
            venue_id=venue_id,
            side=request.side,
            type=request.type,
            tif=request.tif,
            price=request.price,
            qty=request.qty,
            status=OrderStatus.NEW,
            reduce_only=request.reduce_only,
            created_ts_ms=now,
            updated_ts_ms=now,
        )

    async def _lookup(self, request: OrderRequest, client_id: str) -> Order | None:
        """One query by client id: our order, or None when the venue has no such order.

        Another order holding the id (open or final: Bybit keeps ``orderLinkId`` unique per
        account) proves our request was refused as a duplicate.
        """
        try:
            order = await self.get_order(request.key, client_id=client_id)
        except OrderNotFound:
            return None
        if order_matches(order, request):
            return order
        raise DuplicateClientId(foreign_id_detail(client_id, order), venue=VENUE)

    async def _reconcile_placement(self, request: OrderRequest, client_id: str, cause: ExchangeError) -> Order:
        """Find the order a placement with an unknown outcome may have created (never resend)."""
        found = await search_placed(
            lambda: self._lookup(request, client_id),
            attempts=self._reconcile_attempts,
            backoff_s=self._reconcile_backoff_s,
            sleep=self._sleep,
        )
        if found.order is not None:
            self._raise_if_killed(found.order)
            return found.order
        if isinstance(cause, DuplicateClientId) and found.not_found:
            raise cause  # Bybit refused it: orderLinkId is unique per account, not only among open orders
        raise outcome_unknown(client_id, cause, found.last, VENUE)

    async def resolve_unknown(self, request: OrderRequest, first_sent_ms: int) -> Order | None:
        """Settle an UNKNOWN placement the way Bybit documents (``exchanges.base.ResolvesUnknown``).

        ``orderLinkId`` is Bybit's idempotency key: 10016 says "retry with the same orderLinkId"
        and a second order under an id already used is refused (110072, spot 170141). So while
        the original request is young (``resend_window_ms`` after ``first_sent_ms``, local wall
        clock) the identical request is sent again under the same id: if the original was placed
        the venue answers "duplicate" and the order is read back; if it was not, this places it —
        exactly once either way. Past the window it is only queried, so an order is never placed
        long after it was asked for. None: still unknown (not found, or an answer that proves
        nothing about the original, e.g. the re-send refused while the original may be in flight).
        """
        client_id = request.client_id
        age_ms = time.time_ns() // 1_000_000 - first_sent_ms
        if not client_id or age_ms > self.resend_window_ms:
            return await self._lookup(request, client_id) if client_id else None
        symbol = self._check(request.key)
        try:
            ack = await self.rest.create_order(order_params(request, symbol, client_id))
        except DuplicateClientId:
            log.info("bybit order {}: re-send refused as a duplicate: the original holds the id", client_id)
            return await self._lookup(request, client_id)
        except UnknownOutcome as exc:
            log.info("bybit order {}: re-send outcome unknown too ({})", client_id, exc)
            return await self._lookup(request, client_id)
        except ExchangeError as exc:
            log.warning("bybit order {}: re-send refused ({}); the original stays unknown", client_id, exc)
            return None
        log.warning(
            "bybit order {}: re-sent under the same orderLinkId {} ms after the first send; placed", client_id, age_ms
        )
        return await self._read_back(request, client_id, ack.orderId)

    async def cancel_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        """Cancel, then read the order back. If Bybit says unknown order (already final) or the
        outcome is unknown, return the order's state from a query (final, e.g. FILLED) or raise."""
        symbol = self._check(key)
        if not client_id and not venue_id:
            raise InvalidRequest("cancel needs client_id or venue_id", venue=VENUE)
        try:
            await self.rest.cancel_order(CATEGORY[key.kind], symbol, order_id=venue_id, link_id=client_id)
        except OrderNotFound as exc:
            try:
                order = await self.get_order(key, client_id=client_id, venue_id=venue_id)
            except OrderNotFound:
                raise exc from None
            if order.is_final:
                return order
            raise
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
                last = UnknownOutcome(f"order still {order.status} after cancel", venue=VENUE)
            raise UnknownOutcome(f"cancel outcome unknown: {exc}; last: {last}", venue=VENUE) from exc
        return await self.get_order(key, client_id=client_id, venue_id=venue_id)

    async def get_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        """The order by venue id (preferred) or client id, open or recently final."""
        symbol = self._check(key)
        if not client_id and not venue_id:
            raise InvalidRequest("get_order needs client_id or venue_id", venue=VENUE)
        category = CATEGORY[key.kind]
        for path in ("/v5/order/realtime", "/v5/order/history"):
            items = await self.rest.query_order(path, category, symbol, order_id=venue_id, link_id=client_id)
            if items:
                return self._parse(items[0], key.kind)
        raise OrderNotFound(f"no order {venue_id or client_id} on {key}", venue=VENUE)

    async def get_open_orders(self, kind: MarketKind, key: InstrumentKey | None = None) -> list[Order]:
        if key is not None and key.kind is not kind:
            raise InvalidRequest(f"{key} is not a {kind} instrument", venue=VENUE)
        category = CATEGORY[kind]
        items: list[OrderItem] = []
        if key is not None:
            items = await self.rest.open_orders(category, symbol=self._check(key))
        elif kind is MarketKind.SPOT:
            items = await self.rest.open_orders(category)
        else:
            for coin in self._settle_coins():
                items += await self.rest.open_orders(category, settleCoin=coin)
        orders: list[Order] = []
        for item in items:
            try:
                orders.append(self._parse(item, kind))
            except MalformedPayload as exc:
                self._drop("open order the model cannot represent", str(exc))
        return orders

    # ------------------------------------------------------------------ account and positions

    async def fetch_positions(self) -> list[Position]:
        """Non-flat one-way linear positions, every settle coin."""
        items = []
        for coin in self._settle_coins():
            items += await self.rest.positions(settleCoin=coin)
        return parse_positions(items, self.symbols)

    async def fetch_account(self) -> AccountSnapshot:
        if self._credentials is None:
            raise AuthError("fetch_account needs API credentials", venue=VENUE)
        (wallet, ts), positions = await asyncio.gather(self.rest.wallet_balance(), self.fetch_positions())
        return parse_account(wallet, positions, settle_coins=self._settle_coins(), ts_ms=ts or self.clock.now_ms())

    async def set_leverage(self, key: InstrumentKey, leverage: int) -> int:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"leverage applies to perps, not {key}", venue=VENUE)
        await self.rest.set_leverage(self._check(key), leverage)
        return leverage

    # ------------------------------------------------------------------ funding

    def funding_interval_ms(self, native_symbol: str) -> int:
        """``fundingInterval`` of instruments-info (minutes), 0 when unknown."""
        return self._funding_intervals.get(native_symbol, 0)

    async def fetch_funding_rate(self, key: InstrumentKey) -> FundingRate:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"funding applies to perps, not {key}", venue=VENUE)
        symbol = self._check(key)
        tickers, ts = await self.rest.linear_tickers(symbol)
        ticker = next((t for t in tickers.list if t.symbol == symbol), None)
        if ticker is None:
            raise MalformedPayload(f"tickers has no {symbol}", venue=VENUE)
        return parse_funding_rate(ticker, key, self.funding_interval_ms(symbol), ts or self.clock.now_ms())

    async def fetch_funding_history(
        self, key: InstrumentKey, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[FundingRateRecord]:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"funding applies to perps, not {key}", venue=VENUE)
        symbol = self._check(key)
        if start_ms is not None and end_ms is None:
            end_ms = self.clock.now_ms()  # Bybit refuses startTime without endTime
        history = await self.rest.funding_history(symbol, start_ms, end_ms, max(1, min(limit, 200)))
        records = [parse_funding_record(item, key) for item in reversed(history.list)]  # Bybit: newest first
        return sorted(records, key=lambda r: r.funding_ts_ms)

    # ------------------------------------------------------------------ streams

    def stream_order_books(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[OrderBook]:
        """Top-``book_depth`` books maintained from ``orderbook.50`` snapshots and deltas."""
        for key in keys:
            self._check(key)
        return self.market.order_books(keys, levels=self._book_depth)

    async def run_order_books(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """The same books pushed into ``sink`` from the socket reader (see ``PushesBooks``)."""
        for key in keys:
            self._check(key)
        await self.market.run_order_books(keys, sink, self._book_depth)

    async def run_market_data(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> None:
        """Trades (``publicTrade``) and 24 h tickers (``tickers``) pushed into ``sink`` (``tape.py``)."""
        for key in (*trades, *tickers):
            self._check(key)
        await run_connections(self.tape.connections(trades, tickers, sink))

    def stream_funding(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[FundingRate]:
        """Funding from the linear ``tickers`` stream (snapshot + merged deltas)."""
        for key in keys:
            self._check(key)
        return self.market.funding(keys)

    def stream_user_events(self) -> AsyncIterator[UserEvent]:
        """Orders, fills, positions and the wallet from the private stream."""
        if self._credentials is None:
            raise AuthError("user streams need API credentials", venue=VENUE)
        return BybitUserStream(
            self.urls.private, self._credentials, self.clock, self.symbols, settle_coins=self._settle_coins()
        ).events()
