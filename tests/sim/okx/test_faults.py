"""Rate limits, injected faults and the ``/_sim/`` admin API of the offline OKX venue."""

from __future__ import annotations

import httpx

from exchanges.okx.sim import OkxSim, OkxSimOptions
from exchanges.sim.engine import ManualClock
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from tests.helpers import free_port

from .helpers import Rest, body_of

ORDER = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "50000", "sz": "0.001"}


async def test_rate_limit_50011() -> None:
    clock = ManualClock(1_800_000_000_000)  # window-aligned: 10 requests per 2 s per IP
    async with OkxSim(port=free_port(), clock=clock, options=OkxSimOptions(timestamp_window_s=1e9)) as sim:
        async with httpx.AsyncClient(base_url=sim.urls.rest) as client:
            codes = [(await client.get("/api/v5/public/time")).json()["code"] for _ in range(10)]
            limited = await client.get("/api/v5/public/time")
            assert codes == ["0"] * 10 and limited.status_code == 429 and limited.json()["code"] == "50011"
            assert "Retry-After" not in limited.headers  # OKX sends no rate-limit headers
            clock.advance(2000)
            assert (await client.get("/api/v5/public/time")).json()["code"] == "0"
        assert sim.dialect.core.limits.refused == 1


async def test_rate_limits_can_be_off() -> None:
    async with OkxSim(port=free_port(), options=OkxSimOptions(enforce_rate_limits=False)) as sim:
        async with httpx.AsyncClient(base_url=sim.urls.rest) as client:
            codes = {(await client.get("/api/v5/public/time")).json()["code"] for _ in range(25)}
        assert codes == {"0"} and sim.dialect.core.limits.charged == 25


async def test_fail_and_throttle_before_executing(sim: OkxSim, rest: Rest) -> None:
    sim.faults.arm(FaultRequest(fail_next=1, fail_status=503, path_prefix="/api/v5/trade"))
    failed = await rest.post("/api/v5/trade/order", ORDER)
    assert failed.status_code == 503 and body_of(failed)["code"] == "50001"
    assert sim.venue.open_orders("okx-sim-1", sim.config.symbols[0].kind) == []
    sim.faults.arm(FaultRequest(throttle_next=1, retry_after_s=3))
    throttled = await rest.get("/api/v5/public/time")
    assert throttled.status_code == 429 and body_of(throttled)["code"] == "50011"
    assert throttled.headers["Retry-After"] == "3"
    sim.faults.arm(FaultRequest(fail_next=1, fail_status=502))
    assert (await rest.get("/api/v5/public/time")).status_code == 502


async def test_unknown_outcome_executes_then_loses_the_reply(sim: OkxSim, rest: Rest) -> None:
    sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode=UnknownOutcomeMode.ERROR))
    reply = await rest.post("/api/v5/trade/order", dict(ORDER, clOrdId="u1"))
    assert reply.status_code == 400 and body_of(reply)["code"] == "50004"
    got = body_of(await rest.signed_get("/api/v5/trade/order", instId="BTC-USDT", clOrdId="u1"))
    assert got["code"] == "0" and got["data"][0]["state"] == "live"
    sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode=UnknownOutcomeMode.DROP))
    try:
        await rest.post("/api/v5/trade/order", dict(ORDER, clOrdId="u2"))
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("the connection should have been dropped")
    got = body_of(await rest.signed_get("/api/v5/trade/order", instId="BTC-USDT", clOrdId="u2"))
    assert got["data"][0]["state"] == "live"
    assert sim.faults.state().fired == {"unknown_outcome": 2}


async def test_fault_host_targets_swaps(sim: OkxSim, rest: Rest) -> None:
    sim.faults.arm(FaultRequest(fail_next=1, host="futures"))
    assert body_of(await rest.get("/api/v5/market/books", instId="BTC-USDT"))["code"] == "0"
    assert (await rest.get("/api/v5/market/books", instId="BTC-USDT-SWAP")).status_code == 503


async def test_admin(sim: OkxSim, rest: Rest) -> None:
    state = body_of(await rest.client.get("/_sim/state"))
    assert state["venue"] == "okx" and "BTC-USDT-SWAP" in state["books"] and "BTC-USDT-SWAP" in state["marks"]
    armed = await rest.client.post("/_sim/faults", json={"delay_ms": 20})
    assert body_of(armed)["delay_ms"] == 20 and sim.faults.delay_ms == 20
    assert body_of(await rest.get("/api/v5/public/time"))["code"] == "0"  # held, then answered
    await rest.client.delete("/_sim/faults")
    assert sim.faults.delay_ms == 0
    bad = await rest.client.post("/_sim/faults", json={"fail_next": -1})
    assert bad.status_code == 400 and "fail_next" in body_of(bad)["error"]
    ok = await rest.client.post("/_sim/engine/funding-rate", json={"symbol": "BTCUSDT", "rate": "0.001"})
    assert ok.status_code == 200
    f = body_of(await rest.get("/api/v5/public/funding-rate", instId="BTC-USDT-SWAP"))["data"][0]
    assert f["fundingRate"] == "0.001"
    unknown = await rest.client.get("/api/v5/nothing/here")
    assert unknown.status_code == 404 and sim.dialect.bad.snapshot()["rest:unknown-path"] == 1
