"""The gateway process: the router, the event hub, the command processor and the web server,
all owned by one ``asyncio.TaskGroup`` (docs/gateway.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import WSCloseCode, web

from strategy_client import ZmqRouter, __version__
from strategy_client.discovery import DEFAULT_REDIS_URL

from .api import API, ROUTES, Ctx, add_routes, authenticate
from .auth import RateLimiter, Sessions
from .db import Db
from .journals import JournalReader
from .models import Role
from .openapi import openapi_document
from .problems import ApiError, problem_response
from .processor import Processor
from .store import GatewayStore
from .stream import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, Hub

__all__ = ["GatewayConfig", "Gateway", "STATIC_DIR", "DEFAULT_PORT"]

log = logging.getLogger("gateway")

STATIC_DIR = Path(__file__).with_name("static")
DEFAULT_PORT = 8710


class GatewayConfig(msgspec.Struct, kw_only=True):
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0: any free port (``Gateway.port`` says which)
    name: str = "gateway"
    redis_url: str | None = None
    journal: str | None = None
    data_dir: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    rate: float = 20.0
    burst: float = 40.0
    stream_capacity: int = 1000
    poll_s: float = 1.0
    timeout_s: float = 10.0


class Gateway:
    def __init__(self, config: GatewayConfig, store: GatewayStore | None = None) -> None:
        self.config = config
        self.redis_url = config.redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        self.store = store or GatewayStore.open(config.journal, config.data_dir, config.name)
        self.port = 0
        self.ready = asyncio.Event()
        self.ctx: Ctx | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    def _ssl(self) -> ssl.SSLContext | None:
        cfg = self.config
        if not cfg.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        return context

    def build_app(self, ctx: Ctx) -> web.Application:
        app = web.Application(middlewares=[_problems_middleware], client_max_size=64 * 1024)
        add_routes(app, ctx)
        doc = msgspec.json.encode(openapi_document(ROUTES, ctx.version, API))

        async def openapi(_request: web.Request) -> web.Response:
            return web.Response(body=doc, content_type="application/json")

        async def stream(request: web.Request) -> web.StreamResponse:
            return await _stream(ctx, request)

        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(text=_metrics(ctx), content_type="text/plain")

        app.router.add_get(API + "/openapi.json", openapi)
        app.router.add_get(API + "/stream", stream)
        app.router.add_get("/metrics", metrics)
        if STATIC_DIR.is_dir():
            index = STATIC_DIR / "index.html"

            async def root(_request: web.Request) -> web.StreamResponse:
                if index.is_file():
                    return web.FileResponse(index)
                return web.Response(text="tradebus gateway: no UI built (gateway/static/index.html)\n")

            app.router.add_get("/", root)
            app.router.add_static("/static/", STATIC_DIR)
            app.on_response_prepare.append(_revalidate_ui)
        return app

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        db = Db()
        try:
            async with ZmqRouter(self.redis_url) as router:
                hub = Hub(router, capacity=cfg.stream_capacity, timeout_s=cfg.timeout_s)
                processor = Processor(router, self.store, db, poll_s=cfg.poll_s, timeout_s=cfg.timeout_s)
                ctx = self.ctx = Ctx(
                    router=router,
                    store=self.store,
                    db=db,
                    hub=hub,
                    processor=processor,
                    journals=JournalReader(cfg.journal, cfg.data_dir),
                    limiter=RateLimiter(cfg.rate, cfg.burst),
                    sessions=Sessions(),
                    version=__version__,
                    tls=bool(cfg.tls_cert),
                    timeout_s=cfg.timeout_s,
                )
                hub.on_bad_input = ctx.bad_input
                runner = web.AppRunner(self.build_app(ctx), access_log=None, handle_signals=False)
                await runner.setup()
                try:
                    site = web.TCPSite(runner, cfg.host, cfg.port, ssl_context=self._ssl())
                    await site.start()
                    self.port = _bound_port(runner, cfg.port)
                    log.info("gateway %s: serving %s (store %s)", cfg.name, self.url, self.store.where)
                    async with asyncio.TaskGroup() as tg:
                        tasks = [
                            tg.create_task(hub.pump(), name="hub"),
                            tg.create_task(processor.run(), name="processor"),
                        ]
                        await hub.ready.wait()
                        self.ready.set()
                        await stop.wait()
                        log.info("gateway %s: stopping", cfg.name)
                        for t in tasks:
                            t.cancel()
                        for client in list(hub.clients):
                            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"gateway stopping")
                finally:
                    await runner.cleanup()
        finally:
            db.close()
            self.store.close()


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return int(addr[1])
    return asked


@web.middleware
async def _problems_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """aiohttp's own refusals (no route, wrong method, body too large) as problem documents."""
    try:
        resp: web.StreamResponse = await handler(request)
        return resp
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        code = {404: "not_found", 405: "bad_params", 413: "bad_params"}.get(exc.status, "bad_params")
        return problem_response(ApiError(code, exc.reason, status=exc.status), request.path)


async def _stream(ctx: Ctx, request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    try:
        principal = await authenticate(ctx, request)
    except ApiError as err:
        await ws.prepare(request)
        await ws.close(code=CLOSE_UNAUTHORIZED, message=err.problem.detail.encode()[:120])
        return ws
    await ws.prepare(request)
    if not principal.role.allows(Role.READ):
        await ws.close(code=CLOSE_FORBIDDEN, message=b"role read needed")
        return ws
    await ctx.hub.serve(ws, principal.key_id)
    return ws


def _metrics(ctx: Ctx) -> str:
    hub, proc = ctx.hub, ctx.processor
    lines = [
        "# TYPE tradebus_gateway_bad_requests_total counter",
        *(f'tradebus_gateway_bad_requests_total{{kind="{k}"}} {v}' for k, v in sorted(ctx.bad_requests.items())),
        "# TYPE tradebus_gateway_responses_total counter",
        *(
            f'tradebus_gateway_responses_total{{route="{r}",status="{s}"}} {v}'
            for (r, s), v in sorted(ctx.responses.items())
        ),
        f"tradebus_gateway_rate_limited_total {ctx.rate_limited}",
        f"tradebus_gateway_stream_clients {len(hub.clients)}",
        f"tradebus_gateway_events_total {hub.events}",
        f"tradebus_gateway_replayed_total {hub.replayed}",
        f"tradebus_gateway_stream_disconnected_slow_total {hub.disconnected_slow}",
        f"tradebus_gateway_stream_dropped_total {sum(c.dropped_total for c in hub.clients)}",
        f"tradebus_gateway_commands_executed_total {proc.executed}",
        f"tradebus_gateway_commands_recovered_total {proc.recovered}",
        f"tradebus_gateway_command_pushes_dropped_total {proc.pushes_dropped}",
        f"tradebus_gateway_command_store_errors_total {proc.store_errors}",
        f"tradebus_gateway_runners {len(ctx.router.runners())}",
    ]
    return "\n".join(lines) + "\n"


async def _revalidate_ui(request: web.Request, response: web.StreamResponse) -> None:
    """The UI's files are revalidated on every load (``no-cache``: a conditional GET, answered 304
    while unchanged), so a new release's JavaScript is never replaced by a heuristically cached copy."""
    if request.path == "/" or request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"
