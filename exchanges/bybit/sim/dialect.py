"""The Bybit dialect: one aiohttp app (REST, public and private streams, admin) over one engine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from exchanges.sim.admin import admin_routes
from exchanges.sim.badinput import BadInput
from exchanges.sim.engine import SimEvent, SimOrder, SimVenue, TradeExecuted
from exchanges.sim.faults import Faults
from exchanges.sim.server import Periodic
from strategy_client.model import MarketKind

from .account_rest import AccountRest
from .api_errors import CATEGORIES, Category
from .core import KIND_OF, BybitCore
from .market_rest import MarketRest
from .options import BybitSimOptions
from .order_entry import OrderEntry
from .private_ws import PrivateStreams
from .public_ws import PublicStreams
from .registry import ConnRegistry
from .rest import RestHost
from .tape import Tape
from .trade_rest import TradeRest
from .trade_ws import TradeStreams

__all__ = ["BybitDialect"]


class BybitDialect:
    """Everything protocol-side; implements ``exchanges.sim.admin.SimHooks``."""

    def __init__(self, venue: SimVenue, options: BybitSimOptions, faults: Faults, seed: int) -> None:
        self.venue = venue
        self.options = options
        self.faults = faults
        self.bad = BadInput()
        self.core = BybitCore(venue, options, faults, self.bad, seed)
        self.account = self.core.account
        self.tape = Tape()
        self.registry = ConnRegistry()
        self.public = PublicStreams(self.core, self.tape, self.registry)
        self.private = PrivateStreams(self.core, self.registry)
        self.entry = OrderEntry(self.core, on_killed=self._on_killed)
        self.trade_ws = TradeStreams(self.core, self.entry, self.registry)
        self.market_rest = MarketRest(self.core, self.tape)
        self.trade_rest = TradeRest(self.core, self.entry)
        self.account_rest = AccountRest(self.core)
        self.stopping = asyncio.Event()
        self.rest = RestHost(self.core, self.stopping)
        self._unlisten = venue.listen(self._on_event)

    def close(self) -> None:
        self._unlisten()
        self.core.close()

    def _on_event(self, ev: SimEvent) -> None:
        if isinstance(ev, TradeExecuted):
            self.tape.record(ev.kind, ev.symbol, ev.trade)
        self.public.on_event(ev)
        self.private.on_event(ev)

    def _on_killed(self, category: Category, order: SimOrder) -> None:
        self.private.on_killed(category, order)

    # -- the app ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        for ep in self.market_rest.endpoints() + self.trade_rest.endpoints() + self.account_rest.endpoints():
            app.router.add_route(ep.method, ep.path, self.rest.handler(ep))
        app.add_routes(self.public.routes())
        app.add_routes(self.private.routes())
        app.add_routes(self.trade_ws.routes())
        app.add_routes(admin_routes(self.venue, self.faults, self))
        app.router.add_route("*", "/{tail:.*}", self._not_found())

        async def on_shutdown(_: web.Application) -> None:
            self.stopping.set()
            for conn in self.registry.select():
                conn.close_soon(1001, b"server shutdown")
                await conn.ws.close(code=1001, message=b"server shutdown")

        app.on_shutdown.append(on_shutdown)
        return app

    def _not_found(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.bad.record("rest:unknown-path", f"{request.method} {request.path}")
            return web.Response(status=404, text="404 page not found", content_type="text/plain")

        return handle

    def periodic(self) -> list[Periodic]:
        return self.public.periodic() + self.private.periodic()

    # -- admin hooks ------------------------------------------------------------------------

    def kill_ws(self, host: str | None, target: str) -> int:
        conns = self.registry.select(host, target)
        for conn in conns:
            conn.kill()
        return len(conns)

    def expire_listen_keys(self) -> int:
        """Bybit has no listenKeys: private sessions are authenticated per connection."""
        return 0

    def server_shutdown(self) -> int:
        """Bybit's service restart: every order book stream starts over with ``u`` = 1."""
        return self.public.restart_books()

    def state(self) -> dict[str, Any]:
        venue = self.venue
        books = {}
        for category in CATEGORIES:
            kind: MarketKind = KIND_OF[category]
            for symbol in sorted(self.core.specs[category]):
                book = venue.book(kind, symbol, 1)
                books[f"{category}:{symbol}"] = {
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
            "venue": "bybit",
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
                    "topics": self.public.topics_of(c) + self.private.topics_of(c),
                    "authed": c.authed,
                    "sent": c.sent,
                    "dropped": c.dropped,
                }
                for c in self.registry.select()
            ],
            "rest": {"requests": self.rest.requests, "errors": self.rest.errors},
            "rate_limit_refusals": {"ip": self.core.limits.refused_ip, "uid": self.core.limits.refused_uid},
            "user_events_sent": self.private.events_sent,
            "engine_listener_errors": venue.listener_errors,
            "bad_input": self.bad.snapshot(),
            "faults": msgspec.to_builtins(self.faults.state()),
        }
