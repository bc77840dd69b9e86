"""A user stream that first connects after the runner's first reads: what it missed is read again.

The runner reads the account, positions and open orders at start while its user streams
connect. A stream that connects only after those reads (here: the venue refuses the futures
listenKey until the test lets it) cannot deliver what happened in between — a fill's
``ACCOUNT_UPDATE`` pushed to nobody. A failed first connect reports no disconnect, so the first
``connected`` used to look like nothing had been missed, and the fill's position stayed unknown
until the periodic reconcile (30 s). The first connect after the reads now reads them again.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx

from exchange_runner.ports import free_port_pair
from exchanges.binance.sim import BinanceSim
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.router import ZmqRouter
from tests.integration.conftest import start_runner

from ..helpers import eventually

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


async def test_a_fill_before_the_user_stream_first_connects_reaches_the_position(
    redis_url: str, tmp_path: Path
) -> None:
    port = free_port_pair()
    with BinanceSim.in_thread(port_base=port, seed=5):
        admin = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
        refuse = {"fail_next": 100_000, "fail_status": 503, "host": "futures", "path_prefix": "/fapi/v1/listenKey"}
        assert (await admin.post("/_sim/faults", json=refuse)).status_code == 200
        rp = start_runner(redis_url, tmp_path, "late-user", "--sim-connect", f"127.0.0.1:{port}")
        try:
            rp.record(timeout=60)
            async with ZmqRouter(redis_url) as router:
                await router.wait_for(Exchange.BINANCE, timeout_s=30)
                qty = Decimal("0.01")
                order = await router.submit_order(
                    OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=qty, client_id="late-user-1")
                )
                assert order.status is OrderStatus.FILLED, order
                assert await router.get_position(PERP) is None  # nobody heard the fill's ACCOUNT_UPDATE
                refused = (await admin.get("/_sim/faults")).json()["fired"]
                assert (await admin.delete("/_sim/faults")).status_code == 200  # the listenKey is given from now on
                pos = await eventually(
                    lambda: router.get_position(PERP),
                    timeout=15,  # the periodic reconcile is 30 s away
                    what=f"the position after the user stream connected (listenKey refused: {refused})",
                )
                assert pos.size == qty
            log = rp.log.read_text()
            assert "connected after the first reads: reconciling" in log, log[-3000:]
        finally:
            await admin.aclose()
            assert rp.stop() == 0, rp.log.read_text()[-3000:]
