"""One accepted Bybit WebSocket from upgrade to close, shared by the public, private and
``/v5/trade`` routes: the connection is registered, its frames read (every frame counts as
activity for the idle cut-off; protocol pings are answered), and on any end it is unregistered
and closed. The route keeps only what is its own: ``on_frame`` and its per-connection state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from aiohttp import WSMsgType, web

from .connection import ConnRole, WsConn
from .core import BybitCore
from .registry import ConnRegistry

__all__ = ["serve_ws"]


async def serve_ws(
    request: web.Request,
    core: BybitCore,
    registry: ConnRegistry,
    *,
    host: str,
    role: ConnRole,
    idle_timeout_s: float,
    on_frame: Callable[[WsConn, bytes], None],
    on_open: Callable[[WsConn], None] | None = None,
    on_close: Callable[[WsConn], None] | None = None,
) -> web.WebSocketResponse:
    """Serve one connection until the client leaves or the sim cuts it (idle, lifetime, faults).

    ``on_open`` runs once the connection is registered, ``on_close`` first thing when it ends."""
    opts = core.options
    ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = WsConn(
        ws,
        request,
        host=host,
        role=role,
        faults=core.faults,
        market_queue_max=opts.market_queue_max,
        user_queue_max=opts.user_queue_max,
    )
    registry.add(conn)
    if on_open is not None:
        on_open(conn)
    try:
        await conn.serve(lambda: _read(conn, on_frame), idle_timeout_s, opts.connection_lifetime_s)
    finally:
        if on_close is not None:
            on_close(conn)
        registry.remove(conn)
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


async def _read(conn: WsConn, on_frame: Callable[[WsConn, bytes], None]) -> None:
    ws = conn.ws
    async for msg in ws:
        conn.touch()
        if msg.type is WSMsgType.TEXT:
            on_frame(conn, msg.data.encode() if isinstance(msg.data, str) else msg.data)
        elif msg.type is WSMsgType.BINARY:
            on_frame(conn, msg.data)
        elif msg.type is WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type is WSMsgType.PONG:
            continue
        else:
            return
