"""In-process fakes for the runner's actors and command service: a scripted venue adapter, a
settable clock, a publisher that keeps what it published, and a command host — no process, no
network (the publisher's PUB socket is bound to an ``inproc://`` address)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import zmq

from exchange_runner.actors.account import AccountManager
from exchange_runner.actors.base import Actor
from exchange_runner.actors.funding import FundingPoller
from exchange_runner.actors.market import MarketDataManager
from exchange_runner.actors.order import OrderManager
from exchange_runner.actors.position import PositionManager
from exchange_runner.actors.price import PriceManager
from exchange_runner.bars import BarAggregator, BarsConfig
from exchange_runner.config import RunnerConfig
from exchange_runner.journaling import RunnerJournal
from exchange_runner.publisher import Publisher, TextBookEvent
from exchange_runner.quality import QualityConfig, QualityControl
from exchange_runner.service import CommandService
from exchange_runner.zmq_server import Pending
from exchanges import errors as xerr
from exchanges.base import FundingRateRecord, UserEvent
from strategy_client.model import (
    AccountSnapshot,
    Balance,
    BookLevel,
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
    TextBook,
)
from strategy_client.wire import BookEvent, Header, QueueStat, Reply, Request, TopicKind

D = Decimal
SPOT = InstrumentKey(exchange=Exchange.BINANCE, symbol="BTCUSDT", kind=MarketKind.SPOT)
PERP = InstrumentKey(exchange=Exchange.BINANCE, symbol="BTCUSDT", kind=MarketKind.PERP)
_ids = itertools.count(1)


def instrument(key: InstrumentKey) -> Instrument:
    return Instrument(
        key=key,
        base="BTC",
        quote="USDT",
        settle="USDT" if key.kind is MarketKind.PERP else "",
        tick_size=D("0.1"),
        step_size=D("0.001"),
        min_qty=D("0.001"),
        min_notional=D("5"),
    )


class FakeClock:
    """Monotonic seconds and wall milliseconds that move only when told."""

    def __init__(self, mono: float = 1000.0, wall_ms: int = 1_700_000_000_000) -> None:
        self.mono = mono
        self.wall = wall_ms

    def monotonic(self) -> float:
        return self.mono

    def wall_ms(self) -> int:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += int(seconds * 1000)


class FakeAdapter:
    """A venue that answers from what the test put in it. ``hold`` makes placements wait until
    the test releases them (``release``); ``fail_place`` makes the next placement raise."""

    exchange = Exchange.BINANCE

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.orders: dict[str, Order] = {}
        self.open_order_queries: list[tuple[MarketKind, InstrumentKey | None]] = []  # (kind, key) asked
        self.placed: list[OrderRequest] = []
        self.books: dict[InstrumentKey, OrderBook] = {}
        self.funding: dict[InstrumentKey, FundingRate] = {}
        self.positions: list[Position] = []
        self.leverage: dict[InstrumentKey, int] = {}
        self.hold: asyncio.Event | None = None
        self.fail_place: BaseException | None = None
        self.lose_answer = False  # the next placement reaches the venue, its answer is lost

    def book(self, key: InstrumentKey, bid: str, ask: str) -> OrderBook:
        book = OrderBook(
            key=key,
            bids=(BookLevel(D(bid), D("1")),),
            asks=(BookLevel(D(ask), D("1")),),
            venue_ts_ms=self.clock.wall,
            local_ts_ns=self.clock.wall * 1_000_000,
            sequence=next(_ids),
        )
        self.books[key] = book
        return book

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def load_instruments(self) -> list[Instrument]:
        return [instrument(SPOT), instrument(PERP)]

    async def fetch_order_book(self, key: InstrumentKey, depth: int = 20) -> OrderBook:
        return self.books[key]

    async def place_order(self, request: OrderRequest) -> Order:
        self.placed.append(request)
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_place is not None:
            exc, self.fail_place = self.fail_place, None
            raise exc
        order = Order.from_request(request, request.client_id, status=OrderStatus.NEW, created_ts_ms=self.clock.wall)
        order = msgspec.structs.replace(order, venue_id=f"v{next(_ids)}")
        self.orders[order.client_id] = order
        if self.lose_answer:
            self.lose_answer = False
            raise xerr.UnknownOutcome(f"answer to {order.client_id} lost", venue="binance")
        return order

    async def cancel_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        order = self._find(client_id, venue_id)
        done = msgspec.structs.replace(order, status=OrderStatus.CANCELED)
        self.orders[done.client_id] = done
        return done

    async def get_order(
        self, key: InstrumentKey, *, client_id: str | None = None, venue_id: str | None = None
    ) -> Order:
        return self._find(client_id, venue_id)

    def _find(self, client_id: str | None, venue_id: str | None) -> Order:
        for order in self.orders.values():
            if (client_id and order.client_id == client_id) or (venue_id and order.venue_id == venue_id):
                return order
        raise xerr.OrderNotFound("no such order", venue="binance", venue_code="-2013")

    async def get_open_orders(self, kind: MarketKind, key: InstrumentKey | None = None) -> list[Order]:
        self.open_order_queries.append((kind, key))
        return [o for o in self.orders.values() if not o.is_final and o.key.kind is kind and key in (None, o.key)]

    async def fetch_account(self) -> AccountSnapshot:
        return AccountSnapshot(
            exchange=Exchange.BINANCE,
            balances=(Balance(asset="USDT", free=D("1000"), locked=D("0")),),
            ts_ms=self.clock.wall,
        )

    async def fetch_positions(self) -> list[Position]:
        return list(self.positions)

    async def set_leverage(self, key: InstrumentKey, leverage: int) -> int:
        self.leverage[key] = leverage
        return leverage

    async def fetch_funding_rate(self, key: InstrumentKey) -> FundingRate:
        return self.funding[key]

    async def fetch_funding_history(
        self, key: InstrumentKey, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[FundingRateRecord]:
        return []

    def stream_order_books(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[OrderBook]:
        raise NotImplementedError

    def stream_funding(self, keys: Sequence[InstrumentKey]) -> AsyncIterator[FundingRate]:
        raise NotImplementedError

    def stream_user_events(self) -> AsyncIterator[UserEvent]:
        raise NotImplementedError


class RecordingPublisher(Publisher):
    """A real publisher on an ``inproc://`` PUB socket that also keeps every event."""

    def __init__(self, ctx: zmq.Context[Any]) -> None:
        sock: zmq.Socket[bytes] = ctx.socket(zmq.PUB)
        sock.bind(f"inproc://fake-runner-{next(_ids)}")
        super().__init__(sock, Exchange.BINANCE)
        self.sock = sock
        self.events: list[tuple[TopicKind, Any]] = []

    def publish(self, kind: TopicKind, event: Any, key: InstrumentKey | None = None, **kw: Any) -> None:
        self.events.append((kind, event))
        super().publish(kind, event, key, **kw)

    def publish_book(self, book: OrderBook | TextBook) -> None:
        self.events.append(
            (TopicKind.BOOK, TextBookEvent(book=book) if isinstance(book, TextBook) else BookEvent(book=book))
        )
        super().publish_book(book)

    def close(self) -> None:
        self.sock.close(linger=0)


class FakeHost:
    """A :class:`~exchange_runner.service.CommandHost`: real actors over the fake adapter."""

    def __init__(self, clock: FakeClock, ctx: zmq.Context[Any]) -> None:
        self.exchange = Exchange.BINANCE
        self.version = "test"
        self.config = RunnerConfig(exchange=Exchange.BINANCE, venue_timeout_s=2.0)
        self.ready = True
        self.adapter = FakeAdapter(clock)
        self.instruments = {SPOT: instrument(SPOT), PERP: instrument(PERP)}
        self.publisher = RecordingPublisher(ctx)
        self.journal: RunnerJournal | None = None
        keys = sorted(self.instruments)
        self.prices = PriceManager(self.adapter, self.publisher, keys, fetch_timeout_s=1.0)
        self.orders = OrderManager(
            self.adapter, self.publisher, self.instruments, monotonic=clock.monotonic, wall_ms=clock.wall_ms
        )
        self.positions = PositionManager(self.adapter, self.publisher)
        self.account = AccountManager(self.adapter, self.publisher)
        self.funding = FundingPoller(self.adapter, self.publisher, [PERP])
        self.market = MarketDataManager(
            Exchange.BINANCE, self.publisher, QualityControl(QualityConfig()), BarAggregator(BarsConfig(), {})
        )

    def queue_stats(self) -> dict[str, QueueStat]:
        return {}

    def actors(self) -> tuple[Any, ...]:
        return (self.prices, self.orders, self.positions, self.account, self.funding, self.market)


@contextlib.asynccontextmanager
async def running(*actors: Actor[Any]) -> AsyncIterator[None]:
    """The actors' loops run as tasks for the block, and are cancelled after it."""
    tasks = [asyncio.create_task(a.run()) for a in actors]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def fake_host(clock: FakeClock | None = None) -> AsyncIterator[FakeHost]:
    """A :class:`FakeHost` (actors not started) on a ZeroMQ context of its own."""
    ctx: zmq.Context[Any] = zmq.Context()
    host = FakeHost(clock or FakeClock(), ctx)
    try:
        yield host
    finally:
        host.publisher.close()
        ctx.term()


async def served(service: CommandService, req: Request, timeout_ms: int = 2000) -> Reply:
    """``req`` down the ``ZmqServer`` fast path: a reply now, or the actor's future finished."""
    got = service.start(req, Header(timeout_ms=timeout_ms))
    if isinstance(got, Pending):
        await asyncio.wait([got.future], timeout=got.timeout_s)
        return got.finish(got.future)
    assert got is not None, f"{type(req).__name__} is left to handle()"
    return got
