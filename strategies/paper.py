"""PaperExecution: the real engine's CoreApi, with orders filled locally against live books.

Market data calls (instruments, reference prices, funding, book snapshots) go to the wrapped
CoreApi (the runners); order, position and account calls are answered by one
:class:`strategy_client.paper.PaperVenue` per exchange, fed with the books and funding rates
the strategy subscribes to (:meth:`on_book`, :meth:`on_funding`). Every order change and
funding payment is handed to ``on_event`` as the same wire events a runner would publish
(marked ``paper``), so the engine cannot tell the difference — except that nothing reaches a
venue. Perp positions accrue funding at each funding time the venue announces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeVar

from strategy_client.core_api import CoreApi
from strategy_client.errors import InvalidRequest, NotFound, VenueRejected
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
)
from strategy_client.paper import PaperConfig, PaperRejected, PaperUpdate, PaperVenue, RejectCode
from strategy_client.wire import (
    BookSnapshotReply,
    Event,
    FundingPaymentEvent,
    OrderEvent,
    OrderEventKind,
    PriceSource,
    Query,
    ReferencePrice,
    Scope,
    spec_of,
)

__all__ = ["PaperExecution", "order_event_kind"]

EventSink = Callable[[Event], None]
R = TypeVar("R")


def order_event_kind(exec_type: str, order: Order) -> OrderEventKind:
    if exec_type == "trade":
        return OrderEventKind.FILL if order.status is OrderStatus.FILLED else OrderEventKind.PARTIAL_FILL
    return {
        "new": OrderEventKind.NEW,
        "canceled": OrderEventKind.CANCEL,
        "expired": OrderEventKind.EXPIRE,
        "rejected": OrderEventKind.REJECT,
    }[exec_type]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PaperExecution:
    """A :class:`CoreApi` whose orders never leave the process (see the module docs)."""

    def __init__(
        self,
        inner: CoreApi,
        configs: dict[Exchange, PaperConfig],
        *,
        on_event: EventSink | None = None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.inner = inner
        self.venues = {ex: PaperVenue(ex, (), cfg, id_prefix=f"P{ex.value[:2].upper()}") for ex, cfg in configs.items()}
        self.on_event = on_event
        self.clock_ms = clock_ms
        self.events_emitted = 0

    async def prepare(self, keys: Iterable[InstrumentKey]) -> None:
        """Load the instruments the strategy trades (and their current books) into the paper venues."""
        for key in keys:
            venue = self._venue(key.exchange)
            venue.add_instruments([await self.inner.get_instrument(key)])
            snap = await self.inner.get_book_snapshot((key,))
            for book in snap.books:
                self.on_book(book)

    # -- market data in ------------------------------------------------------------------
    def on_book(self, book: OrderBook) -> None:
        venue = self.venues.get(book.key.exchange)
        if venue is not None and book.key in venue.instruments:
            self._emit(book.key.exchange, venue.on_book(book, self.clock_ms()))

    def on_funding(self, rate: FundingRate) -> None:
        venue = self.venues.get(rate.key.exchange)
        if venue is not None and rate.key in venue.instruments:
            self._emit(rate.key.exchange, venue.on_funding(rate, self.clock_ms()))

    def tick(self) -> None:
        """Settle funding times that passed without a funding update (call periodically)."""
        now = self.clock_ms()
        for ex, venue in self.venues.items():
            self._emit(ex, venue.settle_due(now))

    def _emit(self, exchange: Exchange, update: PaperUpdate) -> None:
        if update.empty or self.on_event is None:
            return
        for change in update.changes:
            self.events_emitted += 1
            self.on_event(
                OrderEvent(
                    kind=order_event_kind(change.exec_type, change.order),
                    order=change.order,
                    fill=change.fill,
                    paper=True,
                )
            )
        for pay in update.funding:
            self.events_emitted += 1
            self.on_event(FundingPaymentEvent(payment=pay, paper=True))

    def _venue(self, exchange: Exchange) -> PaperVenue:
        venue = self.venues.get(exchange)
        if venue is None:
            raise InvalidRequest(f"paper execution is not set up for {exchange.value}")
        return venue

    @staticmethod
    def _translate(exc: PaperRejected) -> Exception:
        if exc.code is RejectCode.NOT_FOUND:
            return NotFound(exc.message)
        if exc.code in (RejectCode.UNKNOWN_INSTRUMENT, RejectCode.INVALID):
            return InvalidRequest(exc.message)
        return VenueRejected(exc.message, venue_code=f"paper:{exc.code.value}", venue_message=exc.message)

    # -- orders and account: the paper venue ---------------------------------------------
    async def submit_order(self, order: OrderRequest, *, timeout_s: float | None = None) -> Order:
        venue = self._venue(order.key.exchange)
        try:
            placed, update = venue.submit(order, self.clock_ms())
        except PaperRejected as exc:
            raise self._translate(exc) from None
        self._emit(order.key.exchange, update)
        return placed

    async def cancel_order(
        self,
        key: InstrumentKey | Order,
        *,
        client_id: str = "",
        venue_id: str = "",
        timeout_s: float | None = None,
    ) -> Order:
        if isinstance(key, Order):
            client_id, venue_id, key = key.client_id, key.venue_id, key.key
        venue = self._venue(key.exchange)
        try:
            order, update = venue.cancel(key, self.clock_ms(), client_id=client_id or None, venue_id=venue_id or None)
        except PaperRejected as exc:
            raise self._translate(exc) from None
        self._emit(key.exchange, update)
        return order

    async def get_order(
        self, key: InstrumentKey, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order:
        try:
            return self._venue(key.exchange).get_order(key, client_id=client_id or None, venue_id=venue_id or None)
        except PaperRejected as exc:
            raise self._translate(exc) from None

    async def get_open_orders(
        self, target: Exchange | InstrumentKey, *, kind: MarketKind | None = None, timeout_s: float | None = None
    ) -> tuple[Order, ...]:
        if isinstance(target, InstrumentKey):
            return tuple(self._venue(target.exchange).open_orders(target, kind))
        return tuple(self._venue(target).open_orders(None, kind))

    async def get_position(self, key: InstrumentKey, *, timeout_s: float | None = None) -> Position | None:
        pos = self._venue(key.exchange).ledger.position(key)
        return None if pos.size == 0 else pos

    async def get_all_positions(self, exchange: Exchange, *, timeout_s: float | None = None) -> tuple[Position, ...]:
        return tuple(self._venue(exchange).positions())

    async def get_account_snapshot(self, exchange: Exchange, *, timeout_s: float | None = None) -> AccountSnapshot:
        venue = self._venue(exchange)
        self._emit(exchange, venue.settle_due(self.clock_ms()))
        return venue.account(self.clock_ms())

    async def set_leverage(self, key: InstrumentKey, leverage: int, *, timeout_s: float | None = None) -> int:
        try:
            return self._venue(key.exchange).set_leverage(key, leverage)
        except PaperRejected as exc:
            raise self._translate(exc) from None

    # -- market data: the runners ----------------------------------------------------------
    async def request(
        self, request: Query[R], route: Exchange | InstrumentKey | None = None, *, timeout_s: float | None = None
    ) -> R:
        """A market-data command of the wire registry (``Scope.MARKET``) goes to the runners; the
        account's commands (orders, positions, balances) are answered here, by the named methods."""
        spec = spec_of(request)
        if spec.scope is not Scope.MARKET:
            raise InvalidRequest(f"{spec.method}: a paper session answers it itself; call its method {spec.method}()")
        return await self.inner.request(request, route, timeout_s=timeout_s)

    async def get_instrument(self, key: InstrumentKey, *, timeout_s: float | None = None) -> Instrument:
        return await self.inner.get_instrument(key, timeout_s=timeout_s)

    async def get_reference_price(
        self, key: InstrumentKey, source: PriceSource = PriceSource.MID, *, timeout_s: float | None = None
    ) -> ReferencePrice:
        return await self.inner.get_reference_price(key, source, timeout_s=timeout_s)

    async def get_funding_rate(self, key: InstrumentKey, *, timeout_s: float | None = None) -> FundingRate:
        rate = await self.inner.get_funding_rate(key, timeout_s=timeout_s)
        self.on_funding(rate)
        return rate

    async def get_all_instruments(
        self, exchange: Exchange, *, kind: MarketKind | None = None, timeout_s: float | None = None
    ) -> tuple[Instrument, ...]:
        return await self.inner.get_all_instruments(exchange, kind=kind, timeout_s=timeout_s)

    async def get_book_snapshot(
        self, target: Exchange | InstrumentKey | tuple[InstrumentKey, ...], *, timeout_s: float | None = None
    ) -> BookSnapshotReply:
        return await self.inner.get_book_snapshot(target, timeout_s=timeout_s)


def paper_config(
    *, taker: Decimal, maker: Decimal, spot_taker: Decimal | None = None, spot_maker: Decimal | None = None
) -> PaperConfig:
    return PaperConfig(taker_fee=taker, maker_fee=maker, spot_taker_fee=spot_taker, spot_maker_fee=spot_maker)
