"""Clients for the offline OKX venue over real sockets: signed REST and WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import msgspec

from exchanges.okx.signing import iso_timestamp, sign_rest, sign_ws_login
from exchanges.okx.sim import OkxSim

__all__ = ["Rest", "Ws", "now_ms", "body_of", "login_args"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def body_of(response: httpx.Response) -> Any:
    return msgspec.json.decode(response.content)


def login_args(sim: OkxSim, *, passphrase: str | None = None, ts: int | None = None) -> dict[str, str]:
    stamp = str(ts if ts is not None else now_ms() // 1000)
    return {
        "apiKey": sim.api_key,
        "passphrase": passphrase or sim.passphrase,
        "timestamp": stamp,
        "sign": sign_ws_login(sim.api_secret, stamp),
    }


class Rest:
    """OKX REST with OK-ACCESS-* signing over the exact bytes sent."""

    def __init__(self, sim: OkxSim) -> None:
        self.sim = sim
        self.client = httpx.AsyncClient(base_url=sim.urls.rest, timeout=10.0)

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params={k: v for k, v in params.items() if v is not None})

    def headers(
        self, method: str, path_qs: str, body: str = "", *, ts_ms: int | None = None, **override: str
    ) -> dict[str, str]:
        ts = iso_timestamp(ts_ms if ts_ms is not None else now_ms())
        headers = {
            "OK-ACCESS-KEY": self.sim.api_key,
            "OK-ACCESS-PASSPHRASE": self.sim.passphrase,
            "OK-ACCESS-TIMESTAMP": ts,
            "OK-ACCESS-SIGN": sign_rest(self.sim.api_secret, ts, method, path_qs, body),
            "Content-Type": "application/json",
        }
        headers.update(override)
        return headers

    async def signed_get(self, path: str, **params: Any) -> httpx.Response:
        query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
        path_qs = f"{path}?{query}" if query else path
        return await self.client.get(path_qs, headers=self.headers("GET", path_qs))

    async def post(self, path: str, body: Any, *, text: str | None = None, **override: str) -> httpx.Response:
        raw = text if text is not None else json.dumps(body)
        return await self.client.post(path, content=raw.encode(), headers=self.headers("POST", path, raw, **override))

    async def order(self, **fields: Any) -> Any:
        return body_of(await self.post("/api/v5/trade/order", fields))


class Ws:
    """A WebSocket connection collecting messages; ``wait_for`` waits on a condition."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession) -> None:
        self.ws = ws
        self._session = session
        self.messages: list[Any] = []
        self.texts: list[str] = []
        self._new = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str) -> Ws:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, heartbeat=None)
        except BaseException:
            await session.close()
            raise
        return cls(ws, session)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self.texts.append(msg.data)
                    if msg.data != "pong":
                        try:
                            self.messages.append(json.loads(msg.data))
                        except ValueError:
                            self.messages.append({"_raw": msg.data})
                    self._new.set()
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            self._new.set()

    async def send(self, obj: Any) -> None:
        await self.ws.send_str(obj if isinstance(obj, str) else json.dumps(obj))

    async def wait_for(self, check: Callable[[list[Any]], Any], timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                result = check(self.messages)
                if result:
                    return result
                if self.closed.is_set():
                    raise AssertionError(f"connection closed ({self.close_code}) before the condition held")
                self._new.clear()
                await self._new.wait()

    def of(self, **match: Any) -> list[Any]:
        """Messages whose top-level fields (or ``arg`` fields, for ``channel``) match."""
        out = []
        for m in self.messages:
            arg = m.get("arg") or {}
            if all(m.get(k, arg.get(k)) == v for k, v in match.items()):
                out.append(m)
        return out

    def pushes(self, channel: str, **match: Any) -> list[Any]:
        """Data pushes of ``channel`` (not the subscribe acknowledgements)."""
        return [m for m in self.of(channel=channel, **match) if "data" in m and "event" not in m]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self._session.close()
