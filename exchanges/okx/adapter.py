"""``OkxAdapter``: OKX v5 spot + USDT swaps behind :class:`exchanges.base.ExchangeAdapter`.

* REST (``rest.py``) for reads: instruments (contract sizes turned into base units,
  ``symbols.py``), books, orders, account, positions, leverage, funding. Place and cancel go
  over the private WebSocket's order operations (``private.py``, by ``instIdCode``) when that
  connection is up, over REST otherwise (also when the socket says it sent nothing). The same
  socket carries the private channels while ``stream_user_events`` runs.
* ``place_order`` always sends a ``clOrdId`` (tradebus ids encoded to OKX's alphabet,
  ``client_ids.py``). OKX's reply only acknowledges (``ordId``/``sCode``): the returned order is
  NEW with the venue id; fills and the final state arrive on the ``orders`` channel. After an
  unknown outcome (timeout, 5xx, dropped connection, ``50004``/``50026``/``51149``) or a
  duplicate-id answer (``51016``) it queries the order by ``clOrdId`` a few times: found → that
  order; still not found → :class:`UnknownOutcome`. It never resends. Every placement carries
  an ``expTime`` (venue clock at send + ``exp_time_ms``, default 5 s): OKX does not process a
  place request after it, so ``resolve_unknown`` (the runner's chase of an UNKNOWN order) answers
  REJECTED ``not_placed`` for a "not found" once that deadline + ``exp_slack_ms`` has passed.
* ``cancel_order`` returns the order as the venue then reports it; ``51400`` (already filled,
  canceled or unknown) is answered with the order's final state when the venue knows it.
* Market and private streams are delegated to ``market_stream.py`` / ``user_stream.py``; all
  the adapter's sockets share one :class:`~exchanges.okx.gate.ConnectGate` (OKX allows 3 new
  connections per second per IP).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
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
    OrderNotFound,
    RateLimited,
    TransportError,
    UnknownOutcome,
)
from exchanges.placement import TRANSIENT as _TRANSIENT
from exchanges.placement import foreign_id_detail, not_placed, order_matches, outcome_unknown, search_placed
from exchanges.transport.backoff import Backoff
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
    OrderType,
    Position,
)

from .client_ids import ClientIdFactory
from .errors import VENUE, map_error
from .gate import OKX_CONNECTS_PER_S, ConnectGate
from .market_stream import OkxMarketStreams
from .parse import (
    cancel_body,
    dec,
    order_body,
    parse_account,
    parse_book,
    parse_funding_rate,
    parse_funding_record,
    parse_instruments,
    parse_order,
    parse_positions,
)
from .private import OkxPrivateSocket
from .rest import BOOK_DEPTH_MAX, OkxRestClient
from .rest_schemas import BookSnapshot, OpItem
from .symbols import SymbolMap, VenueInstrument
from .tape import OkxTape
from .urls import OkxUrls
from .user_stream import OkxUserStream

__all__ = ["OkxAdapter"]


#: placements whose expTime is remembered (the oldest are forgotten: those stay UNKNOWN if lost)
MAX_DEADLINES = 100_000


class OkxAdapter:
    """OKX spot + USDT-margined swaps as one :class:`exchanges.base.ExchangeAdapter`."""

    exchange = Exchange.OKX

    def __init__(
        self,
        urls: OkxUrls,
        credentials: Credentials | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: ServerClock | None = None,
        rest: OkxRestClient | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        reconcile_attempts: int = 4,
        reconcile_backoff_s: float = 0.2,
        clock_refresh_s: float = 120.0,
        client_ids: Callable[[], str] | None = None,
        on_stream_status: Callable[[StreamStatus], None] | None = None,
        book_depth: int = 20,
        snapshot_grace_updates: int = 10,
        ws_backoff: Backoff | None = None,
        use_ws_orders: bool = True,
        connects_per_s: int = OKX_CONNECTS_PER_S,
        ws_order_timeout_s: float = 5.0,
        ws_connect_timeout_s: float = 5.0,
        exp_time_ms: int = 5_000,
        exp_slack_ms: int = 1_000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = urls
        self._credentials = credentials
        self.rest = rest or OkxRestClient(
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
        self._reconcile_attempts = reconcile_attempts
        self._reconcile_backoff_s = reconcile_backoff_s
        #: each placement's ``expTime`` = the venue clock at send + this (OKX does not process it later)
        self.exp_time_ms = exp_time_ms
        #: after expTime + this slack a "not found" by clOrdId is final (clock offset error, latency)
        self.exp_slack_ms = exp_slack_ms
        self._deadlines: OrderedDict[str, int] = OrderedDict()  # client id → expTime sent (venue ms)
        self._clock_refresh_s = clock_refresh_s
        self._new_client_id = client_ids or ClientIdFactory()
        self._sleep = sleep
        self._instruments: dict[InstrumentKey, Instrument] = {}
        self._symbols = SymbolMap()
        self._supervisor: asyncio.Task[None] | None = None
        self.gate = ConnectGate(connects_per_s)
        self.market = OkxMarketStreams(
            urls,
            lambda: self._symbols,
            fetch_book=self._fetch_book_raw,
            on_status=on_stream_status,
            depth=book_depth,
            snapshot_grace_updates=snapshot_grace_updates,
            backoff=ws_backoff,
            gate=self.gate,
        )
        self.tape = OkxTape(urls, lambda: self._symbols, on_status=on_stream_status or log_status, gate=self.gate)
        self.user: OkxUserStream | None = None
        self.private: OkxPrivateSocket | None = None
        if credentials is not None:
            self.private = OkxPrivateSocket(
                urls.ws_private, credentials, self.clock, backoff=ws_backoff, gate=self.gate
            )
        self._use_ws_orders = use_ws_orders
        self._ws_order_timeout_s = ws_order_timeout_s
        self._ws_connect_timeout_s = ws_connect_timeout_s
        self.dropped: Counter[str] = Counter()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Measure the clock, load instruments, connect the order socket (REST covers until it
        is up); keep the clock fresh in the background."""
        await self.rest.start()
        await self.load_instruments()
        self._supervisor = asyncio.create_task(self._supervise(), name="okx-adapter")
        if self.private is not None and self._use_ws_orders:
            try:
                async with asyncio.timeout(self._ws_connect_timeout_s):
                    await self.private.wait_connected()
            except TimeoutError:
                log.warning("okx private socket not connected yet; orders use REST meanwhile")

    async def close(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        await self.rest.close()

    async def __aenter__(self) -> OkxAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._refresh_clock_forever(), name="okx-clock-refresh")
            if self.private is not None:
                tg.create_task(self.private.run(), name="okx-private-socket")

    async def _refresh_clock_forever(self) -> None:
        await keep_clock_fresh(self.rest.sync_clock, self._clock_refresh_s, "okx")

    def _drop(self, kind: str, sample: object) -> None:
        self.dropped[kind] += 1
        if self.dropped[kind] == 1:
            log.warning("okx: dropping {} (first sample: {!r})", kind, sample)

    # ------------------------------------------------------------------ instruments and books

    @property
    def instruments(self) -> dict[InstrumentKey, Instrument]:
        return dict(self._instruments)

    @property
    def symbols(self) -> SymbolMap:
        return self._symbols

    def instrument(self, key: InstrumentKey) -> Instrument | None:
        return self._instruments.get(key)

    def _inst(self, key: InstrumentKey) -> VenueInstrument:
        if key.exchange is not Exchange.OKX:
            raise InvalidRequest(f"{key} is not an OKX instrument", venue=VENUE)
        return self._symbols.require(key)

    async def load_instruments(self) -> list[Instrument]:
        spot, swap = await asyncio.gather(self.rest.instruments("SPOT"), self.rest.instruments("SWAP"))
        instruments, venue, bad = parse_instruments(spot + swap)
        for inst_id in bad:
            self._drop("instrument without usable parameters", inst_id)
        self._instruments = {i.key: i for i in instruments}
        self._symbols = SymbolMap(venue)
        return instruments

    async def _fetch_book_raw(self, inst_id: str) -> BookSnapshot:
        return await self.rest.books(inst_id, BOOK_DEPTH_MAX)

    async def fetch_order_book(self, key: InstrumentKey, depth: int = 20) -> OrderBook:
        inst = self._inst(key)
        if depth <= 0:
            raise InvalidRequest(f"depth must be positive, got {depth}", venue=VENUE)
        raw = await self.rest.books(inst.inst_id, min(depth, BOOK_DEPTH_MAX))
        return parse_book(
            inst, raw.bids, raw.asks, raw.ts, local_ts_ns=time.time_ns(), sequence=raw.seqId or 0, levels=depth
        )

    # ------------------------------------------------------------------ orders

    def rehearse_order(self, request: OrderRequest) -> None:
        """Build ``request``'s order body as :meth:`place_order` would, send nothing
        (``exchange_runner/warmth.py``; the WebSocket op's framing is not rehearsed)."""
        order_body(request, self._inst(request.key), request.client_id or "rehearsal")

    async def place_order(self, request: OrderRequest) -> Order:
        """Place ``request``; see the module docstring for what happens on an unknown outcome."""
        inst = self._inst(request.key)
        client_id = request.client_id or self._new_client_id()
        body = order_body(request, inst, client_id)
        exp_time = self.clock.now_ms() + self.exp_time_ms
        self._deadlines[client_id] = exp_time  # the latest send's deadline (a re-placement moves it on)
        self._deadlines.move_to_end(client_id)
        while len(self._deadlines) > MAX_DEADLINES:
            self._deadlines.popitem(last=False)
        try:
            item = await self._order_op("order", inst, body, exp_time_ms=exp_time)
        except (UnknownOutcome, DuplicateClientId) as exc:
            log.warning("okx order {}: {} — reconciling by client id", client_id, exc)
            return await self._reconcile_placement(request, client_id, exc)
        now = self.clock.now_ms()
        return Order(
            key=request.key,
            client_id=client_id,
            venue_id=item.ordId,
            side=request.side,
            type=request.type,
            tif=request.tif,
            price=request.price if request.type is OrderType.LIMIT else None,
            qty=request.qty,
            status=OrderStatus.NEW,
            reduce_only=request.reduce_only,
            created_ts_ms=int(item.ts) if item.ts.isdigit() else now,
            updated_ts_ms=int(item.ts) if item.ts.isdigit() else now,
        )

    async def _order_op(
        self, op: str, inst: VenueInstrument, body: dict[str, object], *, exp_time_ms: int | None = None
    ) -> OpItem:
        """``order`` / ``cancel-order`` over the order socket when it is up, else REST."""
        ws = self.private
        if self._use_ws_orders and ws is not None and ws.connected and inst.inst_id_code is not None:
            args = {k: v for k, v in body.items() if k != "instId"}
            args["instIdCode"] = inst.inst_id_code
            # the socket's order operations count on their REST twins' limits (one budget)
            group = await self.rest.http.reserve("POST", f"/api/v5/trade/{op}", None, body)
            try:
                reply = await ws.request(op, [args], timeout_s=self._ws_order_timeout_s, exp_time_ms=exp_time_ms)
            except TransportError as exc:  # nothing was sent: REST is the first send
                log.info("okx order socket unavailable ({}); {} over REST", exc, op)
            except RateLimited as exc:
                self.rest.http.spent(group, exc.venue_code if isinstance(exc.venue_code, int) else None)
                raise
            else:
                if not reply.data:
                    raise UnknownOutcome(f"{op} reply without items", venue=VENUE)
                item = reply.data[0]
                if item.sCode != "0":
                    code = int(item.sCode) if item.sCode.isdigit() else None
                    raise map_error(200, code, item.sMsg or reply.msg)
                return item
        if op == "order":
            return await self.rest.place_order(body, exp_time_ms=exp_time_ms)
        return await self.rest.cancel_order(body)

    async def _lookup(self, request: OrderRequest, client_id: str) -> Order | None:
        """One query by client id: our order, or None when the venue has no such order."""
        try:
            order = await self.get_order(request.key, client_id=client_id)
        except OrderNotFound:
            return None
        if order_matches(order, request):
            return order
        detail = foreign_id_detail(client_id, order)
        if order.status.is_open:
            raise DuplicateClientId(detail, venue=VENUE)
        raise UnknownOutcome(detail, venue=VENUE)

    async def resolve_unknown(self, request: OrderRequest, first_sent_ms: int) -> Order | None:
        """Settle an UNKNOWN placement the way OKX documents (``exchanges.base.ResolvesUnknown``).

        Every placement carries ``expTime``; OKX does not process a place request after it. So a
        query by ``clOrdId`` that finds the order settles it, and a "not found" once the venue's
        clock is past that deadline + ``exp_slack_ms`` is final: REJECTED, ``not_placed``. Only
        the deadline this adapter sent is trusted (kept in memory: after a restart the order is
        queried but never concluded "not placed"). None: still unknown."""
        client_id = request.client_id
        if not client_id:
            return None
        deadline = self._deadlines.get(client_id)
        final = deadline is not None and self.clock.now_ms() >= deadline + self.exp_slack_ms
        order = await self._lookup(request, client_id)  # looked up after the deadline check
        if order is not None:
            return order
        if not final or deadline is None:
            return None
        log.warning("okx order {}: not found after its expTime {} passed; not placed", client_id, deadline)
        return not_placed(
            request,
            client_id,
            reason=f"no such order after its expTime ({deadline}) passed on the venue's clock",
            created_ms=first_sent_ms,
            now_ms=self.clock.now_ms(),
        )

    async def _reconcile_placement(self, request: OrderRequest, client_id: str, cause: ExchangeError) -> Order:
        """Find the order a placement with an unknown outcome may have created (never resend)."""
        found = await search_placed(
            lambda: self._lookup(request, client_id),
            attempts=self._reconcile_attempts,
            backoff_s=self._reconcile_backoff_s,
            sleep=self._sleep,
        )
        if found.order is not None:
            return found.order
        if isinstance(cause, DuplicateClientId) and found.not_found:
            raise cause  # the id is live on another instrument or was refused outright
        raise outcome_unknown(client_id, cause, found.last, VENUE)

    async def cancel_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        """Cancel; returns the order as the venue reports it afterwards (final once OKX has
        processed the cancel). An already final or unknown order → its final state, or raise."""
        inst = self._inst(key)
        body = cancel_body(inst, client_id, venue_id)
        try:
            await self._order_op("cancel-order", inst, body)
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
                last = UnknownOutcome(f"order still {order.status} after cancel", venue=VENUE)
            raise UnknownOutcome(f"cancel outcome unknown: {exc}; last: {last}", venue=VENUE) from exc
        order = await self.get_order(key, client_id=client_id, venue_id=venue_id)
        return order

    async def get_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        inst = self._inst(key)
        if not client_id and not venue_id:
            raise InvalidRequest("get_order needs client_id or venue_id", venue=VENUE)
        body = cancel_body(inst, client_id, venue_id)
        raw = await self.rest.get_order(
            inst.inst_id, ord_id=venue_id or None, cl_ord_id=str(body.get("clOrdId", "")) or None
        )
        return parse_order(raw, self._symbols)

    async def get_open_orders(self, kind: MarketKind, key: InstrumentKey | None = None) -> list[Order]:
        if key is not None and key.kind is not kind:
            raise InvalidRequest(f"{key} is not a {kind} instrument", venue=VENUE)
        inst_id = self._inst(key).inst_id if key is not None else None
        raws = await self.rest.orders_pending("SPOT" if kind is MarketKind.SPOT else "SWAP", inst_id)
        orders: list[Order] = []
        for raw in raws:
            if self._symbols.by_id(raw.instId) is None:
                continue  # an instrument tradebus does not trade
            try:
                orders.append(parse_order(raw, self._symbols))
            except MalformedPayload as exc:
                self._drop("open order the model cannot represent", str(exc))
        return orders

    # ------------------------------------------------------------------ account and positions

    async def fetch_positions(self) -> list[Position]:
        return parse_positions(await self.rest.positions("SWAP"), self._symbols)

    async def fetch_account(self) -> AccountSnapshot:
        if self._credentials is None:
            raise AuthError("fetch_account needs API credentials", venue=VENUE)
        balance, positions = await asyncio.gather(self.rest.balance(), self.fetch_positions())
        settle = {i.settle for i in self._symbols.of_kind(MarketKind.PERP)}
        return parse_account(balance, positions, settle, ts_ms=self.clock.now_ms())

    async def set_leverage(self, key: InstrumentKey, leverage: int) -> int:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"leverage applies to perps, not {key}", venue=VENUE)
        inst = self._inst(key)
        reply = await self.rest.set_leverage(inst.inst_id, leverage)
        return int(dec(reply.lever, "lever"))

    # ------------------------------------------------------------------ funding

    async def fetch_funding_rate(self, key: InstrumentKey) -> FundingRate:
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"funding applies to perps, not {key}", venue=VENUE)
        inst = self._inst(key)
        rate, mark, index = await asyncio.gather(
            self.rest.funding_rate(inst.inst_id),
            self.rest.mark_price(inst.inst_id),
            self.rest.index_ticker(inst.family),
        )
        return parse_funding_rate(
            rate, inst, dec(mark.markPx, "markPx"), dec(index.idxPx, "idxPx"), ts_ms=self.clock.now_ms()
        )

    async def fetch_funding_history(
        self, key: InstrumentKey, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[FundingRateRecord]:
        """Settled rates, oldest first (OKX pages newest first: ``before``/``after`` bound the
        ``fundingTime`` exclusively)."""
        if key.kind is not MarketKind.PERP:
            raise InvalidRequest(f"funding applies to perps, not {key}", venue=VENUE)
        inst = self._inst(key)
        rows = await self.rest.funding_history(
            inst.inst_id,
            before=start_ms - 1 if start_ms is not None else None,
            after=end_ms + 1 if end_ms is not None else None,
            limit=max(1, min(limit, 100)),
        )
        records = [parse_funding_record(r, inst) for r in rows]
        return sorted(records, key=lambda r: r.funding_ts_ms)

    # ------------------------------------------------------------------ streams

    def stream_order_books(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[OrderBook]:
        """Books from the ``books`` channel, kept in sync by ``seqId`` and checksum."""
        return self.market.order_books(keys)

    async def run_order_books(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """The same books pushed into ``sink`` from the socket reader (see ``PushesBooks``)."""
        await self.market.run_order_books(keys, sink)

    async def run_market_data(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> None:
        """Trades (``trades``) and 24 h tickers (``tickers``) pushed into ``sink`` (``tape.py``)."""
        await run_connections(self.tape.connections(trades, tickers, sink))

    def stream_funding(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[FundingRate]:
        """Funding from ``funding-rate`` + ``mark-price`` + ``index-tickers``."""
        return self.market.funding(keys)

    def stream_user_events(self) -> AsyncIterator[UserEvent]:
        """Orders, positions and balances from the private socket (after login)."""
        if self._credentials is None:
            raise AuthError("user streams need API credentials", venue=VENUE)
        if self.private is None or self._supervisor is None:
            raise AuthError("user streams need API credentials and a started adapter", venue=VENUE)
        self.user = OkxUserStream(self.private, lambda: self._symbols)
        return self.user.events()
