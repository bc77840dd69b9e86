"""Runner restarts: SIGKILL with open orders and a position on a venue that survives; Redis restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import redis

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from strategy_client.command_client import ZmqCommandClient
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
    GetOpenOrders,
    GetOrder,
    GetPosition,
    GetReferencePrice,
    OrderReply,
    OrdersReply,
    PositionReply,
    PriceReply,
    PriceSource,
    SubmitOrder,
    decode_record,
    runner_key,
)

from ..helpers import eventually, eventually_sync
from .conftest import ROOT, start_runner

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


def start_sim(port_base: int, log: Path) -> subprocess.Popen[bytes]:
    fh = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchanges.sim", "binance", "--port-base", str(port_base)],
        cwd=ROOT,
        stdout=fh,
        stderr=subprocess.STDOUT,
    )
    fh.close()

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port_base + 1}/fapi/v1/ping", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(up, timeout=30, what="simulator up")
    return proc


async def test_sigkill_restart_reconciles_without_duplicates(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port_base = free_port_pair()
    sim = start_sim(port_base, tmp_path / "sim.log")
    try:
        first = start_runner(
            redis_server.url,
            tmp_path,
            "restart-a",
            "--sim-connect",
            f"127.0.0.1:{port_base}",
            sim_port_base=port_base,
        )
        rec = first.record()
        async with ZmqCommandClient(rec.router_endpoint) as cli:
            bid = await cli.call(GetReferencePrice(key=PERP, source=PriceSource.BID))
            assert isinstance(bid, PriceReply)
            low = (bid.price.price * Decimal("0.9")).quantize(Decimal("0.1"))
            await cli.call(
                SubmitOrder(
                    order=OrderRequest(
                        key=PERP,
                        side=Side.BUY,
                        type=OrderType.LIMIT,
                        qty=Decimal("0.005"),
                        price=low,
                        client_id="keep-me",
                    )
                )
            )
            filled = await cli.call(
                SubmitOrder(
                    order=OrderRequest(
                        key=PERP,
                        side=Side.SELL,
                        type=OrderType.MARKET,
                        qty=Decimal("0.020"),
                        client_id="short-1",
                    )
                )
            )
            assert isinstance(filled, OrderReply)
        first.stop(signal.SIGKILL)
        # the dead runner's record is still in Redis until its TTL: the new one replaces it
        second = start_runner(
            redis_server.url,
            tmp_path,
            "restart-a",
            "--sim-connect",
            f"127.0.0.1:{port_base}",
            sim_port_base=port_base,
        )
        try:
            rec2 = second.record()
            assert rec2.pid != rec.pid
            async with ZmqCommandClient(rec2.router_endpoint) as cli:
                opened = await cli.call(GetOpenOrders(key=PERP))
                assert isinstance(opened, OrdersReply)
                assert [o.client_id for o in opened.orders] == ["keep-me"]  # known again, and only once
                pos = await cli.call(GetPosition(key=PERP))
                assert isinstance(pos, PositionReply) and pos.position is not None
                assert pos.position.size == Decimal("-0.020")
                got = await cli.call(GetOrder(key=PERP, client_id="short-1"))
                assert isinstance(got, OrderReply) and got.order.status is OrderStatus.FILLED
        finally:
            second.stop()
    finally:
        sim.terminate()
        sim.wait(timeout=10)


async def test_runner_reregisters_after_redis_restart(tmp_path: Path) -> None:
    server = LocalRedisServer()
    server.start()
    runner = start_runner(server.url, tmp_path, "rr")
    try:
        rec = runner.record()
        server.stop()  # Redis goes away: the runner keeps running
        assert runner.proc.poll() is None
        server.start()  # same port, empty data set
        client = redis.Redis.from_url(server.url)

        def registered() -> bool:
            raw = client.get(runner_key("rr"))
            return raw is not None and decode_record(raw).pid == rec.pid

        await eventually(registered, timeout=15, what="re-registration")
        client.close()
        assert runner.proc.poll() is None
    finally:
        runner.stop()
        server.stop()
