"""The OKX dialect: one aiohttp app (REST, the three WebSocket paths, ``/_sim/``) over the
engine, its periodic jobs and the admin hooks."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiohttp import web

from exchanges.sim.admin import admin_routes
from exchanges.sim.badinput import BadInput
from exchanges.sim.engine import SimEvent, SimVenue, TradeExecuted
from exchanges.sim.faults import Faults
from exchanges.sim.server import Periodic

from .account_rest import AccountRest
from .core import OkxCore
from .market_stats import Stats24h
from .options import OkxSimOptions
from .public_rest import PublicRest
from .registry import ConnRegistry
from .rest import RestHost
from .trade_rest import TradeRest
from .ws_market import MarketChannels
from .ws_server import WsServer
from .ws_user import UserChannels

__all__ = ["OkxDialect"]


class OkxDialect:
    """Everything protocol-side; implements ``exchanges.sim.admin.SimHooks``."""

    def __init__(self, venue: SimVenue, options: OkxSimOptions, faults: Faults) -> None:
        self.venue = venue
        self.options = options
        self.faults = faults
        self.bad = BadInput()
        self.core = OkxCore(venue, options, faults, self.bad)
        self.account = self.core.account
        self.stats = Stats24h()
        self.registry = ConnRegistry()
        self.market = MarketChannels(self.core, self.stats)
        self.user = UserChannels(self.core)
        self.public_rest = PublicRest(self.core, self.stats)
        self.trade_rest = TradeRest(self.core, self.user.on_auto_cancel)
        self.account_rest = AccountRest(self.core)
        self.stopping = asyncio.Event()
        self.rest = RestHost(self.core, self.stopping)
        self.ws = WsServer(self.core, self.registry, self.market, self.user, self.user.on_auto_cancel, self.user)
        self._unlisten = venue.listen(self._on_event)
        self._sample_prices()

    def close(self) -> None:
        self._unlisten()
        self.core.close()

    def _on_event(self, ev: SimEvent) -> None:
        if isinstance(ev, TradeExecuted):
            t = ev.trade
            self.stats.on_trade(ev.kind, ev.symbol, t.ts_ms, t.price, t.qty)
        self.market.on_event(ev)
        self.user.on_event(ev)

    # -- app --------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        rest = self.rest
        for group in (self.public_rest, self.trade_rest, self.account_rest):
            for ep in group.endpoints():
                app.router.add_route(ep.method, ep.path, rest.handler(ep))
        app.add_routes(self.ws.routes())
        app.add_routes(admin_routes(self.venue, self.faults, self))
        app.router.add_route("*", "/{tail:.*}", self._not_found)

        async def on_shutdown(_: web.Application) -> None:
            self.stopping.set()
            for conn in self.registry.select():
                conn.close_soon(1001, b"server shutdown")
                await conn.ws.close(code=1001, message=b"server shutdown")

        app.on_shutdown.append(on_shutdown)
        return app

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        self.bad.record("rest:unknown-path", f"{request.method} {request.path}")
        return web.json_response({"code": "50000", "msg": f"Not Found: {request.path}", "data": []}, status=404)

    def periodic(self) -> list[Periodic]:
        return [
            Periodic("channels-100ms", 0.1, self.market.tick),
            Periodic("private-snapshots", 0.5, self.user.tick),
            Periodic("price-samples", 60.0, self._sample_prices),
        ]

    def _sample_prices(self) -> None:
        now = self.core.now_ms()
        for inst in self.core.catalog.all():
            price = self.venue.reference_price(inst.kind, inst.symbol)
            self.stats.on_price(inst.kind, inst.symbol, now, price)

    # -- admin hooks ------------------------------------------------------------------------

    def kill_ws(self, host: str | None, target: str) -> int:
        conns = self.registry.select(target)
        for conn in conns:
            conn.kill()
        return len(conns)

    def expire_listen_keys(self) -> int:
        return 0  # OKX has no listen keys: private sockets log in instead

    def server_shutdown(self) -> int:
        """OKX's service-upgrade notice (``64008``) to every connection; clients reconnect."""
        return self.ws.notice_all()

    def state(self) -> dict[str, Any]:
        venue = self.venue
        books = {}
        for inst in self.core.catalog.all():
            book = venue.book(inst.kind, inst.symbol, 1)
            books[inst.inst_id] = {
                "bid": str(book.bids[0][0]) if book.bids else None,
                "ask": str(book.asks[0][0]) if book.asks else None,
                "seq_id": book.update_id,
            }
        marks = {}
        for inst in self.core.catalog.swaps():
            m = venue.mark(inst.symbol)
            marks[inst.inst_id] = {
                "mark": str(m.mark),
                "index": str(m.index),
                "funding_rate": str(m.funding_rate),
                "next_funding_ms": m.next_funding_ms,
            }
        return {
            "venue": "okx",
            "account": self.account,
            "uid": self.options.uid,
            "time_ms": self.core.now_ms(),
            "books": books,
            "marks": marks,
            "connections": [
                {
                    "id": c.id,
                    "conn_id": c.conn_id,
                    "channel": c.channel,
                    "logged_in": c.logged_in,
                    "subscriptions": self.market.names(c) + self.user.names(c),
                    "sent": c.sent,
                    "dropped": c.dropped,
                }
                for c in self.registry.select()
            ],
            "rest": {"requests": self.rest.requests, "errors": self.rest.errors},
            "ws_ops": self.ws.ops,
            "ws_order_ops": self.ws.order_ops,
            "rate_limit_refusals": self.core.limits.refused,
            "private_pushes": self.user.pushes,
            "engine_listener_errors": venue.listener_errors,
            "bad_input": self.bad.snapshot(),
            "faults": msgspec.to_builtins(self.faults.state()),
        }
