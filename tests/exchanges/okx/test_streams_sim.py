"""``OkxAdapter`` streams against the offline venue: books integrity and resync under frame
faults, books without a snapshot, funding, private data, login failure, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from decimal import Decimal

import pytest

from exchanges.base import AccountUpdate, OrderUpdate, StreamStatus
from exchanges.credentials import Credentials
from exchanges.okx.adapter import OkxAdapter
from exchanges.okx.private import OkxPrivateSocket
from exchanges.okx.sim import OkxSim, OkxSimOptions
from exchanges.sim.faults import FaultRequest
from exchanges.transport.backoff import Backoff
from exchanges.transport.clock import ServerClock
from strategy_client.model import (
    Exchange,
    FundingRate,
    InstrumentKey,
    MarketKind,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from tests.helpers import free_port

PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.SPOT)
FAST = Backoff(initial_s=0.05, max_s=0.2)


async def _sim(**options: object) -> OkxSim:
    sim = OkxSim(port=free_port(), seed=9, step_ms=50, options=OkxSimOptions(ws_connects_per_s=0, **options))  # type: ignore[arg-type]
    await sim.start()
    return sim


async def _adapter(sim: OkxSim, passphrase: str | None = None) -> OkxAdapter:
    creds = Credentials(sim.api_key, sim.api_secret, passphrase or sim.passphrase)
    # a refused login never connects the order socket: do not wait for it (orders use REST)
    ad = OkxAdapter(sim.urls, creds, ws_backoff=FAST, use_ws_orders=passphrase is None, snapshot_grace_updates=2)
    await ad.start()
    return ad


@pytest.fixture
async def venue() -> AsyncIterator[tuple[OkxSim, OkxAdapter]]:
    sim = await _sim()
    ad = await _adapter(sim)
    try:
        yield sim, ad
    finally:
        await ad.close()
        await sim.stop()


def _matches_engine(sim: OkxSim, book: OrderBook) -> bool:
    kind = book.key.kind
    engine = sim.venue.book(kind, "BTCUSDT", len(book.bids))
    return book.sequence == engine.update_id and [(b.price, b.qty) for b in book.bids] == list(engine.bids)


async def test_books_resync_after_frame_faults(venue: tuple[OkxSim, OkxAdapter]) -> None:
    sim, ad = venue
    seen: list[OrderBook] = []
    armed = settled = False
    async with asyncio.timeout(20), aclosing(ad.stream_order_books([PERP, SPOT])) as books:
        async for book in books:
            seen.append(book)
            if not armed and {b.key for b in seen} == {PERP, SPOT}:
                armed = True  # both books live: now lose, repeat and reorder frames of the swap
                sim.faults.arm(FaultRequest(stale_frames=1, out_of_order_frames=2, malformed_frames=1, host="futures"))
            faults_done = sum(sim.faults.state().stream.values()) == 0
            if armed and faults_done and ad.market.resyncs.total() >= 1 and not settled:
                settled = True
                sim.venue.pause(True)  # from here the last push equals the engine's book
            if settled and book.key == PERP and _matches_engine(sim, book):
                break
            sim.venue.move_index("BTC", 0.01)
    assert ad.market.errors.counts["books:malformed"] == 1 and ad.market.resyncs["gap"] >= 1
    assert all(b.bids[0].price < b.asks[0].price for b in seen)
    perp = [b for b in seen if b.key == PERP]
    assert perp[0].bids[0].qty == Decimal("0.5")  # 50 contracts of 0.01 BTC


async def test_books_without_venue_snapshot_sync_from_rest() -> None:
    sim = await _sim(book_snapshot=False, book_checksum=False)
    ad = await _adapter(sim)
    try:
        got: list[OrderBook] = []
        async with aclosing(ad.stream_order_books([PERP])) as books:
            async for book in books:
                got.append(book)
                sim.venue.move_index("BTC", 0.01)
                if len(got) >= 3:
                    break
        assert got[0].sequence > 0 and got[-1].sequence > got[0].sequence
        assert ad.market.resyncs.total() == 0
    finally:
        await ad.close()
        await sim.stop()


async def test_pushed_books_without_venue_snapshot_sync_from_rest() -> None:
    """Push mode: frames applied in the socket reader; the REST snapshot is fetched by a task
    of its own while updates are buffered, then joined on seqId."""
    sim = await _sim(book_snapshot=False)
    ad = await _adapter(sim)
    try:
        got: list[OrderBook] = []

        def sink(book: OrderBook) -> None:
            got.append(book)
            sim.venue.move_index("BTC", 0.01)

        task = asyncio.create_task(ad.run_order_books([PERP, SPOT], sink))
        try:
            async with asyncio.timeout(20):
                while {b.key for b in got} != {PERP, SPOT} or len(got) < 6:
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        perp = [b.sequence for b in got if b.key == PERP]
        assert perp == sorted(perp) and perp[0] > 0
        assert ad.market.resyncs.total() == 0 and ad.market.stats() == {}
    finally:
        await ad.close()
        await sim.stop()


async def test_funding_stream(venue: tuple[OkxSim, OkxAdapter]) -> None:
    sim, ad = venue
    sim.venue.set_funding_rate("BTCUSDT", Decimal("0.0004"))
    rates: list[FundingRate] = []
    async with aclosing(ad.stream_funding([PERP])) as stream:
        async for rate in stream:
            rates.append(rate)
            if rate.rate == Decimal("0.0004"):
                break
    last = rates[-1]
    assert last.interval_ms == 8 * 3_600_000 and last.mark_price > 0 and last.index_price > 0
    assert last.next_funding_ts_ms == sim.venue.mark("BTCUSDT").next_funding_ms


async def test_user_stream_orders_positions_and_reconnect(venue: tuple[OkxSim, OkxAdapter]) -> None:
    sim, ad = venue
    statuses: list[StreamStatus] = []
    updates: list[OrderUpdate] = []
    accounts: list[AccountUpdate] = []
    async with aclosing(ad.stream_user_events()) as events:
        async for ev in events:
            if isinstance(ev, StreamStatus):
                statuses.append(ev)
                if ev.connected and len(statuses) == 1:
                    req = OrderRequest(
                        key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.02"), client_id="tb-u-1"
                    )
                    await ad.place_order(req)
                if ev.connected and ev.reason.startswith("reconnected"):
                    break
            elif isinstance(ev, OrderUpdate):
                updates.append(ev)
                if ev.order.status is OrderStatus.FILLED:
                    sim.dialect.kill_ws(None, "user")  # the connection drops: reconnect, log in again
            else:
                accounts.append(ev)
    assert [u.order.status for u in updates] == [OrderStatus.NEW, OrderStatus.FILLED]
    fill = updates[1].fill
    assert fill is not None and fill.qty == Decimal("0.02") and fill.fee > 0 and updates[1].order.client_id == "tb-u-1"
    positions = [p for a in accounts for p in a.positions]
    assert any(p.key == PERP and p.size == Decimal("0.02") for p in positions)
    assert any(a.balances for a in accounts)
    assert [s.connected for s in statuses] == [True, False, True] and ad.user is not None
    assert ad.user.stats().reconnects == 1


async def test_login_failure_is_reported_and_retried() -> None:
    sim = await _sim()
    ad = await _adapter(sim, passphrase="wrong")
    try:
        statuses: list[StreamStatus] = []
        async with aclosing(ad.stream_user_events()) as events:
            async for ev in events:
                assert isinstance(ev, StreamStatus)
                statuses.append(ev)
                if len([s for s in statuses if s.reason.startswith("login failed:")]) >= 2:
                    break
        assert not any(s.connected for s in statuses)
        assert "60024" in statuses[0].reason
        assert ad.user is not None and ad.user.stats().login_failures >= 2
    finally:
        await ad.close()
        await sim.stop()


async def test_text_ping_keeps_an_idle_private_socket_open() -> None:
    sim = await _sim(idle_timeout_s=0.3, account_push_s=0, positions_push_s=0)
    creds = Credentials(sim.api_key, sim.api_secret, sim.passphrase)
    socket = OkxPrivateSocket(sim.urls.ws_private, creds, ServerClock(), ping_after_s=0.1, backoff=FAST)
    task = asyncio.create_task(socket.run())
    try:
        await asyncio.wait_for(socket.wait_connected(), 10)

        async def idle_long_enough() -> None:
            while socket.stats().pings_sent < 5:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(idle_long_enough(), 10)  # 5 pings: well past the 0.3 s idle cut
        assert socket.connected and socket.stats().connects == 1 and socket.stats().reconnects == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()


async def test_funding_payment_from_the_positions_channel(venue: tuple[OkxSim, OkxAdapter]) -> None:
    sim, ad = venue
    sim.venue.set_funding_rate("BTCUSDT", Decimal("0.001"))
    paid: list[AccountUpdate] = []
    async with asyncio.timeout(20), aclosing(ad.stream_user_events()) as events:
        async for ev in events:
            if isinstance(ev, StreamStatus) and ev.connected:
                buy = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.1"))
                await ad.place_order(buy)
            elif isinstance(ev, AccountUpdate) and any(p.size for p in ev.positions) and not paid:
                if ev.reason == "funding_fee":
                    paid.append(ev)
                    break
                mark = sim.venue.mark("BTCUSDT").mark
                sim.venue.settle_funding_now("BTCUSDT")
    (payment,) = paid[0].funding
    assert payment.key == PERP and payment.asset == "USDT"
    assert payment.amount == -(Decimal("0.1") * mark * Decimal("0.001"))  # longs pay a positive rate
