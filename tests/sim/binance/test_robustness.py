"""Malformed requests get Binance's error replies, are counted, and the venue keeps serving."""

from __future__ import annotations

from exchanges.binance.sim import BinanceSim

from .helpers import Rest, json_of


async def test_garbage_requests(sim: BinanceSim, spot: Rest, fut: Rest) -> None:
    client = spot.client
    cases = [
        (await client.get("/api/v3/depth?%%%&symbol=BTCUSDT"), 400, -1104),
        (await client.get("/api/v3/depth?symbol=%ff%fe"), 400, -1100),
        (await client.get("/api/v3/depth?symbol=BTCUSDT&symbol=ETHUSDT"), 400, -1101),
        (await client.get("/api/v3/depth?symbol=BTCUSDT&limit=" + "9" * 25), 400, -1100),
        (await client.get("/api/v3/order?orderId=x&symbol=BTCUSDT&timestamp=1&signature=00",
                          headers={"X-MBX-APIKEY": spot.key}), 400, -1021),
        (await client.post("/api/v3/order", content=b"\xff\xfe\x00garbage",
                           headers={"X-MBX-APIKEY": spot.key}), 400, -1100),
        (await client.post("/api/v3/order", json={"symbol": "BTCUSDT"}, headers={"X-MBX-APIKEY": spot.key}),
         400, -1102),
        (await client.put("/api/v3/order"), 404, -5000),
        (await client.get("/api/v3/exchangeInfo?symbols=[BTCUSDT"), 400, -1100),
        (await client.get("/api/v3/exchangeInfo?symbols=" + '["BTCUSDT","BTCUSDT"]'), 400, -1151),
        (await fut.client.get("/fapi/v1/depth?symbol="), 400, -1102),
        (await fut.client.get("/fapi/v2/nowhere"), 404, -5000),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert json_of(response)["code"] == code, (response.request.url, response.text)
    assert (await spot.public("GET", "/api/v3/ping")).status_code == 200
    counted = (await client.get("/_sim/state")).json()["bad_input"]
    assert sum(counted.values()) == len(cases)
    assert counted["rest:spot:-1100"] == 4
