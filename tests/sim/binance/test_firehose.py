"""The bench firehose (``/_sim/bench/firehose``) and the tick-to-order latency probe."""

from __future__ import annotations

from typing import Any

import httpx

from exchanges.binance.sim import BinanceSim
from tests.helpers import eventually

from .helpers import WsClient


def _depth(messages: list[Any]) -> list[dict[str, Any]]:
    return [m["data"] for m in messages if isinstance(m, dict) and "data" in m and "u" in m["data"]]


async def test_firehose_rate_ids_and_periodic_frames_pause_and_resume(sim: BinanceSim) -> None:
    url = sim.urls.futures_ws + "/public/stream?streams=btcusdt@depth5@100ms"
    ws = await WsClient.connect(url)
    async with httpx.AsyncClient(base_url=sim.urls.futures_rest) as http:
        try:
            await ws.wait_for(lambda m: "u" in m["data"], what="a periodic frame")
            state = (await http.post("/_sim/bench/firehose", json={"rate": 2000})).json()
            assert state["running"] and state["config"]["rate"] == 2000
            assert ["futures", "depth_partial", "BTCUSDT", 5, 100] in state["streams"]
            await eventually(lambda: len(_depth(ws.messages)) > 300, what="firehose frames")
            stopped = (await http.post("/_sim/bench/firehose", json={"rate": 0})).json()
            assert stopped["frames"] >= 300 and stopped["config"]["rate"] == 0
            ids = [d["u"] for d in _depth(ws.messages)]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)  # fresh, increasing ids
            data = _depth(ws.messages)
            assert all(d["pu"] + 1 == d["U"] for d in data[-50:]) and all(d["b"] and d["a"] for d in data[-50:])
            seen = len(ws.messages)
            sim.venue.pause(False)  # the engine's book moves again: periodic frames have news to send
            await http.delete("/_sim/bench/firehose")
            await ws.wait_for(lambda m: ws.messages.index(m) >= seen and "u" in m["data"], what="periodic frame again")
            after = [d["u"] for d in _depth(ws.messages)]
            assert after == sorted(after)  # the periodic frames continue from the firehose's ids
        finally:
            await ws.close()


async def test_bad_config_is_refused_and_changes_nothing(sim: BinanceSim) -> None:
    async with httpx.AsyncClient(base_url=sim.urls.spot_rest) as http:
        for body in ({"rate": -1}, {"rate": 10, "trigger_symbol": "NOPEUSDT"}, {"speed": 1}, {"trigger_pct": 90}):
            resp = await http.post("/_sim/bench/firehose", json=body)
            assert resp.status_code == 400 and resp.json()["error"]
        assert (await http.get("/_sim/bench/firehose")).json()["running"] is False


async def _trigger(stream: WsClient, http: httpx.AsyncClient) -> int:
    """Start the firehose with a trigger every 20 ms (prices 2 % lower) and return the update id
    ``u`` of the first trigger frame ``stream`` (BTCUSDT depth5) receives."""
    await stream.wait_for(lambda m: "u" in m["data"], what="a periodic frame")
    ask = float(stream.messages[-1]["data"]["a"][0][0])
    config = {"rate": 100, "trigger_symbol": "btcusdt", "trigger_interval_ms": 20, "trigger_pct": 2.0}
    assert (await http.post("/_sim/bench/firehose", json=config)).status_code == 200
    trigger = await stream.wait_for(
        lambda m: float(m["data"]["a"][0][0]) < ask * 0.985, what="a trigger frame (ask 2 % lower)"
    )
    return int(trigger["data"]["u"])


async def test_probe_pairs_a_trigger_frame_with_the_order_named_after_it(sim: BinanceSim) -> None:
    stream = await WsClient.connect(sim.urls.futures_ws + "/public/stream?streams=btcusdt@depth5@100ms")
    api = await WsClient.connect(sim.urls.futures_ws_api)
    async with httpx.AsyncClient(base_url=sim.urls.futures_rest) as http:
        try:
            u = await _trigger(stream, http)
            # the probe stamps arrival before the request is handled: an unsigned order is enough
            reply = await api.request("order.place", {"symbol": "BTCUSDT", "newClientOrderId": f"tto-{u}"})
            assert reply["status"] >= 400
            await http.delete("/_sim/bench/firehose")
            probe = (await http.get("/_sim/bench/probe")).json()
            pair = next(p for p in probe["pairs"] if p[0] == u)
            assert pair[1] < pair[2] and pair[3] <= pair[4]  # sent before it arrived, on both clocks
            assert probe["triggers_sent"] >= 1 and probe["orders_arrived"] == 1
            await http.delete("/_sim/bench/probe")
            assert (await http.get("/_sim/bench/probe")).json()["pairs"] == []
        finally:
            await stream.close()
            await api.close()


async def test_probe_also_sees_orders_sent_over_rest(sim: BinanceSim) -> None:
    """A REST-order client is measured on the same clock: ``newClientOrderId=tto-<u>`` in the
    query (futures) or the form body (spot), stamped once read, before it is handled."""
    stream = await WsClient.connect(sim.urls.futures_ws + "/public/stream?streams=btcusdt@depth5@100ms")
    async with (
        httpx.AsyncClient(base_url=sim.urls.futures_rest) as fut,
        httpx.AsyncClient(base_url=sim.urls.spot_rest) as spot,
    ):
        try:
            u = await _trigger(stream, fut)
            # unsigned orders are refused after the stamp: enough for the probe
            assert (
                await fut.post("/fapi/v1/order", params={"symbol": "BTCUSDT", "newClientOrderId": f"tto-{u}"})
            ).status_code >= 400
            form = {"symbol": "BTCUSDT", "newClientOrderId": "tto-7", "side": "BUY"}
            assert (await spot.post("/api/v3/order", data=form)).status_code >= 400
            await fut.get("/fapi/v1/order", params={"newClientOrderId": "tto-8"})  # not an order placement
            probe = (await fut.get("/_sim/bench/probe")).json()
            pair = next(p for p in probe["pairs"] if p[0] == u)
            assert pair[1] < pair[2] and pair[3] <= pair[4]
            assert probe["orders_arrived"] == 2 and probe["orders_without_trigger"] == 1  # tto-7 had no trigger
            await fut.delete("/_sim/bench/firehose")
            await fut.post("/fapi/v1/order", params={"newClientOrderId": "tto-9"})  # firehose off: not probed
            assert (await fut.get("/_sim/bench/probe")).json()["orders_arrived"] == 2
        finally:
            await stream.close()
