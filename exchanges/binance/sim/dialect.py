"""The Binance dialect: both hosts' aiohttp apps over one engine, and the admin hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from exchanges.sim.admin import admin_routes
from exchanges.sim.badinput import BadInput
from exchanges.sim.engine import SimEvent, SimVenue
from exchanges.sim.faults import Faults
from exchanges.sim.server import Periodic
from strategy_client.model import MarketKind

from .api_errors import Product
from .core import BinanceCore
from .firehose import Firehose
from .futures_rest import FuturesRest
from .hub import StreamHub
from .listen_keys import ListenKeys
from .market_streams import MarketStreams
from .options import BinanceSimOptions
from .payloads_market import ServerShutdownEvent
from .probe import LatencyProbe
from .registry import ConnRegistry
from .rest import RestHost
from .sapi import DapiRest, SapiRest
from .spot_rest import SpotRest
from .stream_names import SPEEDS_MS
from .stream_routes import StreamServer
from .user_streams import UserStreams
from .ws_api import WsApiServer

__all__ = ["BinanceDialect"]

_PRODUCTS: tuple[Product, Product] = ("spot", "futures")


class BinanceDialect:
    """Everything protocol-side; implements ``exchanges.sim.admin.SimHooks``."""

    def __init__(self, venue: SimVenue, options: BinanceSimOptions, faults: Faults, seed: int) -> None:
        self.venue = venue
        self.options = options
        self.faults = faults
        self.bad = BadInput()
        self.core = BinanceCore(venue, options, faults, self.bad, seed)
        self.account = self.core.account
        self.registry = ConnRegistry()
        self.keys = ListenKeys(options.listen_key_validity_ms, self.core.now_ms, seed)
        self.users = UserStreams(self.core, self.keys)
        self.hubs: dict[Product, StreamHub] = {p: StreamHub() for p in _PRODUCTS}
        self.markets = {p: MarketStreams(p, self.core, self.hubs[p]) for p in _PRODUCTS}
        self.spot_rest = SpotRest(self.core)
        self.futures_rest = FuturesRest(self.core, self.users)
        self.stopping = asyncio.Event()
        self.rest = {p: RestHost(p, self.core, self.stopping) for p in _PRODUCTS}
        self.streams = {p: StreamServer(p, self.core, self.hubs[p], self.users, self.registry) for p in _PRODUCTS}
        self.ws_api: dict[Product, WsApiServer] = {
            "spot": WsApiServer("spot", self.core, self.users, self.registry, self.spot_rest, None),
            "futures": WsApiServer("futures", self.core, self.users, self.registry, None, self.futures_rest),
        }
        self.probe = LatencyProbe()
        self.firehose = Firehose(self.core, self.markets, self.ws_api, self.rest, self.registry, self.probe)
        self._enc = msgspec.json.Encoder()
        self._unlisten = venue.listen(self._on_event)

    def close(self) -> None:
        self.firehose.cancel()
        self._unlisten()
        self.core.close()

    def _on_event(self, ev: SimEvent) -> None:
        self.markets["spot"].on_event(ev)
        self.markets["futures"].on_event(ev)
        self.users.on_event(ev)

    # -- apps -------------------------------------------------------------------------------

    def app(self, product: Product) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        rest = self.rest[product]
        if product == "spot":
            endpoints = self.spot_rest.endpoints() + SapiRest(self.core).endpoints()
        else:
            endpoints = self.futures_rest.endpoints() + DapiRest(self.core).endpoints()
        for ep in endpoints:
            app.router.add_route(ep.method, ep.path, rest.handler(ep))
        app.add_routes(self.streams[product].routes())
        app.add_routes(self.ws_api[product].routes())
        app.add_routes(admin_routes(self.venue, self.faults, self))
        app.add_routes(self.firehose.routes())
        app.router.add_route("*", "/{tail:.*}", self._not_found(product))

        async def on_shutdown(_: web.Application) -> None:
            self.stopping.set()
            await self.firehose.aclose()
            for conn in self.registry.select(product):
                conn.close_soon(1001, b"server shutdown")
                await conn.ws.close(code=1001, message=b"server shutdown")

        app.on_shutdown.append(on_shutdown)
        return app

    def _not_found(self, product: Product) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.bad.record(f"rest:{product}:unknown-path", f"{request.method} {request.path}")
            return web.json_response(
                {"code": -5000, "msg": f"Path {request.path}, Method {request.method} is invalid"}, status=404
            )

        return handle

    def periodic(self) -> list[Periodic]:
        jobs = [Periodic(f"streams-{ms}ms", ms / 1000, self._ticker(ms)) for ms in SPEEDS_MS]
        jobs.append(Periodic("listen-keys", 0.05, self._sweep_keys))
        return jobs

    def _ticker(self, speed_ms: int) -> Callable[[], None]:
        def tick() -> None:
            self.markets["spot"].tick(speed_ms)
            self.markets["futures"].tick(speed_ms)

        return tick

    def _sweep_keys(self) -> None:
        expired = self.keys.expire_due()
        if expired:
            self.users.expire(expired)

    # -- admin hooks ------------------------------------------------------------------------

    def kill_ws(self, host: str | None, target: str) -> int:
        conns = self.registry.select(host, target)
        for conn in conns:
            conn.kill()
        return len(conns)

    def expire_listen_keys(self) -> int:
        expired = self.keys.expire_all()
        self.users.expire(expired)
        return len(expired)

    def server_shutdown(self) -> int:
        data = self._enc.encode(ServerShutdownEvent(e="serverShutdown", E=self.core.now_ms()))
        sent = 0
        for conn in self.registry.select("spot", "streams"):
            conn.send_reply(data)
            sent += 1
        return sent + self.users.server_shutdown()

    def state(self) -> dict[str, Any]:
        venue = self.venue
        books = {}
        for product in _PRODUCTS:
            kind = MarketKind.SPOT if product == "spot" else MarketKind.PERP
            for symbol in sorted(self.core.specs[product]):
                book = venue.book(kind, symbol, 1)
                books[f"{product}:{symbol}"] = {
                    "bid": str(book.bids[0][0]) if book.bids else None,
                    "ask": str(book.asks[0][0]) if book.asks else None,
                    "update_id": book.update_id,
                }
        marks = {
            m.symbol: {
                "mark": str(m.mark),
                "index": str(m.index),
                "funding_rate": str(m.funding_rate),
                "next_funding_ms": m.next_funding_ms,
            }
            for m in venue.marks()
        }
        return {
            "venue": "binance",
            "account": self.account,
            "time_ms": self.core.now_ms(),
            "books": books,
            "marks": marks,
            "connections": [
                {
                    "id": c.id,
                    "host": c.host,
                    "role": c.role,
                    "path": c.path,
                    "combined": c.combined,
                    "streams": self.hubs["spot" if c.host == "spot" else "futures"].names(c),
                    "user_data": c.has_user_data,
                    "sent": c.sent,
                    "dropped": c.dropped,
                }
                for c in self.registry.select()
            ],
            "listen_keys_active": len(self.keys.active_keys()),
            "rest": {p: {"requests": self.rest[p].requests, "errors": self.rest[p].errors} for p in _PRODUCTS},
            "ws_api_requests": {p: self.ws_api[p].requests for p in _PRODUCTS},
            "rate_limit_refusals": {p: self.core.limits[p].refused for p in _PRODUCTS},
            "user_events_sent": self.users.events_sent,
            "engine_listener_errors": venue.listener_errors,
            "bad_input": self.bad.snapshot(),
            "faults": msgspec.to_builtins(self.faults.state()),
        }
