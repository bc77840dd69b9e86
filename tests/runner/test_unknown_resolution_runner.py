"""Issue 12 through a real ``runner bybit`` process on its embedded simulator: an order refused
with 10016 / HTTP 503 before execution becomes UNKNOWN and is then placed once by the runner's
chase (re-sent under the same orderLinkId). Before the fix it stayed UNKNOWN for the whole run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange_runner.localredis import LocalRedisServer
from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import OutcomeUnknown
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.wire import GetOrder, GetReferencePrice, OrderReply, PriceReply, PriceSource, SubmitOrder
from tests.exchanges.bybit.test_runner_e2e import BybitRunner
from tests.helpers import eventually, free_port

ROOT = Path(__file__).resolve().parents[2]
PERP = InstrumentKey(Exchange.BYBIT, "BTCUSDT", MarketKind.PERP)


@pytest.fixture
def runner(redis_server: LocalRedisServer, tmp_path: Path) -> Iterator[tuple[BybitRunner, int]]:
    log = tmp_path / "runner.log"
    name = f"bb-unk-{os.getpid()}"
    sim_port = free_port()
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
        str(sim_port),
        "--symbols",
        "BTCUSDT",
        "--no-journal",
    ]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    rp = BybitRunner(proc, name, redis_server.url, log)
    try:
        rp.record()
        yield rp, sim_port
    finally:
        rp.stop()


async def test_a_5xx_before_execution_is_placed_once_by_the_runner(runner: tuple[BybitRunner, int]) -> None:
    proc, sim_port = runner
    sim = f"http://127.0.0.1:{sim_port}"
    rec = proc.record()
    cli = ZmqCommandClient(rec.router_endpoint, name=rec.name)
    await cli.connect()
    try:
        bid = await cli.call(GetReferencePrice(key=PERP, source=PriceSource.BID))
        assert isinstance(bid, PriceReply)
        low = (bid.price.price * Decimal("0.97")).quantize(Decimal("0.1"))
        async with httpx.AsyncClient() as http:
            armed = await http.post(
                f"{sim}/_sim/faults",
                json={"fail_next": 1, "fail_status": 503, "host": "futures", "path_prefix": "/v5/order/create"},
            )
            assert armed.status_code == 200
        req = OrderRequest(
            key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.010"), price=low, client_id="busy-rt"
        )
        with pytest.raises(OutcomeUnknown):
            await cli.call(SubmitOrder(order=req), timeout_s=15)

        async def status() -> OrderStatus | None:
            rep = await cli.call(GetOrder(key=PERP, client_id="busy-rt"))
            assert isinstance(rep, OrderReply)
            return rep.order.status if rep.order.status is OrderStatus.NEW else None

        await eventually(status, timeout=20, interval=0.1, what="the order resolved to NEW")
        async with httpx.AsyncClient() as http:
            books: dict[str, Any] = (await http.get(f"{sim}/_sim/orders")).json()
            faults: dict[str, Any] = (await http.get(f"{sim}/_sim/faults")).json()
        assert [o["status"] for o in books["orders"] if o["client_order_id"] == "busy-rt"] == ["new"]
        assert faults["fired"].get("fail") == 1
    finally:
        await cli.close()
