"""WebSocket side of the offline OKX venue: books integrity, keep-alive, login, private
channels and order operations."""

from __future__ import annotations

from typing import Any

from exchanges.okx.books import LocalBook
from exchanges.okx.sim import OkxSim, OkxSimOptions
from exchanges.okx.ws_schemas import BookData
from tests.helpers import free_port

from .helpers import Rest, Ws, login_args

SWAP = "BTC-USDT-SWAP"


def _book_msgs(ws: Ws, inst_id: str) -> list[Any]:
    return ws.pushes("books", instId=inst_id)


async def test_books_snapshot_updates_and_checksums(sim: OkxSim) -> None:
    ws = await Ws.connect(sim.urls.ws_public)
    try:
        await ws.send({"id": "s1", "op": "subscribe", "args": [{"channel": "books", "instId": SWAP}]})
        ack = await ws.wait_for(lambda _: ws.of(event="subscribe"))
        assert ack[0] == {
            "id": "s1",
            "event": "subscribe",
            "arg": {"channel": "books", "instId": SWAP},
            "connId": ack[0]["connId"],
        }
        sim.venue.pause(False)
        for pct in (0.05, -0.08, 0.03):
            sim.venue.move_index("BTC", pct)
        msgs = await ws.wait_for(lambda _: len(_book_msgs(ws, SWAP)) >= 4 and _book_msgs(ws, SWAP))
        assert msgs[0]["action"] == "snapshot" and msgs[0]["data"][0]["prevSeqId"] == -1
        book = LocalBook()
        for msg in msgs:
            data = BookData(**msg["data"][0])
            assert data.checksum != 0
            book.load(data) if msg["action"] == "snapshot" else book.apply(data)
        assert book.checksums_checked == len(msgs)
        engine = sim.venue.book(sim.config.symbols[2].kind, "BTCUSDT", 1)
        assert book.seq_id is not None and book.seq_id <= engine.update_id
        bids, _ = book.top(1)
        assert bids[0][1] == "50"  # contracts
    finally:
        await ws.close()


async def test_control_messages_and_keepalive(sim: OkxSim) -> None:
    ws = await Ws.connect(sim.urls.ws_public)
    try:
        await ws.send("ping")
        await ws.wait_for(lambda _: "pong" in ws.texts)
        await ws.send("{oops")
        err = await ws.wait_for(lambda _: ws.of(event="error"))
        assert err[0]["code"] == "60012" and err[0]["connId"]
        await ws.send({"op": "subscribe", "args": [{"channel": "books", "instId": "DOGE-USDT"}]})
        await ws.wait_for(lambda _: len(ws.of(event="error")) == 2)
        assert ws.of(event="error")[1]["code"] == "60018"
        await ws.send({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
        await ws.wait_for(lambda _: len(ws.of(event="error")) == 3)
        assert ws.of(event="error")[2]["code"] == "60018"  # a private channel on the public socket
        await ws.send({"op": "subscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT"}]})
        await ws.wait_for(lambda _: ws.pushes("tickers", instId="BTC-USDT"))
        await ws.send({"op": "unsubscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT"}]})
        await ws.wait_for(lambda _: ws.of(event="unsubscribe"))
        await ws.send({"op": "amend-order", "args": [{}]})
        await ws.wait_for(lambda _: len(ws.of(event="error")) == 4)
    finally:
        await ws.close()


async def test_idle_connection_closed_4004() -> None:
    opts = OkxSimOptions(idle_timeout_s=0.3, ws_connects_per_s=0)
    async with OkxSim(port=free_port(), options=opts) as sim:
        quiet = await Ws.connect(sim.urls.ws_public)
        try:
            await quiet.closed.wait()
            assert quiet.close_code == 4004
        finally:
            await quiet.close()


async def test_login_failure_and_private_without_login(sim: OkxSim) -> None:
    ws = await Ws.connect(sim.urls.ws_private)
    try:
        await ws.send({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
        err = await ws.wait_for(lambda _: ws.of(event="error"))
        assert err[0]["code"] == "60011"
        await ws.send({"op": "login", "args": [login_args(sim, passphrase="wrong")]})
        await ws.closed.wait()
        assert ws.of(event="error")[1]["code"] == "60024" and ws.close_code == 4001
    finally:
        await ws.close()
    stale = await Ws.connect(sim.urls.ws_private)
    try:
        await stale.send({"op": "login", "args": [login_args(sim, ts=1_600_000_000)]})
        await stale.closed.wait()
        assert stale.of(event="error")[0]["code"] == "60006"
    finally:
        await stale.close()


async def test_private_channels_and_order_ops(sim: OkxSim, rest: Rest) -> None:
    ws = await Ws.connect(sim.urls.ws_private)
    try:
        await ws.send({"op": "login", "args": [login_args(sim)]})
        login = await ws.wait_for(lambda _: ws.of(event="login"))
        assert login[0]["code"] == "0"
        await ws.send(
            {
                "op": "subscribe",
                "args": [
                    {"channel": "orders", "instType": "ANY"},
                    {"channel": "positions", "instType": "SWAP", "extraParams": '{"updateInterval":"0"}'},
                    {"channel": "account", "ccy": "USDT"},
                ],
            }
        )
        await ws.wait_for(lambda _: ws.of(channel="positions", eventType="snapshot"))
        snap = ws.of(channel="account", eventType="snapshot")[0]
        assert snap["arg"]["uid"] == sim.options.uid and snap["data"][0]["details"][0]["ccy"] == "USDT"
        await rest.order(instId=SWAP, tdMode="cross", side="buy", ordType="market", sz="3", clOrdId="r1")
        pushes = await ws.wait_for(lambda _: [m for m in ws.pushes("orders") if m["data"][0]["state"] == "filled"])
        states = [m["data"][0]["state"] for m in ws.pushes("orders")]
        assert states == ["live", "filled"]
        fill = pushes[0]["data"][0]
        assert fill["fillSz"] == "3" and fill["execType"] == "T" and fill["fillFee"].startswith("-")
        assert fill["clOrdId"] == "r1" and pushes[0]["arg"]["uid"] == sim.options.uid
        pos = await ws.wait_for(lambda _: ws.of(channel="positions", eventType="event_update"))
        assert pos[0]["data"][0]["pos"] == "3"
        await ws.send(
            {
                "id": "o1",
                "op": "order",
                "args": [{"instIdCode": 10459, "tdMode": "cross", "side": "sell", "ordType": "market", "sz": "3"}],
            }
        )
        reply = await ws.wait_for(lambda _: ws.of(op="order", id="o1"))
        assert reply[0]["code"] == "0" and reply[0]["data"][0]["sCode"] == "0"
        await ws.wait_for(lambda _: [m for m in ws.pushes("positions") if m["data"] and m["data"][0]["pos"] == "0"])
        await ws.send(
            {
                "id": "o2",
                "op": "order",
                "args": [{"instId": SWAP, "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "1"}],
            }
        )
        rejected = await ws.wait_for(lambda _: ws.of(op="order", id="o2"))
        assert rejected[0]["code"] == "1" and rejected[0]["data"][0]["sCode"] == "50014"
        await ws.send({"id": "o3", "op": "order", "args": []})
        bad = await ws.wait_for(lambda _: ws.of(op="order", id="o3"))
        assert bad[0]["code"] == "60013"
        po_px = str(sim.venue.book(sim.config.symbols[2].kind, "BTCUSDT", 1).asks[0][0])
        await ws.send(
            {
                "id": "o4",
                "op": "order",
                "args": [
                    {
                        "instIdCode": 10459,
                        "tdMode": "cross",
                        "side": "buy",
                        "ordType": "post_only",
                        "px": po_px,
                        "sz": "1",
                    }
                ],
            }
        )
        auto = await ws.wait_for(lambda _: [m for m in ws.pushes("orders") if m["data"][0]["cancelSource"] == "31"])
        assert auto[0]["data"][0]["state"] == "canceled"
    finally:
        await ws.close()


async def test_books_without_snapshot_and_zero_checksum() -> None:
    opts = OkxSimOptions(book_snapshot=False, book_checksum=False, ws_connects_per_s=0)
    async with OkxSim(port=free_port(), options=opts, step_ms=50) as sim:
        ws = await Ws.connect(sim.urls.ws_public)
        try:
            await ws.send({"op": "subscribe", "args": [{"channel": "books", "instId": SWAP}]})
            sim.venue.move_index("BTC", 0.1)
            msgs = await ws.wait_for(lambda _: _book_msgs(ws, SWAP))
            assert msgs[0]["action"] == "update" and msgs[0]["data"][0]["checksum"] == 0
        finally:
            await ws.close()


async def test_vip_book_channels(sim: OkxSim) -> None:
    ws = await Ws.connect(sim.urls.ws_public)
    try:
        await ws.send({"op": "subscribe", "args": [{"channel": "books-l2-tbt", "instId": SWAP}]})
        assert (await ws.wait_for(lambda _: ws.of(event="error")))[0]["code"] == "60011"
        await ws.send({"op": "login", "args": [login_args(sim)]})
        await ws.wait_for(lambda _: ws.of(event="login"))
        await ws.send({"op": "subscribe", "args": [{"channel": "books-l2-tbt", "instId": SWAP}]})
        await ws.wait_for(lambda _: len(ws.of(event="error")) == 2)
        assert ws.of(event="error")[1]["code"] == "64003"
    finally:
        await ws.close()
