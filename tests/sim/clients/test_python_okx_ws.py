"""python-okx's WebSocket classes (``WsPublicAsync``, ``WsPrivateAsync``), unmodified, on the
offline OKX venue over TLS: the SDK always connects with TLS (its own context from Python's
defaults plus certifi), so the venue runs with ``tls`` and the CA is trusted through
``SSL_CERT_FILE``. Only the URL changes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import okx.PublicData as PublicData
import pytest
from okx.websocket.WsPrivateAsync import WsPrivateAsync
from okx.websocket.WsPublicAsync import WsPublicAsync
from websockets.exceptions import ConnectionClosed

from tests.helpers import eventually

SWAP = "BTC-USDT-SWAP"
SPOT = "BTC-USDT"
# the SDK posts ``data=<str>``, which httpx deprecates: its warning, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def _pushes(raw: list[str], channel: str) -> list[dict[str, Any]]:
    out = []
    for text in raw:
        msg = json.loads(text) if text.startswith("{") else {}
        if msg.get("arg", {}).get("channel") == channel and "data" in msg:
            out.append(msg)
    return out


async def _stop(ws: Any, consume: asyncio.Task[Any]) -> None:
    """Close the SDK's socket and wait for its reader task (the SDK leaves it running)."""
    await ws.stop()
    consume.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):  # the reader ends with the socket
        await consume


async def test_public_books_tickers_trades_funding(okx_tls: Any, trust_env: Path) -> None:
    assert okx_tls.urls.ws_public.startswith("wss://")
    raw: list[str] = []
    ws = WsPublicAsync(url=okx_tls.urls.ws_public)
    consume = await ws.start()  # the SDK's reader task
    try:
        args = [
            {"channel": "books5", "instId": SWAP},
            {"channel": "tickers", "instId": SPOT},
            {"channel": "funding-rate", "instId": SWAP},
        ]
        await ws.subscribe(args, callback=raw.append, id="sub1")
        await eventually(
            lambda: all(_pushes(raw, c) for c in ("books5", "tickers", "funding-rate")), timeout=30, what="pushes"
        )
        book = _pushes(raw, "books5")[0]["data"][0]
        assert book["bids"] and book["asks"] and book["instId"] == SWAP
        assert _pushes(raw, "funding-rate")[0]["data"][0]["fundingRate"]
    finally:
        await _stop(ws, consume)


async def test_private_login_orders_positions_and_ws_order_entry(okx_tls: Any, trust_env: Path) -> None:
    raw: list[str] = []
    ws = WsPrivateAsync(
        apiKey=okx_tls.api_key,
        passphrase=okx_tls.sim.passphrase,
        secretKey=okx_tls.api_secret,
        url=okx_tls.urls.ws_private,
        useServerTime=False,
    )
    consume = await ws.start()  # the SDK's reader task
    try:
        channels = [{"channel": "orders", "instType": "ANY"}, {"channel": "positions", "instType": "ANY"}]
        await ws.subscribe([*channels, {"channel": "account"}], callback=raw.append)  # logs in first
        # OKX's WS order ops name the instrument by instIdCode (from instruments, over HTTPS: python-okx's
        # httpx client trusts SSL_CERT_FILE)
        public = PublicData.PublicAPI(flag="0", domain=okx_tls.urls.rest, debug=False)
        code = public.get_instruments(instType="SWAP", instId=SWAP)["data"][0]["instIdCode"]
        order = {
            "instIdCode": code,
            "tdMode": "cross",
            "side": "buy",
            "ordType": "market",
            "sz": "2",
            "clOrdId": "sdkws1",
        }
        await ws.place_order([order], id="p1")
        replies = await eventually(
            lambda: [m for m in map(json.loads, filter(lambda t: t.startswith("{"), raw)) if m.get("id") == "p1"],
            timeout=30,
            what="order reply",
        )
        assert replies[0]["code"] == "0", replies[0]["data"][0]["sMsg"]
        assert replies[0]["data"][0]["clOrdId"] == "sdkws1"
        filled = await eventually(
            lambda: [d for m in _pushes(raw, "orders") for d in m["data"] if d["state"] == "filled"],
            timeout=30,
            what="filled order push",
        )
        assert filled[0]["clOrdId"] == "sdkws1" and filled[0]["accFillSz"] == "2"
        resting = {"instIdCode": code, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "1"}
        await ws.place_order([{**resting, "clOrdId": "sdkws2"}], id="p2")
        await ws.amend_order([{"instIdCode": code, "clOrdId": "sdkws2", "newPx": "40100", "newSz": "3"}], id="a1")
        amended = await eventually(
            lambda: [
                d for m in _pushes(raw, "orders") for d in m["data"] if d["clOrdId"] == "sdkws2" and d["px"] == "40100"
            ],
            timeout=30,
            what="the amended order's push",
        )
        assert amended[0]["sz"] == "3" and amended[0]["state"] == "live"
        await eventually(lambda: _pushes(raw, "positions"), timeout=30, what="positions push")
        await eventually(lambda: _pushes(raw, "account"), timeout=30, what="account push")
        logins = [m for m in map(json.loads, filter(lambda t: t.startswith("{"), raw)) if m.get("event") == "login"]
        assert logins and logins[0]["code"] == "0"
    finally:
        await _stop(ws, consume)
