"""``runner bybit`` as a real process on the embedded Bybit simulator, registered in the suite's
own Redis, traded through a ZmqCommandClient: queries, a fill with its events, a resting order
and its cancel, leverage, typed errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import zmq
import zmq.asyncio

from exchange_runner.localredis import LocalRedisServer
from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import InvalidRequest
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.wire import (
    AccountReply,
    BookEvent,
    CancelOrder,
    ErrorCode,
    Event,
    FundingReply,
    GetAccountSnapshot,
    GetAllInstruments,
    GetFundingRate,
    GetInstrument,
    GetOpenOrders,
    GetPosition,
    GetReferencePrice,
    InstrumentsReply,
    LeverageReply,
    OrderEvent,
    OrderEventKind,
    OrderReply,
    OrdersReply,
    PositionEvent,
    PositionReply,
    PriceReply,
    PriceSource,
    RunnerRecord,
    SetLeverage,
    SubmitOrder,
    decode_event,
    decode_record,
    runner_key,
)
from tests.helpers import eventually, free_port

ROOT = Path(__file__).resolve().parents[3]
PERP = InstrumentKey(Exchange.BYBIT, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.BYBIT, "BTCUSDT", MarketKind.SPOT)


@dataclass
class BybitRunner:
    proc: subprocess.Popen[bytes]
    name: str
    redis_url: str
    log: Path

    def record(self, timeout: float = 30.0) -> RunnerRecord:
        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                raw = client.get(runner_key(self.name))
                if raw is not None:
                    rec = decode_record(raw)
                    if rec.status == "ready" and rec.pid == self.proc.pid:
                        return rec
                if self.proc.poll() is not None:
                    raise AssertionError(f"runner exited: {self.log.read_text()[-3000:]}")
                time.sleep(0.05)
        finally:
            client.close()
        raise AssertionError(f"runner {self.name} not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(timeout=5)
        return self.proc.returncode


@pytest.fixture(scope="module")
def runner(redis_server: LocalRedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BybitRunner]:
    log = tmp_path_factory.mktemp("bybit-runner") / "runner.log"
    name = f"bb-{os.getpid()}"
    args = [
        sys.executable,
        "-m",
        "exchange_runner.cli",
        "bybit",
        "--redis-url",
        redis_server.url,
        "--name",
        name,
        "--sim-port-base",
        str(free_port()),
        "--symbols",
        "BTCUSDT,ETHUSDT",
    ]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    rp = BybitRunner(proc, name, redis_server.url, log)
    try:
        rp.record()
        yield rp
    finally:
        rp.stop()


class Sub:
    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.events: list[Event] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            _topic, _header, body = await self.sock.recv_multipart()
            self.events.append(decode_event(body))

    def of(self, cls: type) -> list[Event]:
        return [e for e in self.events if isinstance(e, cls)]

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.sock.close(linger=0)


@pytest.fixture()
async def client(runner: BybitRunner) -> AsyncIterator[tuple[ZmqCommandClient, Sub]]:
    rec = runner.record()
    sub = Sub(rec.pub_endpoint)
    cli = ZmqCommandClient(rec.router_endpoint, name=rec.name)
    await cli.connect()
    yield cli, sub
    await cli.close()
    await sub.close()


async def test_registration_and_queries(runner: BybitRunner, client: tuple[ZmqCommandClient, Sub]) -> None:
    rec = runner.record()
    assert rec.exchange is Exchange.BYBIT and rec.venue == "sim" and "bybit:perp:BTCUSDT" in rec.symbols
    cli, sub = client
    insts = await cli.call(GetAllInstruments(exchange=Exchange.BYBIT))
    assert isinstance(insts, InstrumentsReply) and {PERP, SPOT} <= {i.key for i in insts.instruments}
    one = await cli.call(GetInstrument(key=PERP))
    assert one.instrument.tick_size == Decimal("0.10") and one.instrument.step_size == Decimal("0.001")  # type: ignore[attr-defined]
    price = await cli.call(GetReferencePrice(key=PERP))
    assert isinstance(price, PriceReply) and price.price.price > 0
    funding = await cli.call(GetFundingRate(key=PERP))
    assert isinstance(funding, FundingReply) and funding.funding.interval_ms == 8 * 3_600_000
    acct = await cli.call(GetAccountSnapshot(exchange=Exchange.BYBIT))
    assert isinstance(acct, AccountReply) and acct.account.balance("USDT") is not None
    lev = await cli.call(SetLeverage(key=PERP, leverage=6))
    assert isinstance(lev, LeverageReply) and lev.leverage == 6
    await eventually(lambda: [e for e in sub.of(BookEvent) if e.book.key == SPOT], what="spot book events")
    with pytest.raises(InvalidRequest) as err:
        await cli.call(GetInstrument(key=InstrumentKey(Exchange.BYBIT, "DOGEUSDT", MarketKind.PERP)))
    assert err.value.code is ErrorCode.UNKNOWN_INSTRUMENT


async def test_market_order_fills_with_events_and_position(client: tuple[ZmqCommandClient, Sub]) -> None:
    cli, sub = client
    before = await cli.call(GetPosition(key=PERP))
    assert isinstance(before, PositionReply)
    size0 = before.position.size if before.position is not None else Decimal(0)
    rep = await cli.call(
        SubmitOrder(
            order=OrderRequest(
                key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.010"), client_id="bb-e2e-1"
            )
        )
    )
    assert isinstance(rep, OrderReply) and rep.order.venue_id
    fills = await eventually(
        lambda: [e for e in sub.of(OrderEvent) if e.order.client_id == "bb-e2e-1" and e.fill is not None],
        what="fill event",
    )
    assert fills[0].fill.qty == Decimal("0.010") and fills[-1].order.status is OrderStatus.FILLED  # type: ignore[attr-defined]
    await eventually(lambda: [e for e in sub.of(PositionEvent) if e.position.key == PERP], what="position event")
    after = await cli.call(GetPosition(key=PERP))
    assert isinstance(after, PositionReply) and after.position is not None
    assert after.position.size == size0 + Decimal("0.010")


async def test_limit_order_rests_and_cancels(client: tuple[ZmqCommandClient, Sub]) -> None:
    cli, sub = client
    bid = await cli.call(GetReferencePrice(key=SPOT, source=PriceSource.BID))
    assert isinstance(bid, PriceReply)
    low = (bid.price.price * Decimal("0.97")).quantize(Decimal("0.01"))
    rep = await cli.call(
        SubmitOrder(
            order=OrderRequest(
                key=SPOT, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.01"), price=low, client_id="bb-e2e-rest"
            )
        )
    )
    assert isinstance(rep, OrderReply) and rep.order.status is OrderStatus.NEW
    opened = await cli.call(GetOpenOrders(key=SPOT))
    assert isinstance(opened, OrdersReply) and "bb-e2e-rest" in {o.client_id for o in opened.orders}
    canceled = await cli.call(CancelOrder(key=SPOT, client_id="bb-e2e-rest"))
    assert isinstance(canceled, OrderReply) and canceled.order.status is OrderStatus.CANCELED
    await eventually(
        lambda: [
            e for e in sub.of(OrderEvent) if e.order.client_id == "bb-e2e-rest" and e.kind is OrderEventKind.CANCEL
        ],
        what="CANCEL event",
    )
