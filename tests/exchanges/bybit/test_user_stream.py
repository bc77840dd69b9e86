"""BybitUserStream against a local stand-in for ``/v5/private``: auth signed with the venue
clock, the topics subscribed after it, pushes translated to UserEvents in order, a reconnect
reported for reconciliation, bad pushes counted and skipped (parity with Binance's unit tests)."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from pathlib import Path
from typing import Any

from exchanges.base import AccountUpdate, OrderUpdate, StreamStatus, UserEvent
from exchanges.bybit.parse import SymbolMap
from exchanges.bybit.signing import ws_auth_signature
from exchanges.bybit.user_stream import USER_STREAM, BybitUserStream
from exchanges.credentials import Credentials
from exchanges.transport.backoff import Backoff
from exchanges.transport.clock import ServerClock
from strategy_client.model import MarketKind
from tests.exchanges.binance.ws_fake_server import Conn, FakeWsServer
from tests.helpers import eventually

FIXTURES = Path(__file__).parent / "fixtures"
CREDS = Credentials("bybit-key", "bybit-secret")
NOW_MS = 1_760_325_100_000


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


async def venue(conn: Conn, message: str | bytes) -> None:
    msg = json.loads(message)
    if msg["op"] == "auth":
        await conn.send({"success": True, "ret_msg": "", "op": "auth", "conn_id": "c"})
    elif msg["op"] == "subscribe":
        await conn.send({"success": True, "ret_msg": "", "op": "subscribe", "req_id": msg["req_id"], "conn_id": "c"})


def user_stream(server: FakeWsServer) -> BybitUserStream:
    symbols = SymbolMap()
    symbols.add(MarketKind.PERP, "BTCUSDT", "BTCUSDT")
    clock = ServerClock(wall_ms=lambda: NOW_MS)
    return BybitUserStream(
        server.url + "/v5/private", CREDS, clock, symbols, backoff=Backoff(initial_s=0.01, max_s=0.05)
    )


async def take(events: Any, n: int) -> list[UserEvent]:
    out: list[UserEvent] = []
    async with asyncio.timeout(10):
        while len(out) < n:
            out.append(await anext(events))
    return out


async def test_auth_subscribe_and_pushes_become_user_events() -> None:
    async with FakeWsServer(on_message=venue) as server:
        stream = user_stream(server)
        async with aclosing(stream.events()) as events:
            [up] = await take(events, 1)
            assert isinstance(up, StreamStatus) and up.stream == USER_STREAM and up.connected
            conn = server.conns[0]
            await eventually(lambda: len(conn.json_received()) >= 2, what="auth and subscribe")
            auth, subscribe = conn.json_received()[:2]
            expires = NOW_MS + 10_000
            assert auth["args"] == ["bybit-key", expires, ws_auth_signature("bybit-secret", expires)]
            assert subscribe["op"] == "subscribe" and set(subscribe["args"]) >= {"order", "execution", "wallet"}
            await conn.send(fixture("ws_order.json"))
            await conn.send({"topic": "order", "data": "not a list"})  # malformed: counted, skipped
            await conn.send(fixture("ws_wallet.json"))
            order, wallet = await take(events, 2)
            assert isinstance(order, OrderUpdate) and order.order.client_id == "arb-0001"
            assert isinstance(wallet, AccountUpdate) and wallet.reason == "wallet"
            assert stream.errors.total == 1


async def test_a_reconnect_is_reported_so_the_runner_reconciles() -> None:
    async with FakeWsServer(on_message=venue) as server:
        stream = user_stream(server)
        async with aclosing(stream.events()) as events:
            await take(events, 1)
            server.abort_all()
            down, up = await take(events, 2)
            assert isinstance(down, StreamStatus) and not down.connected
            assert isinstance(up, StreamStatus) and up.connected and up.reason.startswith("reconnected")
            await eventually(
                lambda: len(server.conns) == 2 and len(server.conns[1].json_received()) >= 2, what="replay"
            )
            assert [m["op"] for m in server.conns[1].json_received()[:2]] == ["auth", "subscribe"]
            assert stream.stats()[USER_STREAM].reconnects == 1
