"""python-binance, unmodified, on the offline Binance venue: user data over ``BinanceSocketManager``
(spot through the WS-API subscription ``userDataStream.subscribe.signature``, USD-M through a
listenKey on ``/private``) and over ``ThreadedWebsocketManager`` (which builds its own client).

Only base URLs change: python-binance keeps them as class attributes (``API_URL``,
``FUTURES_URL``, ``WS_API_URL``, ``STREAM_URL``, ``FSTREAM_URL``), formatted with the TLD at
construction; a URL without ``{}`` is taken as is. Its sockets' read timeout
(``ReconnectingWebsocket.TIMEOUT``, 10 s) is shortened too: a socket's read loop only sees that it
is closing when a read times out, so each close waited 10 s (the events themselves come in ms).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from binance import AsyncClient, BinanceSocketManager, Client, ThreadedWebsocketManager
from binance.base_client import BaseClient
from binance.ws.reconnecting_websocket import ReconnectingWebsocket

from exchanges.binance.sim import BinanceSim, BinanceSimOptions, ThreadedBinanceSim
from tests.helpers import eventually_sync, free_port_pair


@pytest.fixture(scope="module")
def sim() -> Iterator[ThreadedBinanceSim]:
    with BinanceSim.in_thread(
        port_base=free_port_pair(), seed=4, options=BinanceSimOptions(enforce_rate_limits=False)
    ) as s:
        yield s


@pytest.fixture
def urls(sim: ThreadedBinanceSim, monkeypatch: pytest.MonkeyPatch) -> ThreadedBinanceSim:
    u = sim.urls
    for name, value in {
        "API_URL": f"{u.spot_rest}/api",
        "MARGIN_API_URL": f"{u.spot_rest}/sapi",
        "FUTURES_URL": f"{u.futures_rest}/fapi",
        "WS_API_URL": u.spot_ws_api,
        "WS_FUTURES_URL": u.futures_ws_api,
    }.items():
        monkeypatch.setattr(BaseClient, name, value)
    monkeypatch.setattr(BinanceSocketManager, "STREAM_URL", f"{u.spot_ws}/")
    monkeypatch.setattr(BinanceSocketManager, "FSTREAM_URL", f"{u.futures_ws}/")
    # the read loop's poll (and the WS-API request timeout): a close is noticed within 2 s, not 10
    monkeypatch.setattr(ReconnectingWebsocket, "TIMEOUT", 2)
    return sim


async def _next_event(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(socket.recv(), 20)
        event = msg.get("event", msg.get("data", msg))
        if event.get("e") == kind:
            return event


async def test_socket_manager_spot_and_futures_user_data(urls: ThreadedBinanceSim) -> None:
    client = await AsyncClient.create(urls.api_key, urls.api_secret)  # create() pings the spot host
    try:
        bsm = BinanceSocketManager(client)
        async with bsm.user_socket() as spot:
            await client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
            report = await _next_event(spot, "executionReport")
            assert report["s"] == "BTCUSDT" and report["x"] in ("NEW", "TRADE")
            assert (await _next_event(spot, "outboundAccountPosition"))["B"]
        async with bsm.futures_user_socket() as fut:
            await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
            update = await _next_event(fut, "ORDER_TRADE_UPDATE")
            assert update["o"]["s"] == "BTCUSDT"
            assert (await _next_event(fut, "ACCOUNT_UPDATE"))["a"]["P"]
    finally:
        await client.close_connection()


def test_threaded_websocket_manager_user_data_and_ticker(urls: ThreadedBinanceSim) -> None:
    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_msg(msg: dict[str, Any]) -> None:
        with lock:
            events.append(msg.get("event", msg.get("data", msg)))

    def kinds() -> set[str]:
        with lock:
            return {str(e.get("e")) for e in events}

    twm = ThreadedWebsocketManager(api_key=urls.api_key, api_secret=urls.api_secret)
    twm.start()
    try:
        twm.start_user_socket(callback=on_msg)
        twm.start_futures_user_socket(callback=on_msg)
        twm.start_symbol_ticker_socket(callback=on_msg, symbol="ETHUSDT")
        rest = Client(urls.api_key, urls.api_secret)
        # the sockets open on the manager's thread: trade until their events arrive
        eventually_sync(
            lambda: (
                rest.create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.01")
                and rest.futures_create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.05")
                and {"executionReport", "ORDER_TRADE_UPDATE", "24hrTicker"} <= kinds()
            ),
            timeout=30,
            interval=0.5,
            what="user data and ticker events",
        )
    finally:
        twm.stop()
        twm.join(timeout=30)
