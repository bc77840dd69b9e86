"""The in-process API: ``async with BinanceSim(...)`` and the thread runner for sync code."""

from __future__ import annotations

import httpx
import pytest

from exchanges.binance.signing import encode_params, sign_rest
from exchanges.binance.sim import BinanceSim
from exchanges.binance.urls import BinanceUrls
from exchanges.sim.faults import FaultRequest
from exchanges.sim.server import PortInUse
from tests.helpers import free_port_pair

from .helpers import now_ms


def test_threaded_sim_for_synchronous_code() -> None:
    port = free_port_pair()
    with BinanceSim.in_thread(port_base=port, seed=5, symbols=["ETHUSDT"], step_ms=20) as sim:
        assert sim.urls == BinanceUrls.sim(port)
        assert httpx.get(f"{sim.urls.spot_rest}/api/v3/ping").json() == {}
        sim.call(lambda s: s.venue.pause(True))
        assert sim.call(lambda s: s.venue.paused) is True
        sim.faults.arm(FaultRequest(fail_next=1, fail_status=500))
        assert httpx.get(f"{sim.urls.futures_rest}/fapi/v1/ping").status_code == 500
        query = encode_params({"timestamp": now_ms()})
        r = httpx.get(f"{sim.urls.spot_rest}/api/v3/account?{query}&signature={sign_rest(sim.api_secret, query)}",
                      headers={"X-MBX-APIKEY": sim.api_key})
        assert r.status_code == 200 and {b["asset"] for b in r.json()["balances"]} >= {"USDT"}
        symbols = [s["symbol"] for s in httpx.get(f"{sim.urls.futures_rest}/fapi/v1/exchangeInfo").json()["symbols"]]
        assert symbols == ["ETHUSDT"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.urls.spot_rest}/api/v3/ping")


async def test_async_context_and_port_in_use() -> None:
    port = free_port_pair()
    async with BinanceSim(port_base=port, seed=9) as first:
        assert first.steps >= 0 and first.endpoints()["spot WS-API"] == f"ws://127.0.0.1:{port}/ws-api/v3"
        second = BinanceSim(port_base=port)
        with pytest.raises(PortInUse) as info:
            await second.start()
        assert info.value.port == port
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{first.urls.spot_rest}/api/v3/ping")).status_code == 200
    with pytest.raises(ValueError):
        BinanceSim(port_base=0)
    with pytest.raises(ValueError):
        BinanceSim(port_base=port, symbols=["NOPE"])
