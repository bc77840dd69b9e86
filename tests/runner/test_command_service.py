"""The command service, unit by unit: the registry-driven dispatch over real actors, a fake
venue adapter and a settable clock (no process, no network)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from exchange_runner.actors.funding import FundingPoller
from exchange_runner.service import CommandService
from strategy_client.model import (
    Exchange,
    FundingRate,
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TradingState,
)
from strategy_client.wire import (
    COMMANDS,
    AccountReply,
    BookSnapshotReply,
    CancelOrder,
    ErrorCode,
    ErrorReply,
    FundingReply,
    GetAccountSnapshot,
    GetAllInstruments,
    GetAllPositions,
    GetBookSnapshot,
    GetFundingRate,
    GetInstrument,
    GetOpenOrders,
    GetOrder,
    GetPosition,
    GetReferencePrice,
    GetRiskStatus,
    Header,
    InstrumentReply,
    InstrumentsReply,
    LeverageReply,
    OrderReply,
    OrdersReply,
    Ping,
    Pong,
    PositionReply,
    PositionsReply,
    PriceReply,
    ReplayEvents,
    Reply,
    Request,
    SetLeverage,
    SetTradingState,
    SubmitOrder,
)
from tests.runner.fakes import PERP, SPOT, FakeHost, fake_host, running, served

D = Decimal
BYBIT_PERP = InstrumentKey(exchange=Exchange.BYBIT, symbol="BTCUSDT", kind=MarketKind.PERP)
UNLISTED = InstrumentKey(exchange=Exchange.BINANCE, symbol="ETHUSDT", kind=MarketKind.PERP)


class Rig:
    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.clock = host.adapter.clock
        self.service = CommandService(host)

    async def start(self, req: Request, timeout_ms: int = 2000) -> Reply:
        return await served(self.service, req, timeout_ms)

    async def handle(self, req: Request, timeout_ms: int = 2000) -> Reply:
        return await self.service.handle(req, Header(timeout_ms=timeout_ms))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with fake_host() as host, running(*host.actors()):
        yield Rig(host)


def _error(reply: Reply) -> ErrorReply:
    assert isinstance(reply, ErrorReply), reply
    return reply


async def test_every_command_of_the_registry_is_served(rig: Rig) -> None:
    """The service knows a way to answer each declared command; a command no actor answers
    stops the runner at start rather than being answered "unhandled" at run time."""
    served = set(rig.service._answered) | set(rig.service._planned) | set(rig.service._awaited)
    assert served == set(COMMANDS)

    class Mute(FundingPoller):
        ANSWERS = ()

    rig.host.funding = Mute(rig.host.adapter, rig.host.publisher, [PERP])
    with pytest.raises(TypeError, match="get_funding_rate"):
        CommandService(rig.host)


@pytest.mark.parametrize(
    "req",
    [
        GetPosition(key=BYBIT_PERP),
        GetPosition(key=UNLISTED),
        GetFundingRate(key=UNLISTED),
        GetReferencePrice(key=BYBIT_PERP),
        GetOrder(key=UNLISTED, client_id="x"),
        GetOpenOrders(key=UNLISTED),
        GetAllPositions(exchange=Exchange.OKX),
        GetAccountSnapshot(exchange=Exchange.BYBIT),
        GetInstrument(key=UNLISTED),
        GetAllInstruments(exchange=Exchange.OKX),
        CancelOrder(key=BYBIT_PERP, client_id="x"),
        SubmitOrder(order=OrderRequest(key=UNLISTED, side=Side.BUY, type=OrderType.MARKET, qty=D("1"))),
    ],
    ids=lambda r: type(r).__name__,
)
async def test_a_request_for_another_exchange_or_instrument_is_refused_before_any_actor(rig: Rig, req: Request) -> None:
    before = {a.name: a.handled_at_once + a.inbox.depth for a in rig.host.actors()}
    reply = _error(await rig.start(req))
    assert reply.code is ErrorCode.UNKNOWN_INSTRUMENT
    assert {a.name: a.handled_at_once + a.inbox.depth for a in rig.host.actors()} == before


async def test_reads_are_answered_by_the_actor_that_declares_them(rig: Rig) -> None:
    adapter = rig.host.adapter
    adapter.book(PERP, "100", "102")
    adapter.funding[PERP] = FundingRate(
        key=PERP,
        rate=D("0.0001"),
        interval_ms=28_800_000,
        next_funding_ts_ms=1,
        mark_price=D("101"),
        index_price=D("101"),
        ts_ms=5,
    )
    price = await rig.start(GetReferencePrice(key=PERP))
    assert isinstance(price, PriceReply) and price.price.price == D("101")
    funding = await rig.start(GetFundingRate(key=PERP))
    assert isinstance(funding, FundingReply) and funding.funding.rate == D("0.0001")
    account = await rig.start(GetAccountSnapshot(exchange=Exchange.BINANCE))
    assert isinstance(account, AccountReply) and account.account.balances[0].free == D("1000")
    assert await rig.start(GetPosition(key=PERP)) == PositionReply(position=None)
    assert await rig.start(GetAllPositions(exchange=Exchange.BINANCE)) == PositionsReply(positions=())
    assert await rig.start(GetOpenOrders()) == OrdersReply(orders=())
    # the same through ``handle`` (the path a full inbox takes)
    assert await rig.handle(GetFundingRate(key=PERP)) == funding


async def test_errors_are_translated_at_the_boundary(rig: Rig) -> None:
    spot_funding = _error(await rig.start(GetFundingRate(key=SPOT)))
    assert spot_funding.code is ErrorCode.NOT_FOUND and "not a perpetual" in spot_funding.message
    no_gate = _error(await rig.start(GetRiskStatus()))
    assert no_gate.code is ErrorCode.NOT_FOUND
    halt = _error(await rig.start(SetTradingState(state=TradingState.HALTED)))
    assert halt.code is ErrorCode.NOT_FOUND and "no risk gate" in halt.message
    missing = _error(await rig.start(GetOrder(key=PERP, client_id="nobody")))
    assert missing.code is ErrorCode.NOT_FOUND and missing.venue_code == "-2013"
    no_journal = _error(await rig.handle(ReplayEvents()))
    assert no_journal.code is ErrorCode.NOT_FOUND


async def test_submit_get_cancel_through_the_service(rig: Rig) -> None:
    req = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.01"), price=D("90"))
    placed = await rig.start(SubmitOrder(order=req))
    assert isinstance(placed, OrderReply) and placed.order.status is OrderStatus.NEW
    cid = placed.order.client_id
    assert cid.startswith("tb-")  # named by the service before it was sent
    assert placed.order.created_ts_ms == rig.clock.wall  # the actor's injected wall clock
    got = await rig.start(GetOrder(key=PERP, client_id=cid))
    assert isinstance(got, OrderReply) and got.order.venue_id == placed.order.venue_id
    open_now = await rig.start(GetOpenOrders(key=PERP))
    assert isinstance(open_now, OrdersReply) and [o.client_id for o in open_now.orders] == [cid]
    canceled = await rig.start(CancelOrder(key=PERP, venue_id=placed.order.venue_id))
    assert isinstance(canceled, OrderReply) and canceled.order.status is OrderStatus.CANCELED


async def test_an_unanswered_submit_is_outcome_unknown_never_retryable(rig: Rig) -> None:
    rig.host.adapter.hold = asyncio.Event()  # the venue never answers
    req = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=D("0.01"), client_id="held-1")
    reply = _error(await rig.start(SubmitOrder(order=req), timeout_ms=1000))
    assert reply.code is ErrorCode.OUTCOME_UNKNOWN and not reply.retryable and "held-1" in reply.message
    order = await rig.start(GetOrder(key=PERP, client_id="held-1"))
    assert isinstance(order, OrderReply) and order.order.status is OrderStatus.UNKNOWN
    rig.host.adapter.hold.set()


async def test_runner_level_requests(rig: Rig) -> None:
    pong = await rig.start(Ping())
    assert isinstance(pong, Pong) and pong.exchange is Exchange.BINANCE and pong.runner_version == "test"
    inst = await rig.start(GetInstrument(key=PERP))
    assert isinstance(inst, InstrumentReply) and inst.instrument.key == PERP
    perps = await rig.start(GetAllInstruments(exchange=Exchange.BINANCE, kind=MarketKind.PERP))
    assert isinstance(perps, InstrumentsReply) and [i.key for i in perps.instruments] == [PERP]
    assert rig.service.start(SetLeverage(key=PERP, leverage=5), Header()) is None  # awaited: handle()
    assert await rig.handle(SetLeverage(key=PERP, leverage=5)) == LeverageReply(key=PERP, leverage=5)
    assert _error(await rig.handle(SetLeverage(key=PERP, leverage=500))).code is ErrorCode.INVALID_PARAMS
    rig.host.adapter.book(SPOT, "10", "11")
    assert isinstance(await rig.start(GetReferencePrice(key=SPOT)), PriceReply)  # the actor fetched the book
    snap = await rig.handle(GetBookSnapshot(keys=(SPOT,)))
    assert isinstance(snap, BookSnapshotReply) and [b.key for b in snap.books] == [SPOT]
    assert [s.seq for s in snap.seqs] == [0]
