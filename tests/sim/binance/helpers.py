"""Clients for the offline Binance venue over real sockets: signed REST, streams, WS-API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import httpx
import msgspec

from exchanges.binance.signing import encode_params, sign_rest, sign_ws_params
from exchanges.binance.sim import BinanceSim

__all__ = ["Rest", "WsClient", "now_ms", "json_of"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def json_of(response: httpx.Response) -> Any:
    return msgspec.json.decode(response.content)


class Rest:
    """One host's REST API with Binance signing (query for GET, form body otherwise)."""

    def __init__(self, sim: BinanceSim, product: str) -> None:
        self.sim = sim
        base = sim.urls.spot_rest if product == "spot" else sim.urls.futures_rest
        self.client = httpx.AsyncClient(base_url=base, timeout=10.0)
        self.key = sim.api_key
        self.secret = sim.api_secret

    async def close(self) -> None:
        await self.client.aclose()

    async def public(self, method: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.request(method, path, params={k: v for k, v in params.items() if v is not None})

    async def keyed(self, method: str, path: str, **params: Any) -> httpx.Response:
        query = encode_params(params)
        url = f"{path}?{query}" if query else path
        return await self.client.request(method, url, headers={"X-MBX-APIKEY": self.key})

    async def signed(self, method: str, path: str, *, secret: str | None = None, key: str | None = None,
                     in_body: bool | None = None, **params: Any) -> httpx.Response:
        params.setdefault("timestamp", now_ms())
        payload = encode_params(params)
        signature = sign_rest(secret or self.secret, payload)
        headers = {"X-MBX-APIKEY": key or self.key}
        body_form = in_body if in_body is not None else method != "GET"
        if body_form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return await self.client.request(method, path, content=f"{payload}&signature={signature}",
                                             headers=headers)
        return await self.client.request(method, f"{path}?{payload}&signature={signature}", headers=headers)


class WsClient:
    """A WebSocket connection that collects JSON messages; ``wait_for`` waits on a condition."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession) -> None:
        self.ws = ws
        self._session = session
        self.messages: list[Any] = []
        self.raw: list[str] = []
        self._new = asyncio.Event()
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._next_id = 1

    @classmethod
    async def connect(cls, url: str, *, autoping: bool = True) -> WsClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, autoping=autoping, heartbeat=None)
        except BaseException:
            await session.close()
            raise
        return cls(ws, session)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self.raw.append(msg.data)
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

    async def wait_for(self, check: Any, timeout: float = 10.0, what: str = "message") -> Any:
        """The first collected message for which ``check(msg)`` is true (searching from the start)."""
        deadline = time.monotonic() + timeout
        seen = 0
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

    async def request(self, method: str, params: dict[str, Any] | None = None, *,
                      secret: str | None = None, key: str | None = None) -> Any:
        """A WS-API request; signed when ``secret`` is given."""
        req_id = f"r{self._next_id}"
        self._next_id += 1
        body: dict[str, Any] = {"id": req_id, "method": method}
        if params is not None or secret is not None:
            p = dict(params or {})
            if secret is not None:
                p.setdefault("apiKey", key)
                p.setdefault("timestamp", now_ms())
                p["signature"] = sign_ws_params(secret, p)
            body["params"] = p
        await self.send(body)
        return await self.wait_for(lambda m: m.get("id") == req_id, what=f"reply to {method}")

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing: how the reader ended is not the test's
            pass
        await self._session.close()
