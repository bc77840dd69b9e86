"""Clients for the offline Bybit venue over real sockets: signed REST and WebSocket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import httpx
import msgspec

from exchanges.bybit.signing import encode_query, sign_rest, ws_auth_signature
from exchanges.bybit.sim import BybitSim

__all__ = ["Rest", "WsClient", "now_ms", "body", "ok"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def body(response: httpx.Response) -> Any:
    return msgspec.json.decode(response.content)


def ok(response: httpx.Response) -> Any:
    """The ``result`` of a successful reply (fails the test with the body otherwise)."""
    data = body(response)
    assert response.status_code == 200 and data["retCode"] == 0, response.text
    return data["result"]


class Rest:
    """Bybit v5 REST with signing: GET params in the query (as given), POST a JSON body."""

    def __init__(self, sim: BybitSim) -> None:
        self.sim = sim
        self.client = httpx.AsyncClient(base_url=sim.urls.rest, timeout=10.0)
        self.key = sim.api_key
        self.secret = sim.api_secret

    async def close(self) -> None:
        await self.client.aclose()

    async def public(self, path: str, **params: Any) -> httpx.Response:
        query = encode_query(params)
        return await self.client.get(f"{path}?{query}" if query else path)

    def headers(
        self,
        payload: str,
        *,
        ts: int | None = None,
        window: str = "5000",
        secret: str | None = None,
        key: str | None = None,
    ) -> dict[str, str]:
        stamp = str(ts if ts is not None else now_ms())
        api_key = key or self.key
        return {
            "X-BAPI-API-KEY": api_key,
            "X-BAPI-TIMESTAMP": stamp,
            "X-BAPI-RECV-WINDOW": window,
            "X-BAPI-SIGN": sign_rest(secret or self.secret, stamp, api_key, window, payload),
        }

    async def get(self, path: str, **params: Any) -> httpx.Response:
        query = encode_query(params)
        return await self.client.get(f"{path}?{query}" if query else path, headers=self.headers(query))

    async def post(self, path: str, **params: Any) -> httpx.Response:
        raw = msgspec.json.encode(params).decode()
        headers = self.headers(raw) | {"Content-Type": "application/json"}
        return await self.client.post(path, content=raw, headers=headers)

    async def order(self, **params: Any) -> httpx.Response:
        return await self.post("/v5/order/create", **params)


class WsClient:
    """A WebSocket connection that collects JSON messages; ``wait_for`` waits on a condition."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession) -> None:
        self.ws = ws
        self._session = session
        self.messages: list[Any] = []
        self._new = asyncio.Event()
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._ids = 0

    @classmethod
    async def connect(cls, url: str) -> WsClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, autoping=True, heartbeat=None)
        except BaseException:
            await session.close()
            raise
        return cls(ws, session)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        self.messages.append(msgspec.json.decode(msg.data))
                    except msgspec.DecodeError:
                        self.messages.append({"__malformed__": msg.data})
                    self._new.set()
        finally:
            self.closed.set()
            self._new.set()

    async def send(self, payload: Any) -> None:
        await self.ws.send_str(payload if isinstance(payload, str) else msgspec.json.encode(payload).decode())

    async def wait_for(self, check: Any, timeout: float = 10.0, what: str = "message", start: int = 0) -> Any:
        """The first collected message (from index ``start``) for which ``check(msg)`` is true."""
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            while seen < len(self.messages):
                msg = self.messages[seen]
                seen += 1
                try:
                    if check(msg):
                        return msg
                except (KeyError, TypeError, IndexError):
                    pass
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.closed.is_set() and seen >= len(self.messages)):
                raise AssertionError(f"no {what} within {timeout}s; got {self.messages[-5:]}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except TimeoutError:
                pass

    async def op(self, op: str, args: list[Any] | None = None) -> Any:
        """Send ``{"op", "args", "req_id"}`` and wait for the reply that echoes the req_id."""
        self._ids += 1
        req_id = f"r{self._ids}"
        payload: dict[str, Any] = {"req_id": req_id, "op": op}
        if args is not None:
            payload["args"] = args
        await self.send(payload)
        return await self.wait_for(lambda m: m.get("req_id") == req_id, what=f"reply to {op}")

    async def auth(self, key: str, secret: str, *, expires: int | None = None) -> Any:
        exp = expires if expires is not None else now_ms() + 10_000
        return await self.op("auth", [key, exp, ws_auth_signature(secret, exp)])

    def topic(self, name: str) -> list[Any]:
        return [m for m in self.messages if m.get("topic") == name]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing: how the reader ended is not the test's
            pass
        await self._session.close()
