"""``runner okx`` as a real process on the embedded OKX simulator, driven over ZeroMQ."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from exchange_runner.localredis import LocalRedisServer
from strategy_client.command_client import ZmqCommandClient
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.wire import (
    AccountReply,
    BookEvent,
    CancelOrder,
    Event,
    FundingEvent,
    FundingReply,
    GetAccountSnapshot,
    GetAllInstruments,
    GetFundingRate,
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
    SetLeverage,
    SubmitOrder,
    decode_event,
)

from ...helpers import eventually
from .runner_proc import OkxRunner, start_okx_runner

PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.SPOT)


class _Sub:
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


@pytest.fixture(scope="module")
def okx_runner(redis_server: LocalRedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OkxRunner]:
    runner = start_okx_runner(redis_server.url, tmp_path_factory.mktemp("okx-runner"), f"okx-{os.getpid()}")
    try:
        runner.record()
        yield runner
    finally:
        assert runner.stop() == 0, runner.log.read_text()[-3000:]


@pytest.fixture()
async def client(okx_runner: OkxRunner) -> AsyncIterator[tuple[ZmqCommandClient, _Sub]]:
    rec = okx_runner.record()
    sub = _Sub(rec.pub_endpoint)
    cli = ZmqCommandClient(rec.router_endpoint, name=rec.name)
    await cli.connect()
    yield cli, sub
    await cli.close()
    await sub.close()


async def test_registered_with_canonical_symbols(okx_runner: OkxRunner) -> None:
    rec = okx_runner.record()
    assert rec.exchange is Exchange.OKX and rec.venue == "sim" and rec.mode == "live"
    assert {"okx:perp:BTCUSDT", "okx:spot:BTCUSDT", "okx:perp:ETHUSDT"} <= set(rec.symbols)


async def test_queries_in_base_units(client: tuple[ZmqCommandClient, _Sub]) -> None:
    cli, _ = client
    insts = await cli.call(GetAllInstruments(exchange=Exchange.OKX))
    assert isinstance(insts, InstrumentsReply)
    perp = next(i for i in insts.instruments if i.key == PERP)
    # BTC-USDT-SWAP: ctVal 0.01 BTC, lotSz/minSz 0.01 contracts → 0.0001 BTC
    assert perp.contract_size == Decimal("0.01") and perp.step_size == perp.min_qty == Decimal("0.0001")
    funding = await cli.call(GetFundingRate(key=PERP))
    assert isinstance(funding, FundingReply) and funding.funding.interval_ms == 8 * 3_600_000
    acct = await cli.call(GetAccountSnapshot(exchange=Exchange.OKX))
    assert isinstance(acct, AccountReply) and acct.account.margin_asset("USDT") is not None
    lev = await cli.call(SetLeverage(key=PERP, leverage=5))
    assert isinstance(lev, LeverageReply) and lev.leverage == 5


async def test_streams_flow(client: tuple[ZmqCommandClient, _Sub]) -> None:
    _, sub = client
    await eventually(lambda: len(sub.of(BookEvent)) >= 5, timeout=30, what="book events")
    await eventually(lambda: sub.of(FundingEvent), timeout=30, what="funding events")


async def test_market_order_fills_and_moves_position(client: tuple[ZmqCommandClient, _Sub]) -> None:
    cli, sub = client
    before = await cli.call(GetPosition(key=PERP))
    assert isinstance(before, PositionReply)
    size0 = before.position.size if before.position else Decimal(0)
    qty = Decimal("0.0123")  # 1.23 contracts
    rep = await cli.call(SubmitOrder(order=OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=qty)))
    assert isinstance(rep, OrderReply)
    cid = rep.order.client_id
    fills = await eventually(
        lambda: [e for e in sub.of(OrderEvent) if e.order.client_id == cid and e.kind is OrderEventKind.FILL],
        what="fill event",
    )
    assert fills[0].order.status is OrderStatus.FILLED and fills[0].order.filled_qty == qty
    assert fills[0].fill is not None and fills[0].fill.qty == qty and fills[0].fill.fee > 0
    await eventually(lambda: [e for e in sub.of(PositionEvent) if e.position.key == PERP], what="position event")
    after = await cli.call(GetPosition(key=PERP))
    assert isinstance(after, PositionReply) and after.position is not None
    assert after.position.size == size0 + qty


async def test_limit_order_rests_and_cancels(client: tuple[ZmqCommandClient, _Sub]) -> None:
    cli, sub = client
    bid = await cli.call(GetReferencePrice(key=SPOT, source=PriceSource.BID))
    assert isinstance(bid, PriceReply)
    low = (bid.price.price * Decimal("0.97")).quantize(Decimal("0.1"))
    req = OrderRequest(
        key=SPOT, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.01"), price=low, client_id="e2e-okx-1"
    )
    rep = await cli.call(SubmitOrder(order=req))
    assert isinstance(rep, OrderReply) and rep.order.client_id == "e2e-okx-1"
    await eventually(
        lambda: [e for e in sub.of(OrderEvent) if e.order.client_id == "e2e-okx-1" and e.kind is OrderEventKind.NEW],
        what="NEW event",
    )
    opened = await cli.call(GetOpenOrders(key=SPOT))
    assert isinstance(opened, OrdersReply) and "e2e-okx-1" in {o.client_id for o in opened.orders}
    canceled = await cli.call(CancelOrder(key=SPOT, client_id="e2e-okx-1"))
    assert isinstance(canceled, OrderReply) and canceled.order.status is OrderStatus.CANCELED
    await eventually(
        lambda: [e for e in sub.of(OrderEvent) if e.order.client_id == "e2e-okx-1" and e.kind is OrderEventKind.CANCEL],
        what="CANCEL event",
    )


def test_remote_venues_need_key_secret_and_passphrase(redis_server: LocalRedisServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKX_")}
    base = [sys.executable, "-m", "exchange_runner.cli", "okx", "--redis-url", redis_server.url]
    missing = subprocess.run([*base, "--venue", "testnet"], capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 2
    assert "OKX_API_KEY, OKX_API_SECRET, OKX_API_PASSPHRASE" in missing.stderr
    secrets = tmp_path / "keys.toml"
    secrets.write_text('[okx]\napi_key = "k"\napi_secret = "s"\n')
    no_pass = subprocess.run(
        [*base, "--venue", "live", "--secrets", str(secrets)], capture_output=True, text=True, env=env, timeout=60
    )
    assert no_pass.returncode == 2 and "okx also needs a passphrase" in no_pass.stderr


def test_shipped_okx_config_loads() -> None:
    from exchange_runner.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[3] / "configs" / "runner.okx.toml", {})
    assert cfg.exchange is Exchange.OKX and cfg.venue == "sim" and cfg.symbols == ["BTCUSDT", "ETHUSDT"]
    assert cfg.kinds == ["spot", "perp"]
