"""A real runner process on the embedded simulator: every CoreApi call, events, bad requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import InvalidRequest, NotFound
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from strategy_client.wire import (
    AccountReply,
    BookEvent,
    BookSnapshotReply,
    CancelOrder,
    ErrorCode,
    FundingEvent,
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
    InstrumentReply,
    InstrumentsReply,
    LeverageReply,
    OrderEvent,
    OrderEventKind,
    OrderReply,
    OrdersReply,
    Ping,
    Pong,
    PositionEvent,
    PositionReply,
    PositionsReply,
    PriceReply,
    PriceSource,
    RunnerStatusEvent,
    SetLeverage,
    SubmitOrder,
)

from ..helpers import eventually
from .conftest import RunnerProc
from .rawsub import Sub

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)


@pytest.fixture()
async def client(runner_proc: RunnerProc) -> AsyncIterator[tuple[ZmqCommandClient, Sub]]:
    rec = runner_proc.record()
    sub = Sub(rec.pub_endpoint)
    cli = ZmqCommandClient(rec.router_endpoint, name=rec.name)
    await cli.connect()
    yield cli, sub
    await cli.close()
    await sub.close()


async def test_registration_record(runner_proc: RunnerProc) -> None:
    rec = runner_proc.record()
    assert rec.exchange is Exchange.BINANCE and rec.mode == "live" and rec.venue == "sim"
    assert rec.router_endpoint.startswith("tcp://127.0.0.1:") and rec.protocol_version == 1
    assert "binance:perp:BTCUSDT" in rec.symbols


async def test_queries(client: tuple[ZmqCommandClient, Sub]) -> None:
    cli, _ = client
    pong = await cli.call(Ping())
    assert isinstance(pong, Pong) and pong.ready
    insts = await cli.call(GetAllInstruments(exchange=Exchange.BINANCE))
    assert isinstance(insts, InstrumentsReply) and {i.key for i in insts.instruments} >= {PERP, SPOT}
    one = await cli.call(GetInstrument(key=PERP))
    assert isinstance(one, InstrumentReply) and one.instrument.tick_size > 0
    price = await cli.call(GetReferencePrice(key=PERP))
    assert isinstance(price, PriceReply) and price.price.price > 0 and not price.price.stale
    funding = await cli.call(GetFundingRate(key=PERP))
    assert isinstance(funding, FundingReply) and funding.funding.interval_ms > 0
    mark = await eventually(lambda: _mark(cli), what="mark price")
    assert mark > 0
    acct = await cli.call(GetAccountSnapshot(exchange=Exchange.BINANCE))
    assert isinstance(acct, AccountReply) and acct.account.balance("USDT") is not None
    lev = await cli.call(SetLeverage(key=PERP, leverage=7))
    assert isinstance(lev, LeverageReply) and lev.leverage == 7
    snap = await cli.call(GetBookSnapshot(keys=(PERP,)))
    assert isinstance(snap, BookSnapshotReply) and snap.books[0].key == PERP and snap.seqs[0].seq >= 0


async def _mark(cli: ZmqCommandClient) -> Decimal | None:
    try:
        rep = await cli.call(GetReferencePrice(key=PERP, source=PriceSource.MARK))
    except NotFound:
        return None
    assert isinstance(rep, PriceReply)
    return rep.price.price


async def test_events_flow(client: tuple[ZmqCommandClient, Sub]) -> None:
    _, sub = client
    await eventually(lambda: len(sub.of(BookEvent)) >= 5, timeout=10, what="book events")
    await eventually(lambda: sub.of(FundingEvent), timeout=10, what="funding events")
    by_topic: dict[bytes, list[int]] = {}
    for t, seq, _ in sub.events:
        by_topic.setdefault(t, []).append(seq)
    for seqs in by_topic.values():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gaps on loopback


async def test_market_order_fills_and_moves_position(client: tuple[ZmqCommandClient, Sub]) -> None:
    cli, sub = client
    before = await cli.call(GetPosition(key=PERP))
    assert isinstance(before, PositionReply)
    size0 = before.position.size if before.position else Decimal(0)
    rep = await cli.call(
        SubmitOrder(order=OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.010")))
    )
    assert isinstance(rep, OrderReply)
    cid = rep.order.client_id
    fills = await eventually(
        lambda: [e for e in sub.of(OrderEvent) if e.order.client_id == cid and e.kind is OrderEventKind.FILL],
        timeout=10,
        what="fill event",
    )
    assert fills[0].order.status is OrderStatus.FILLED and fills[0].order.filled_qty == Decimal("0.010")
    await eventually(lambda: [e for e in sub.of(PositionEvent) if e.position.key == PERP], what="position event")
    after = await cli.call(GetPosition(key=PERP))
    assert isinstance(after, PositionReply) and after.position is not None
    assert after.position.size == size0 + Decimal("0.010")
    allpos = await cli.call(GetAllPositions(exchange=Exchange.BINANCE))
    assert isinstance(allpos, PositionsReply) and any(p.key == PERP for p in allpos.positions)
    got = await cli.call(GetOrder(key=PERP, client_id=cid))
    assert isinstance(got, OrderReply) and got.order.status is OrderStatus.FILLED


async def test_limit_order_rests_and_cancels(client: tuple[ZmqCommandClient, Sub]) -> None:
    cli, sub = client
    price = await cli.call(GetReferencePrice(key=SPOT, source=PriceSource.BID))
    assert isinstance(price, PriceReply)
    low = (price.price.price * Decimal("0.9")).quantize(Decimal("0.01"))
    rep = await cli.call(
        SubmitOrder(
            order=OrderRequest(
                key=SPOT,
                side=Side.BUY,
                type=OrderType.LIMIT,
                qty=Decimal("0.01"),
                price=low,
                client_id="e2e-rest-1",
            )
        )
    )
    assert isinstance(rep, OrderReply) and rep.order.client_id == "e2e-rest-1"
    await eventually(
        lambda: [e for e in sub.of(OrderEvent) if e.order.client_id == "e2e-rest-1" and e.kind is OrderEventKind.NEW],
        what="NEW event",
    )
    opened = await cli.call(GetOpenOrders(key=SPOT))
    assert isinstance(opened, OrdersReply) and "e2e-rest-1" in {o.client_id for o in opened.orders}
    canceled = await cli.call(CancelOrder(key=SPOT, client_id="e2e-rest-1"))
    assert isinstance(canceled, OrderReply) and canceled.order.status is OrderStatus.CANCELED
    await eventually(
        lambda: [
            e for e in sub.of(OrderEvent) if e.order.client_id == "e2e-rest-1" and e.kind is OrderEventKind.CANCEL
        ],
        what="CANCEL event",
    )


async def test_typed_errors(client: tuple[ZmqCommandClient, Sub]) -> None:
    cli, _ = client
    with pytest.raises(InvalidRequest) as err:
        await cli.call(GetInstrument(key=InstrumentKey(Exchange.BINANCE, "DOGEUSDT", MarketKind.PERP)))
    assert err.value.code is ErrorCode.UNKNOWN_INSTRUMENT
    with pytest.raises(InvalidRequest):
        await cli.call(GetAllInstruments(exchange=Exchange.OKX))
    with pytest.raises(NotFound):
        await cli.call(GetOrder(key=PERP, client_id="never-placed"))


async def test_late_subscriber_starts_from_a_snapshot_and_continues_without_a_gap(
    client: tuple[ZmqCommandClient, Sub], runner_proc: RunnerProc
) -> None:
    cli, early = client
    await eventually(lambda: len(early.of(BookEvent)) >= 3, timeout=10, what="book events flowing")
    late = Sub(runner_proc.record().pub_endpoint)  # joins mid-stream: it missed everything so far
    try:
        await eventually(lambda: late.of(BookEvent), timeout=10, what="late subscriber connected")
        snap = await cli.call(GetBookSnapshot(keys=(PERP,)))
        assert isinstance(snap, BookSnapshotReply) and snap.books[0].key == PERP and snap.books[0].bids
        (ts,) = snap.seqs
        topic = ts.topic
        # everything after the snapshot's seq arrives, contiguously: the snapshot + stream is the full state
        after = await eventually(
            lambda: [s for t, s, _ in late.events if t == topic and s > ts.seq] or None,
            timeout=10,
            what="book events after the snapshot",
        )
        assert after[0] == ts.seq + 1 and after == list(range(after[0], after[0] + len(after)))
    finally:
        await late.close()


async def test_queue_depths_are_observable(client: tuple[ZmqCommandClient, Sub]) -> None:
    cli, sub = client
    pong = await cli.call(Ping())
    assert isinstance(pong, Pong)
    assert {"price.feed", "order.executions", "order.inbox"} <= set(pong.queues)
    feed = pong.queues["price.feed"]
    assert feed.capacity > 0 and 0 <= feed.depth <= feed.capacity and feed.dropped >= 0
    status = await eventually(
        lambda: [e for e in sub.of(RunnerStatusEvent) if e.queues], timeout=10, what="status event with queues"
    )
    assert "price.feed" in status[-1].queues
