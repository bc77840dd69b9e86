"""Every fault knob and engine control of the ``/_sim/`` admin API, observed by a client."""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from tests.helpers import eventually, free_port_pair

from .helpers import Rest, WsClient, json_of

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
         "price": "50000"}


async def _admin(rest: Rest, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    r = await rest.client.request(method, f"/_sim/{path}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def test_delay_and_clear(spot: Rest) -> None:
    await _admin(spot, "POST", "faults", {"delay_ms": 300})
    started = time.monotonic()
    assert (await spot.public("GET", "/api/v3/time")).status_code == 200
    assert time.monotonic() - started >= 0.3
    state = await _admin(spot, "DELETE", "faults")
    assert state["delay_ms"] == 0
    started = time.monotonic()
    await spot.public("GET", "/api/v3/time")
    assert time.monotonic() - started < 0.3


async def test_fail_next_is_not_executed(sim: BinanceSim, spot: Rest, fut: Rest) -> None:
    await _admin(fut, "POST", "faults", {"fail_next": 2, "fail_status": 503, "host": "spot"})
    first = await spot.signed("POST", "/api/v3/order", newClientOrderId="never", **ORDER)
    assert first.status_code == 503 and json_of(first)["code"] == -1001
    assert (await fut.public("GET", "/fapi/v1/time")).status_code == 200  # other host untouched
    second = await spot.public("GET", "/api/v3/time")
    assert second.status_code == 503
    missing = await spot.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="never")
    assert json_of(missing)["code"] == -2013  # the failed request was not executed
    await _admin(spot, "POST", "faults", {"fail_next": 1, "fail_status": 502})
    gateway = await spot.public("GET", "/api/v3/time")
    assert gateway.status_code == 502 and gateway.headers["content-type"].startswith("text/html")
    assert sim.faults.state().fired["fail"] == 3


@pytest.mark.parametrize("status", [429, 418])
async def test_throttle_next_with_retry_after(spot: Rest, status: int) -> None:
    await _admin(spot, "POST", "faults", {"throttle_next": 1, "throttle_status": status, "retry_after_s": 7})
    r = await spot.public("GET", "/api/v3/time")
    assert r.status_code == status and r.headers["Retry-After"] == "7"
    assert json_of(r)["code"] == -1003
    assert (await spot.public("GET", "/api/v3/time")).status_code == 200


async def test_real_rate_limits_429_then_418_ban_and_order_limit() -> None:
    options = BinanceSimOptions(spot_weight_per_min=30, ban_after_violations=2, ban_seconds=60,
                                futures_orders_per_10s=2)
    async with BinanceSim(port_base=free_port_pair(), options=options) as sim:
        spot, fut = Rest(sim, "spot"), Rest(sim, "futures")
        try:
            statuses = []
            for _ in range(12):
                r = await spot.public("GET", "/api/v3/exchangeInfo")
                statuses.append(r.status_code)
                if r.status_code == 429:
                    assert int(r.headers["Retry-After"]) >= 1 and json_of(r)["code"] == -1003
                if r.status_code == 418:
                    break
            assert 429 in statuses and statuses[-1] == 418, statuses
            banned = await spot.public("GET", "/api/v3/ping")
            assert banned.status_code == 418 and int(banned.headers["Retry-After"]) > 50
            assert "IP banned until" in json_of(banned)["msg"]
            codes = []
            for i in range(8):
                r = await fut.signed("POST", "/fapi/v1/order", **{**ORDER, "quantity": "0.01",
                                                                  "newClientOrderId": f"o{i}"})
                codes.append(json_of(r).get("code"))
                if r.status_code == 429:
                    assert json_of(r)["code"] == -1015 and "Retry-After" in r.headers
                    break
            assert codes[-1] == -1015, codes
        finally:
            await spot.close()
            await fut.close()


async def test_unknown_outcome_modes_leave_the_order_placed(sim: BinanceSim, spot: Rest, fut: Rest) -> None:
    await _admin(spot, "POST", "faults", {"unknown_next": 1, "unknown_mode": "error"})
    r = await spot.signed("POST", "/api/v3/order", newClientOrderId="u-err", **ORDER)
    assert r.status_code == 503 and json_of(r)["code"] == -1007
    found = json_of(await spot.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="u-err"))
    assert found["status"] == "NEW"

    await _admin(fut, "POST", "faults", {"unknown_next": 1, "unknown_mode": "drop", "host": "futures"})
    with pytest.raises(httpx.TransportError):
        await fut.signed("POST", "/fapi/v1/order", newClientOrderId="u-drop", **{**ORDER, "quantity": "0.01"})
    found = json_of(await fut.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="u-drop"))
    assert found["status"] == "NEW"

    await _admin(spot, "POST", "faults", {"unknown_next": 1, "unknown_mode": "hang"})
    spot.client.timeout = httpx.Timeout(0.5)
    with pytest.raises(httpx.ReadTimeout):
        await spot.signed("POST", "/api/v3/order", newClientOrderId="u-hang", **ORDER)
    spot.client.timeout = httpx.Timeout(10.0)
    found = json_of(await spot.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="u-hang"))
    assert found["status"] == "NEW"

    ws = await WsClient.connect(sim.urls.spot_ws_api)
    try:
        sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode=UnknownOutcomeMode.HANG,
                                    path_prefix="/ws-api/v3/order.place"))
        await ws.send({"id": "lost", "method": "order.place",
                       "params": _ws_signed(sim, {**ORDER, "newClientOrderId": "u-ws"})})
        status = await ws.request("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "u-ws"},
                                  secret=sim.api_secret, key=sim.api_key)
        assert status["result"]["status"] == "NEW"
        assert not [m for m in ws.messages if m.get("id") == "lost"]
    finally:
        await ws.close()


def _ws_signed(sim: BinanceSim, params: dict[str, Any]) -> dict[str, Any]:
    from exchanges.binance.signing import sign_ws_params

    from .helpers import now_ms

    p = {**params, "apiKey": sim.api_key, "timestamp": now_ms()}
    p["signature"] = sign_ws_params(sim.api_secret, p)
    return p


async def test_kill_websockets(sim: BinanceSim, spot: Rest) -> None:
    stream = await WsClient.connect(f"{sim.urls.spot_ws}/ws/btcusdt@depth5@100ms")
    api = await WsClient.connect(sim.urls.spot_ws_api)
    try:
        await stream.wait_for(lambda m: "lastUpdateId" in m)
        killed = await _admin(spot, "POST", "ws/kill", {"target": "streams"})
        assert killed == {"killed": 1}
        await asyncio.wait_for(stream.closed.wait(), 5)
        assert stream.ws.close_code != 1000
        assert (await api.request("ping"))["status"] == 200
        assert (await _admin(spot, "POST", "ws/kill", {}))["killed"] == 1
        await asyncio.wait_for(api.closed.wait(), 5)
        bad = await spot.client.post("/_sim/ws/kill", json={"target": "everything"})
        assert bad.status_code == 400 and "target" in bad.json()["error"]
    finally:
        await stream.close()
        await api.close()


async def test_expire_listen_keys_now(sim: BinanceSim, fut: Rest) -> None:
    key = json_of(await fut.keyed("POST", "/fapi/v1/listenKey"))["listenKey"]
    ws = await WsClient.connect(f"{sim.urls.futures_ws}/private/stream?listenKey={key}")
    try:
        assert await _admin(fut, "POST", "listen-keys/expire") == {"expired": 1}
        msg = await ws.wait_for(lambda m: m["data"]["e"] == "listenKeyExpired")
        assert msg["stream"] == key and msg["data"]["listenKey"] == key and isinstance(msg["data"]["E"], str)
        assert json_of(await fut.keyed("PUT", "/fapi/v1/listenKey"))["code"] == -1125
    finally:
        await ws.close()


async def test_stream_frame_faults(sim: BinanceSim, fut: Rest) -> None:
    sim.venue.pause(False)
    ws = await WsClient.connect(f"{sim.urls.futures_ws}/public/ws/btcusdt@depth@100ms")
    try:
        await ws.wait_for(lambda m: m.get("e") == "depthUpdate")

        def regressions() -> int:
            seen = [m["u"] for m in ws.messages if "u" in m]
            return sum(1 for a, b in itertools.pairwise(seen) if b < a)

        await _admin(fut, "POST", "faults", {"stale_frames": 1})
        await eventually(lambda: regressions() >= 1, what="a stale frame (u going back)")
        await _admin(fut, "POST", "faults", {"out_of_order_frames": 1})
        await eventually(lambda: regressions() >= 2, what="two frames swapped")
        await _admin(fut, "POST", "faults", {"malformed_frames": 1})
        await eventually(lambda: any("__malformed__" in m for m in ws.messages), what="a malformed frame")
        fired = sim.faults.state().fired
        assert fired["stale"] == 1 and fired["out_of_order"] == 1 and fired["malformed"] == 1
        frames = len(ws.messages)
        await eventually(lambda: len(ws.messages) > frames + 2, what="the stream going on")
    finally:
        await ws.close()


async def test_server_shutdown_event(sim: BinanceSim, spot: Rest) -> None:
    stream = await WsClient.connect(f"{sim.urls.spot_ws}/ws")
    api = await WsClient.connect(sim.urls.spot_ws_api)
    try:
        await api.request("userDataStream.subscribe.signature", {}, secret=sim.api_secret, key=sim.api_key)
        assert await _admin(spot, "POST", "server-shutdown") == {"sent": 2}
        event = await stream.wait_for(lambda m: m.get("e") == "serverShutdown")
        assert isinstance(event["E"], int)
        wrapped = await api.wait_for(lambda m: m.get("event", {}).get("e") == "serverShutdown")
        assert wrapped["subscriptionId"] == 0
    finally:
        await stream.close()
        await api.close()


async def test_engine_controls_and_state(sim: BinanceSim, fut: Rest) -> None:
    await _admin(fut, "POST", "engine/funding-rate", {"symbol": "BTCUSDT", "rate": "0.0005"})
    premium = json_of(await fut.public("GET", "/fapi/v1/premiumIndex", symbol="BTCUSDT"))
    assert premium["lastFundingRate"] == "0.00050000"
    before = Decimal(premium["markPrice"])
    await _admin(fut, "POST", "engine/move-index", {"underlying": "BTC", "pct": 2.0})
    after = Decimal(json_of(await fut.public("GET", "/fapi/v1/premiumIndex", symbol="BTCUSDT"))["markPrice"])
    assert after > before * Decimal("1.01")
    await _admin(fut, "POST", "engine/basis", {"symbol": "BTCUSDT", "bps": 50})
    await _admin(fut, "POST", "engine/settle-funding", {"symbol": "BTCUSDT"})
    history = json_of(await fut.public("GET", "/fapi/v1/fundingRate", symbol="BTCUSDT"))
    assert history[-1]["fundingRate"] == "0.00050000"
    await _admin(fut, "POST", "engine/liquidity", {"kind": "perp", "symbol": "BTCUSDT", "level_qty": "2"})
    depth = json_of(await fut.public("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=5))
    assert depth["bids"][0][1] == "2.000"
    assert (await _admin(fut, "POST", "engine/pause", {"paused": False}))["paused"] is False
    await _admin(fut, "POST", "engine/deposit", {"kind": "spot", "asset": "BNB", "amount": "3"})
    state = await _admin(fut, "GET", "state")
    assert state["venue"] == "binance" and "futures:BTCUSDT" in state["books"]
    assert set(state["marks"]) == {"BTCUSDT", "ETHUSDT"}
    bad = await fut.client.post("/_sim/engine/move-index", json={"underlying": "BTC"})
    assert bad.status_code == 400 and "pct" in bad.json()["error"]
    unknown = await fut.client.post("/_sim/engine/settle-funding", json={"symbol": "DOGEUSDT"})
    assert unknown.status_code == 400 and unknown.json()["reason"] == "UNKNOWN_SYMBOL"
    bad_fault = await fut.client.post("/_sim/faults", json={"fail_next": 1, "fail_status": 404})
    assert bad_fault.status_code == 400
