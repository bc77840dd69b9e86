"""The protocol every venue adapter implements, and the venue-agnostic events it yields.

The runner talks to a venue only through :class:`ExchangeAdapter`. Adapters translate the
venue's payloads into the domain model (``strategy_client.model``) and the venue's errors into
``exchanges.errors``; nothing venue-specific crosses this line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec

from strategy_client.model import (
    AccountSnapshot,
    Balance,
    Exchange,
    ExecType,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarginBalance,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    Position,
    TextBook,
    Ticker,
    Trade,
)

__all__ = [
    "ExecType",
    "OrderUpdate",
    "AccountUpdate",
    "FundingRateRecord",
    "UserEvent",
    "StreamStatus",
    "ExchangeAdapter",
    "RehearsesOrders",
    "BookSink",
    "PushesBooks",
    "MarketSink",
    "PushesMarketData",
    "PushesDepthBooks",
    "ResolvesUnknown",
]


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """An execution report: the order's new state and, for a TRADE, the fill."""

    order: Order
    exec_type: ExecType
    fill: Fill | None = None
    venue_ts_ms: int = 0
    local_ts_ns: int = 0


class AccountUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Changed balances/positions only (e.g. Binance ACCOUNT_UPDATE, outboundAccountPosition).

    ``reason`` is the venue's reason normalised to lower case (``order``, ``funding_fee``,
    ``deposit``...). ``funding`` carries settled funding payments when the reason is funding.
    """

    exchange: Exchange
    kind: MarketKind
    reason: str
    balances: tuple[Balance, ...] = ()
    margin: tuple[MarginBalance, ...] = ()
    positions: tuple[Position, ...] = ()
    funding: tuple[FundingPayment, ...] = ()
    venue_ts_ms: int = 0
    local_ts_ns: int = 0


class FundingRateRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A past funding settlement (rate history)."""

    key: InstrumentKey
    rate: Decimal
    funding_ts_ms: int
    mark_price: Decimal | None = None


class StreamStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Emitted by streams on connect/disconnect so the runner can flag staleness."""

    stream: str
    connected: bool
    reason: str = ""
    ts_ns: int = 0


UserEvent = OrderUpdate | AccountUpdate | StreamStatus


@runtime_checkable
class ExchangeAdapter(Protocol):
    """One venue (all its market kinds) as the runner sees it. All calls are async.

    Orders: ``place_order`` always sends a client id (generating one if the request has
    none). If the outcome is unknown (timeout, 5xx, dropped connection) the adapter queries
    the venue by client id before returning; if that is still inconclusive it raises
    :class:`exchanges.errors.UnknownOutcome` and never resends on its own.
    """

    exchange: Exchange

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def load_instruments(self) -> list[Instrument]: ...
    async def fetch_order_book(self, key: InstrumentKey, depth: int = 20) -> OrderBook: ...

    async def place_order(self, request: OrderRequest) -> Order: ...
    async def cancel_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order: ...
    async def get_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order: ...
    async def get_open_orders(self, kind: MarketKind, key: InstrumentKey | None = None) -> list[Order]: ...

    async def fetch_account(self) -> AccountSnapshot: ...
    async def fetch_positions(self) -> list[Position]: ...
    async def set_leverage(self, key: InstrumentKey, leverage: int) -> int: ...
    async def fetch_funding_rate(self, key: InstrumentKey) -> FundingRate: ...
    async def fetch_funding_history(
        self, key: InstrumentKey, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[FundingRateRecord]: ...

    def stream_order_books(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[OrderBook]: ...
    def stream_funding(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[FundingRate]: ...
    def stream_user_events(self) -> AsyncIterator[UserEvent]: ...


@runtime_checkable
class RehearsesOrders(Protocol):
    """An adapter that can build an order's venue request without sending it: the runner's
    warmer (``exchange_runner/warmth.py``) has it done every millisecond or so, so the order
    path's code and data are still in the CPU's caches when a real order comes."""

    def rehearse_order(self, request: OrderRequest) -> None:
        """Everything :meth:`ExchangeAdapter.place_order` does to ``request`` before the send
        that has no effect (params, signature, encoding); nothing sent, used up or counted."""
        ...


BookSink = Callable[[OrderBook | TextBook], None]
"""Where a pushing adapter puts each book: the consumer's one bounded drop-oldest queue. A
:class:`TextBook` (levels as the venue's decimal text) is the same book, cheaper to carry."""


@runtime_checkable
class PushesBooks(Protocol):
    """An adapter that pushes books into its consumer's queue from the socket reader: one
    bounded queue between the venue and the price actor, no relay task (the runner uses
    :meth:`ExchangeAdapter.stream_order_books` for an adapter without it)."""

    async def run_order_books(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """Keep the book streams of ``keys`` running until cancelled, calling ``sink(book)``
        (quick, never raising) for every book; stream status goes where the adapter reports it."""
        ...


MarketSink = Callable[[Trade | Ticker], None]
"""Where a pushing adapter puts each public trade and 24 h ticker (quick, never raising)."""


@runtime_checkable
class PushesMarketData(Protocol):
    """An adapter that streams public trades and 24 h tickers (docs/market-data.md, "Channels"):
    each frame parsed in the socket reader and the items handed to ``sink``."""

    async def run_market_data(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> None:
        """Keep the trade streams of ``trades`` and the ticker streams of ``tickers`` running
        until cancelled (either may be empty, not both); stream status goes where the adapter
        reports it."""
        ...


@runtime_checkable
class PushesDepthBooks(Protocol):
    """An adapter that keeps full-depth books from the venue's diff stream and REST snapshots with
    sequence checks (Binance ``@depth@100ms``; docs/market-data.md, "Channels": ``depth``)."""

    async def run_depth_books(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """Keep the books of ``keys`` until cancelled, calling ``sink(book)`` (its top levels)
        for every change; a gap resynchronises the book from a new snapshot."""
        ...


@runtime_checkable
class ResolvesUnknown(Protocol):
    """An adapter whose venue documents how a placement with an unknown outcome is settled.

    The runner's order actor stays the single owner of the order's fate: its chase calls
    :meth:`resolve_unknown` (instead of a plain query by client id) for an UNKNOWN order and
    applies whatever the venue says. The venue-specific guarantee lives in the adapter only:

    * Bybit: ``orderLinkId`` is the venue's idempotency key (10016 → "retry with the same
      orderLinkId", 110072/170141 → duplicate). While the original request is young the adapter
      re-sends the identical request under the same id — placed once, or refused as a duplicate
      and then found — and past that window it only queries.
    * OKX: every placement carries an ``expTime`` deadline; after it (plus clock slack) a
      "not found" by ``clOrdId`` is certain, so the answer is REJECTED, ``not_placed``.
    """

    async def resolve_unknown(self, request: OrderRequest, first_sent_ms: int) -> Order | None:
        """The venue's answer for ``request`` (its ``client_id`` set; ``first_sent_ms`` = local
        wall-clock ms when the runner first handed it to the adapter), or None: still unknown.

        Raises :class:`exchanges.errors.ExchangeError` when the venue could not be asked (the
        caller asks again later)."""
        ...
