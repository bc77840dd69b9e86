"""``--mode paper``: the venue's market data, with orders and the account simulated locally.

:class:`PaperAdapter` wraps the real adapter. Instruments, books and funding come from the
venue; every book and funding update that passes through also feeds a
:class:`strategy_client.paper.PaperVenue`, which fills orders against it. Order, cancel, account
and position calls are answered by the paper venue and never reach the real one; the paper
venue's executions and account changes come out of :meth:`stream_user_events` exactly as a
venue's user stream would, so the runner's actors publish them on the usual topics (marked
``paper``). Paper state lives in memory: a restart starts from the configured balances.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

from exchanges import errors as xerr
from exchanges.base import (
    AccountUpdate,
    ExchangeAdapter,
    ExecType,
    FundingRateRecord,
    MarketSink,
    OrderUpdate,
    PushesMarketData,
    UserEvent,
)
from strategy_client.model import (
    AccountSnapshot,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    Position,
)
from strategy_client.paper import PaperConfig, PaperRejected, PaperUpdate, PaperVenue, RejectCode

from .bus import BlockingQueue

__all__ = ["PaperAdapter", "translate_reject"]

_ERRORS: dict[RejectCode, type[xerr.ExchangeError]] = {
    RejectCode.INSUFFICIENT_FUNDS: xerr.InsufficientFunds,
    RejectCode.WOULD_TAKE_LIQUIDITY: xerr.WouldTakeLiquidity,
    RejectCode.DUPLICATE_CLIENT_ID: xerr.DuplicateClientId,
    RejectCode.NOT_FOUND: xerr.OrderNotFound,
    RejectCode.FILTER: xerr.OrderRejected,
    RejectCode.REDUCE_ONLY: xerr.OrderRejected,
    RejectCode.NO_LIQUIDITY: xerr.NotFillable,
    RejectCode.UNKNOWN_INSTRUMENT: xerr.InvalidRequest,
    RejectCode.INVALID: xerr.InvalidRequest,
}


def translate_reject(exc: PaperRejected) -> xerr.ExchangeError:
    cls = _ERRORS.get(exc.code, xerr.OrderRejected)
    code = None if cls is xerr.InvalidRequest else f"paper:{exc.code.value}"
    return cls(exc.message, venue_code=code, venue="paper")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PaperAdapter:
    """An :class:`ExchangeAdapter` whose orders never leave the process."""

    def __init__(self, inner: ExchangeAdapter, config: PaperConfig, *, stale_book_s: float = 5.0) -> None:
        self.inner = inner
        self.stale_book_ns = int(stale_book_s * 1e9)
        self.exchange = inner.exchange
        self.venue = PaperVenue(inner.exchange, (), config)
        # executions never drop (house rule): a full queue makes the producer wait
        self.events: BlockingQueue[UserEvent] = BlockingQueue(65_536, name="paper.user_events")

    # -- lifecycle and market data: the venue's ---------------------------------------
    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def load_instruments(self) -> list[Instrument]:
        instruments = await self.inner.load_instruments()
        self.venue.add_instruments(instruments)
        return instruments

    async def fetch_order_book(self, key: InstrumentKey, depth: int = 20) -> OrderBook:
        book = await self.inner.fetch_order_book(key, depth)
        await self._emit(self.venue.on_book(book, _now_ms()))
        return book

    async def stream_order_books(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[OrderBook]:
        async for book in self.inner.stream_order_books(keys):
            update = self.venue.on_book(book, _now_ms())
            if not update.empty:
                await self._emit(update)
            yield book

    async def run_market_data(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> None:
        """Public trades and tickers are the venue's, as in live mode (``PushesMarketData``)."""
        if not isinstance(self.inner, PushesMarketData):
            raise NotImplementedError(f"the {self.exchange.value} adapter streams no trades or tickers")
        await self.inner.run_market_data(trades, tickers, sink)

    async def stream_funding(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[FundingRate]:
        async for rate in self.inner.stream_funding(keys):
            update = self.venue.on_funding(rate, _now_ms())
            if not update.empty:
                await self._emit(update)
            yield rate

    async def fetch_funding_rate(self, key: InstrumentKey) -> FundingRate:
        rate = await self.inner.fetch_funding_rate(key)
        await self._emit(self.venue.on_funding(rate, _now_ms()))
        return rate

    async def fetch_funding_history(
        self, key: InstrumentKey, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[FundingRateRecord]:
        return await self.inner.fetch_funding_history(key, start_ms, end_ms, limit)

    # -- orders and account: the paper venue's ----------------------------------------
    async def place_order(self, request: OrderRequest) -> Order:
        book = self.venue.books.get(request.key)
        if book is None or time.time_ns() - book.local_ts_ns > self.stale_book_ns:
            await self.fetch_order_book(request.key)  # never fill against a missing or stale book
        try:
            order, update = self.venue.submit(request, _now_ms())
        except PaperRejected as exc:
            raise translate_reject(exc) from None
        await self._emit(update)
        return order

    async def cancel_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        try:
            order, update = self.venue.cancel(key, _now_ms(), client_id=client_id, venue_id=venue_id)
        except PaperRejected as exc:
            raise translate_reject(exc) from None
        await self._emit(update)
        return order

    async def get_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        try:
            return self.venue.get_order(key, client_id=client_id, venue_id=venue_id)
        except PaperRejected as exc:
            raise translate_reject(exc) from None

    async def get_open_orders(self, kind: MarketKind, key: InstrumentKey | None = None) -> list[Order]:
        return self.venue.open_orders(key, kind)

    async def fetch_account(self) -> AccountSnapshot:
        await self._emit(self.venue.settle_due(_now_ms()))
        return self.venue.account(_now_ms())

    async def fetch_positions(self) -> list[Position]:
        return self.venue.positions()

    async def set_leverage(self, key: InstrumentKey, leverage: int) -> int:
        try:
            return self.venue.set_leverage(key, leverage)
        except PaperRejected as exc:
            raise translate_reject(exc) from None

    async def stream_user_events(self) -> AsyncIterator[UserEvent]:
        while True:
            yield await self.events.get()

    # -- paper venue → user stream -----------------------------------------------------
    async def _emit(self, update: PaperUpdate) -> None:
        if update.empty:
            return
        now_ns = time.time_ns()
        for change in update.changes:
            await self.events.put(
                OrderUpdate(
                    order=change.order,
                    exec_type=ExecType(change.exec_type),
                    fill=change.fill,
                    venue_ts_ms=change.order.updated_ts_ms,
                    local_ts_ns=now_ns,
                )
            )
        spot = bool(update.balances)
        perp = bool(update.positions or update.margin or update.funding)
        if spot:
            await self.events.put(
                AccountUpdate(
                    exchange=self.exchange,
                    kind=MarketKind.SPOT,
                    reason="order",
                    balances=update.balances,
                    local_ts_ns=now_ns,
                )
            )
        if perp:
            await self.events.put(
                AccountUpdate(
                    exchange=self.exchange,
                    kind=MarketKind.PERP,
                    reason="funding_fee" if update.funding else "order",
                    margin=(update.margin,) if update.margin else (),
                    positions=update.positions,
                    funding=update.funding,
                    local_ts_ns=now_ns,
                )
            )
