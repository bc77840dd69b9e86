"""Market and user-data streams: layouts, URL forms, control messages, keep-alive (§1, §6, §7)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp

from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from tests.helpers import eventually, free_port_pair

from .helpers import Rest, WsClient, json_of


async def test_spot_raw_and_combined_layouts(sim: BinanceSim, spot: Rest) -> None:
    raw = await WsClient.connect(f"{sim.urls.spot_ws}/ws/btcusdt@depth5@100ms")
    combined = await WsClient.connect(
        f"{sim.urls.spot_ws}/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@aggTrade/btcusdt@trade")
    try:
        partial = await raw.wait_for(lambda m: "lastUpdateId" in m)
        assert list(partial) == ["lastUpdateId", "bids", "asks"] and len(partial["bids"]) == 5  # no symbol
        await spot.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")
        diff = await combined.wait_for(lambda m: m["stream"] == "btcusdt@depth@100ms")
        assert list(diff["data"]) == ["e", "E", "s", "U", "u", "b", "a"] and diff["data"]["e"] == "depthUpdate"
        ticker = await combined.wait_for(lambda m: m["stream"] == "btcusdt@bookTicker")
        assert list(ticker["data"]) == ["u", "s", "b", "B", "a", "A"]
        agg = await combined.wait_for(lambda m: m["stream"] == "btcusdt@aggTrade")
        assert list(agg["data"]) == ["e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"]
        assert agg["data"]["m"] is False  # the buyer was the taker
        trade = await combined.wait_for(lambda m: m["stream"] == "btcusdt@trade")
        assert trade["data"]["e"] == "trade" and isinstance(trade["data"]["t"], int)
    finally:
        await raw.close()
        await combined.close()


async def test_futures_paths_and_layouts(sim: BinanceSim, fut: Rest) -> None:
    public = await WsClient.connect(f"{sim.urls.futures_ws}/public/ws/btcusdt@depth5@100ms")
    market = await WsClient.connect(
        f"{sim.urls.futures_ws}/market/stream?streams=btcusdt@markPrice@1s/!markPrice@arr@1s/btcusdt@aggTrade")
    legacy = await WsClient.connect(f"{sim.urls.futures_ws}/stream?streams=ethusdt@bookTicker")
    try:
        await fut.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.01")
        part = await public.wait_for(lambda m: m["e"] == "depthUpdate")
        assert list(part) == ["e", "E", "T", "s", "U", "u", "pu", "b", "a"] and part["s"] == "BTCUSDT"
        assert len(part["b"]) == 5
        mark = await market.wait_for(lambda m: m["stream"] == "btcusdt@markPrice@1s")
        assert list(mark["data"]) == ["e", "E", "s", "p", "i", "P", "r", "T"]
        assert mark["data"]["e"] == "markPriceUpdate" and isinstance(mark["data"]["T"], int)
        arr = await market.wait_for(lambda m: m["stream"] == "!markPrice@arr@1s")
        assert [x["s"] for x in arr["data"]] == ["BTCUSDT", "ETHUSDT"]
        agg = await market.wait_for(lambda m: m["stream"] == "btcusdt@aggTrade")
        assert "M" not in agg["data"] and agg["data"]["nq"] == agg["data"]["q"] and agg["data"]["m"] is True
        sim.venue.move_index("ETH", 0.5)
        ticker = await legacy.wait_for(lambda m: m["stream"] == "ethusdt@bookTicker")
        assert list(ticker["data"]) == ["e", "u", "s", "b", "B", "a", "A", "T", "E"]
        async with aiohttp.ClientSession() as session:
            wrong = await session.get(f"{sim.urls.futures_rest}/public/ws/btcusdt@markPrice")
            assert wrong.status == 400 and (await wrong.json())["code"] == 2
        await public.send({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 77})
        refused = await public.wait_for(lambda m: m.get("id") == 77)
        assert refused == {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 77}
    finally:
        for ws in (public, market, legacy):
            await ws.close()


async def test_control_messages_and_bad_frames(sim: BinanceSim) -> None:
    ws = await WsClient.connect(f"{sim.urls.futures_ws}/public/ws")
    try:
        await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "ethusdt@bookTicker"], "id": 1})
        assert await ws.wait_for(lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        await ws.send({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        assert await ws.wait_for(lambda m: m.get("id") == 2) == {
            "result": ["btcusdt@depth@100ms", "ethusdt@bookTicker"], "id": 2}
        await ws.send({"method": "UNSUBSCRIBE", "params": ["ethusdt@bookTicker"], "id": 3})
        await ws.wait_for(lambda m: m.get("id") == 3)
        await ws.send({"method": "GET_PROPERTY", "params": ["combined"], "id": 4})
        assert await ws.wait_for(lambda m: m.get("id") == 4) == {"result": False, "id": 4}
        await ws.send({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5})
        await ws.wait_for(lambda m: m.get("id") == 5)
        sim.venue.move_index("BTC", 0.5)
        wrapped = await ws.wait_for(lambda m: m.get("stream") == "btcusdt@depth@100ms")
        assert wrapped["data"]["e"] == "depthUpdate" and wrapped["data"]["s"] == "BTCUSDT"
        bad = [
            ("{not json", 3),
            ('{"method":"SUBSCRIBE","params":["nonsense"],"id":6}', 2),
            ('{"method":"PUBLISH","params":[],"id":7}', 2),
            ('{"method":"SUBSCRIBE","params":["btcusdt@markPrice"],"id":8}', 2),
            ('{"method":"SET_PROPERTY","params":["colour",true],"id":9}', 0),
            ('{"method":"SET_PROPERTY","params":["combined","yes"],"id":10}', 1),
            ('{"method":"LIST_SUBSCRIPTIONS","id":-1}', 2),
            ('{"params":[],"id":11}', 2),
            ("[1,2,3]", 2),
        ]
        for frame, _ in bad:
            await ws.send(frame)
        await eventually(lambda: len([m for m in ws.messages if "error" in m]) == len(bad), what="error replies")
        got = [m["error"]["code"] for m in ws.messages if "error" in m]
        assert got == [code for _, code in bad], got
        assert next(m for m in ws.messages if m.get("id") == 7)["error"]["msg"].startswith(
            "Invalid request: unknown variant `PUBLISH`")
        await ws.send({"method": "LIST_SUBSCRIPTIONS", "id": 12})
        assert (await ws.wait_for(lambda m: m.get("id") == 12))["result"] == ["btcusdt@depth@100ms"]
        state = sim.dialect.state()
        assert sum(n for k, n in state["bad_input"].items() if k.startswith("ws:futures")) == len(bad)
    finally:
        await ws.close()


class _LocalBook:
    def __init__(self, snapshot: dict[str, object]) -> None:
        self.id = int(snapshot["lastUpdateId"])  # type: ignore[call-overload]
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}  # type: ignore[attr-defined]
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}  # type: ignore[attr-defined]

    def apply(self, ev: dict[str, object]) -> None:
        for side, levels in ((self.bids, ev["b"]), (self.asks, ev["a"])):
            for p, q in levels:  # type: ignore[attr-defined]
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)
        self.id = int(ev["u"])  # type: ignore[call-overload]

    def same_as(self, snapshot: dict[str, object]) -> bool:
        other = _LocalBook(snapshot)
        return other.id == self.id and other.bids == self.bids and other.asks == self.asks


async def _churn(sim: BinanceSim, rest: Rest, product: str) -> None:
    symbol_path = "/api/v3/order" if product == "spot" else "/fapi/v1/order"
    for i in range(6):
        sim.venue.move_index("BTC", 0.2 if i % 2 else -0.3)
        side = "BUY" if i % 2 else "SELL"
        r = await rest.signed("POST", symbol_path, symbol="BTCUSDT", side=side, type="MARKET", quantity="0.7")
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.03)


async def test_spot_diff_depth_book_sync_stays_consistent(sim: BinanceSim, spot: Rest) -> None:
    ws = await WsClient.connect(f"{sim.urls.spot_ws}/ws/btcusdt@depth@100ms")
    try:
        await _churn(sim, spot, "spot")
        await ws.wait_for(lambda m: m["e"] == "depthUpdate")
        snapshot = json_of(await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5000))
        assert snapshot["lastUpdateId"] >= ws.messages[0]["U"]
        book = _LocalBook(snapshot)
        await _churn(sim, spot, "spot")
        applied = 0

        async def synced() -> bool:
            nonlocal applied
            for ev in ws.messages[applied:]:
                applied += 1
                if ev["u"] <= book.id:
                    continue
                assert ev["U"] <= book.id + 1, f"gap: U={ev['U']} after id {book.id}"
                book.apply(ev)
            current = json_of(await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5000))
            return book.same_as(current)

        await eventually(synced, timeout=10, what="local book equal to the REST snapshot")
        assert applied > 3
    finally:
        await ws.close()


async def test_futures_diff_depth_book_sync_with_pu(sim: BinanceSim, fut: Rest) -> None:
    ws = await WsClient.connect(f"{sim.urls.futures_ws}/public/ws/btcusdt@depth@100ms")
    try:
        await _churn(sim, fut, "futures")
        await ws.wait_for(lambda m: m["e"] == "depthUpdate")
        snapshot = json_of(await fut.public("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=1000))
        book = _LocalBook(snapshot)
        await _churn(sim, fut, "futures")
        state = {"applied": 0, "prev_u": None}

        async def synced() -> bool:
            for ev in ws.messages[state["applied"]:]:
                state["applied"] += 1  # type: ignore[operator]
                if ev["u"] < book.id:
                    continue
                if state["prev_u"] is None:
                    assert ev["U"] <= book.id <= ev["u"], (ev["U"], book.id, ev["u"])
                else:
                    assert ev["pu"] == state["prev_u"], "pu chain broken"
                book.apply(ev)
                state["prev_u"] = ev["u"]
            current = json_of(await fut.public("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=1000))
            return book.same_as(current)

        await eventually(synced, timeout=10, what="local book equal to the REST snapshot")
    finally:
        await ws.close()


async def test_private_stream_url_forms(sim: BinanceSim, fut: Rest) -> None:
    key = json_of(await fut.keyed("POST", "/fapi/v1/listenKey"))["listenKey"]
    base = sim.urls.futures_ws
    forms = {
        "ws-query": await WsClient.connect(f"{base}/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE"),
        "ws-path": await WsClient.connect(f"{base}/private/ws/{key}"),
        "stream-query": await WsClient.connect(f"{base}/private/stream?listenKey={key}"),
        "stream-subscribe": await WsClient.connect(f"{base}/private/stream"),
        "legacy-ws": await WsClient.connect(f"{base}/ws/{key}"),
        "legacy-stream": await WsClient.connect(f"{base}/stream?streams={key}"),
    }
    try:
        await forms["stream-subscribe"].send({"method": "SUBSCRIBE", "params": [key], "id": 9})
        assert await forms["stream-subscribe"].wait_for(lambda m: m.get("id") == 9) == {"result": None, "id": 9}
        await fut.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                         quantity="0.01", price="50000")
        for name, ws in forms.items():
            if name.startswith("stream") or name == "legacy-stream":
                got = await ws.wait_for(lambda m: m.get("data", {}).get("e") == "ORDER_TRADE_UPDATE", what=name)
                assert got["stream"] == key
            else:
                await ws.wait_for(lambda m: m.get("e") == "ORDER_TRADE_UPDATE", what=name)
    finally:
        for ws in forms.values():
            await ws.close()


async def test_server_ping_pong_timeout_and_lifetime() -> None:
    options = BinanceSimOptions(spot_ping_interval_s=0.1, spot_pong_timeout_s=0.5, connection_lifetime_s=1.5,
                                spot_stream_msgs_per_s=100)
    async with BinanceSim(port_base=free_port_pair(), options=options) as sim, aiohttp.ClientSession() as session:
        silent = await session.ws_connect(f"{sim.urls.spot_ws}/ws", autoping=False)
        polite = await WsClient.connect(f"{sim.urls.spot_ws}/ws")  # reads, so pings are answered
        ping = await silent.receive(timeout=5)
        assert ping.type is aiohttp.WSMsgType.PING
        while True:  # no pong from us: the server hangs up within the timeout
            msg = await silent.receive(timeout=5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert silent.close_code == 1008
        assert not polite.closed.is_set()  # answering pings keeps it open past the pong timeout
        await asyncio.wait_for(polite.closed.wait(), 5)  # ...until the connection lifetime cut
        assert polite.ws.close_code == 1000
        await silent.close()
        await polite.close()
        assert sim.dialect.registry.opened == 2


async def test_incoming_message_flood_closes_the_connection() -> None:
    async with BinanceSim(port_base=free_port_pair()) as sim:
        ws = await WsClient.connect(f"{sim.urls.spot_ws}/ws")
        for i in range(8):
            await ws.send({"method": "LIST_SUBSCRIPTIONS", "id": i})
        await asyncio.wait_for(ws.closed.wait(), 5)
        assert "ws:spot:too-many-messages" in sim.dialect.bad.snapshot()
        await ws.close()
