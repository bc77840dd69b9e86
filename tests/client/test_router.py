"""ZmqRouter against real runner processes: every call, typed errors, concurrency, two runners."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from strategy_client import CoreApi, ZmqRouter
from strategy_client.errors import AmbiguousRoute, InvalidRequest, NotFound, RunnerUnavailable, VenueRejected
from strategy_client.events import Received
from strategy_client.model import (
    AccountSnapshot,
    Exchange,
    FundingRate,
    Instrument,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from strategy_client.wire import BookEvent, ErrorCode, ReferencePrice, TopicKind, topic

from ..helpers import eventually
from ..integration.conftest import RunnerProc, start_runner
from .helpers import PERP, SPOT, resting_buy


async def test_every_call_returns_domain_types(runner_a: RunnerProc, client_redis: str) -> None:
    async with ZmqRouter(client_redis) as api:
        await api.wait_for(runner_a.name)
        assert isinstance(api, CoreApi)
        insts = await api.get_all_instruments("binance")
        assert all(isinstance(i, Instrument) for i in insts) and {i.key for i in insts} >= {PERP, SPOT}
        perps = await api.get_all_instruments(Exchange.BINANCE, kind="perp")
        assert perps and all(i.key.kind is MarketKind.PERP for i in perps)
        inst = await api.get_instrument("binance:perp:BTCUSDT")
        assert inst.key == PERP and inst.tick_size > 0
        mid = await api.get_reference_price(PERP)
        bid = await api.get_reference_price(PERP, "bid")
        ask = await api.get_reference_price(PERP, "ask")
        assert isinstance(mid, ReferencePrice) and bid.price <= ask.price and mid.price > 0
        funding = await api.get_funding_rate(PERP)
        assert isinstance(funding, FundingRate) and funding.key == PERP and funding.interval_ms > 0
        acct = await api.get_account_snapshot("binance")
        assert isinstance(acct, AccountSnapshot) and acct.balance("USDT") is not None
        assert await api.set_leverage(PERP, 3) == 3
        snap = await api.get_book_snapshot(PERP)
        assert [b.key for b in snap.books] == [PERP] and snap.seqs[0].topic == topic(
            TopicKind.BOOK, Exchange.BINANCE, PERP
        )

        # an order's whole life: submit (client id assigned here), find, cancel
        spot_bid = (await api.get_reference_price(SPOT, "bid")).price
        order = await api.submit_order(resting_buy(SPOT, spot_bid))
        assert isinstance(order, Order) and order.client_id.startswith("tb-") and order.status is OrderStatus.NEW
        assert order.client_id in {o.client_id for o in await api.get_open_orders("binance")}
        assert order.client_id in {o.client_id for o in await api.get_open_orders(SPOT)}
        assert order.client_id not in {o.client_id for o in await api.get_open_orders("binance", kind="perp")}
        got = await api.get_order(SPOT, client_id=order.client_id)
        assert got.venue_id == order.venue_id
        by_venue_id = await api.get_order(SPOT, venue_id=order.venue_id)
        assert by_venue_id.client_id == order.client_id
        canceled = await api.cancel_order(order)
        assert canceled.status is OrderStatus.CANCELED

        # a market order moves the position (the fill arrives on the user stream)
        before = await api.get_position(PERP)
        size0 = before.size if before is not None else Decimal(0)
        filled = await api.submit_order(
            OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.002"))
        )
        assert filled.key == PERP

        async def moved() -> bool:
            pos = await api.get_position(PERP)
            return pos is not None and pos.size == size0 + Decimal("0.002")

        await eventually(moved, what="position after the fill")
        assert PERP in {p.key for p in await api.get_all_positions("binance")}


async def test_errors_are_typed(runner_a: RunnerProc, client_redis: str) -> None:
    async with ZmqRouter(client_redis) as api:
        await api.wait_for(runner_a.name)
        bid = (await api.get_reference_price(PERP, "bid")).price
        with pytest.raises(VenueRejected) as rejected:
            await api.submit_order(resting_buy(PERP, bid, qty="1000"))
        assert rejected.value.venue_code == "-2019" and "Margin" in rejected.value.venue_message
        assert not rejected.value.retryable
        with pytest.raises(NotFound):
            await api.get_order(PERP, client_id="never-placed")
        with pytest.raises(InvalidRequest) as unknown:
            await api.get_instrument("binance:perp:DOGEUSDT")
        assert unknown.value.code is ErrorCode.UNKNOWN_INSTRUMENT
        with pytest.raises(InvalidRequest) as lev:
            await api.set_leverage(PERP, 500)
        assert lev.value.code is ErrorCode.INVALID_PARAMS
        # refused before anything is sent, naming the argument
        with pytest.raises(InvalidRequest, match=r"order\.qty: floats are not exact"):
            await api.submit_order(OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=0.01))  # type: ignore[arg-type]
        with pytest.raises(InvalidRequest, match=r"order\.price: a limit order needs a price"):
            await api.submit_order(OrderRequest(key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal(1)))
        with pytest.raises(InvalidRequest, match="key: instrument key 'BTCUSDT'"):
            await api.get_instrument("BTCUSDT")
        with pytest.raises(InvalidRequest, match="source"):
            await api.get_reference_price(PERP, "last")
        with pytest.raises(RunnerUnavailable, match="no okx runner registered"):
            await api.get_instrument("okx:perp:BTC-USDT-SWAP")


async def test_many_calls_in_flight_from_many_tasks(runner_a: RunnerProc, client_redis: str) -> None:
    async with ZmqRouter(client_redis) as api:
        await api.wait_for(runner_a.name)
        client = api.client(runner_a.name)
        calls0 = client.calls

        async def reader(i: int) -> list[object]:
            out: list[object] = []
            for j in range(15):
                if (i + j) % 3 == 0:
                    out.append(await api.get_reference_price(PERP))
                elif (i + j) % 3 == 1:
                    out.append(await api.get_instrument(SPOT))
                else:
                    out.append(await api.get_open_orders("binance"))
            return out

        bid = (await api.get_reference_price(SPOT, "bid")).price

        async def trader(i: int) -> tuple[str, str]:
            placed = await api.submit_order(resting_buy(SPOT, bid, client_id=f"many-{i}"))
            gone = await api.cancel_order(SPOT, client_id=placed.client_id)
            return placed.client_id, gone.client_id

        results = await asyncio.gather(*(reader(i) for i in range(20)), *(trader(i) for i in range(10)))
        readers, traders = results[:20], results[20:]
        for i, out in enumerate(readers):
            for j, value in enumerate(out):
                expected = (ReferencePrice, Instrument, tuple)[(i + j) % 3]
                assert isinstance(value, expected)
        # every reply went to the call that asked for it
        assert traders == [(f"many-{i}", f"many-{i}") for i in range(10)]
        assert client.calls - calls0 >= 20 * 15 + 10 * 2
        assert client.in_flight == 0 and client.late_replies == 0 and client.timeouts == 0


@pytest.fixture()
def runner_b_factory(client_redis: str, tmp_path: Path) -> Iterator[list[RunnerProc]]:
    started: list[RunnerProc] = []
    yield started
    for rp in started:
        rp.stop()


async def test_second_runner_appears_is_addressed_by_name_and_leaves(
    runner_a: RunnerProc, client_redis: str, tmp_path: Path, runner_b_factory: list[RunnerProc]
) -> None:
    async with ZmqRouter(client_redis, poll_s=0.2) as api:
        await api.wait_for(runner_a.name)
        assert await api.get_reference_price(PERP)  # one Binance runner: routed by key
        # a second Binance runner registers while the router runs (perp-perp across two simulators)
        b = start_runner(client_redis, tmp_path, f"{runner_a.name}-b")
        runner_b_factory.append(b)
        await api.wait_for(b.name, timeout_s=30)
        assert {runner_a.name, b.name} <= set(api.runners())
        with pytest.raises(AmbiguousRoute, match=r"router.bind"):
            await api.get_reference_price(PERP)
        a_api, b_api = api.runner(runner_a.name), api.runner(b.name)
        assert isinstance(b_api, CoreApi)
        bid = (await b_api.get_reference_price(SPOT, "bid")).price
        order = await b_api.submit_order(resting_buy(SPOT, bid, client_id="on-b-only"))
        assert "on-b-only" in {o.client_id for o in await b_api.get_open_orders("binance")}
        assert "on-b-only" not in {o.client_id for o in await a_api.get_open_orders("binance")}
        api.bind("binance", b.name)  # now routing by key goes to b
        assert "on-b-only" in {o.client_id for o in await api.get_open_orders(SPOT)}

        # one stream merged from both runners
        async with await api.subscribe(kinds="book", keys=[PERP], snapshot=False) as events:

            async def both() -> bool:
                item = await events.get(1.0)
                if isinstance(item, Received):
                    seen.add(item.runner)
                    assert isinstance(item.event, BookEvent) and item.event.book.key == PERP
                return seen >= {runner_a.name, b.name}

            seen: set[str] = set()
            await eventually(both, what="books from both runners")

        await b_api.cancel_order(order)
        b.stop()  # a clean stop deregisters: the router drops it without a restart
        await eventually(lambda: b.name not in api.runners(), what="runner b gone from the router")
        with pytest.raises(RunnerUnavailable, match="no runner named"):
            await b_api.get_reference_price(PERP)
        api.unbind("binance")
        assert await api.get_reference_price(PERP)  # back to the only runner


async def test_calls_report_to_the_client_observer(runner_a: RunnerProc, client_redis: str) -> None:
    """Every typed call runs in telemetry's client span: a strategy's metrics see method and outcome."""
    from strategy_client.telemetry import set_client_observer

    seen: list[tuple[str, str]] = []
    set_client_observer(lambda method, outcome, seconds: seen.append((method, outcome)))
    try:
        async with ZmqRouter(client_redis) as api:
            await api.wait_for(runner_a.name)
            await api.get_reference_price(PERP)
            with pytest.raises(NotFound):
                await api.get_order(PERP, client_id="never-placed")
    finally:
        set_client_observer(None)
    assert ("get_reference_price", "ok") in seen and ("get_order", "not_found") in seen
