"""WebSocket market and user-data stream endpoints (§1, §6, §7).

Spot: ``/ws/<stream>``, ``/ws`` + SUBSCRIBE, ``/stream?streams=a/b`` (combined), and
``/stream/<anything>`` + SUBSCRIBE (combined; see :meth:`StreamServer.routes`). A path
segment without ``@`` (``/ws/0``, as ccxt.pro opens) names no stream and is ignored, so
``/ws/<anything>`` + SUBSCRIBE works on every route but ``/private`` (and, on futures, the
legacy ``/ws/<x>``, where such a segment is a listenKey).
USD-M: ``/public``, ``/market`` and ``/private`` in every form of §1 — ``…/ws/<stream>``,
``…/stream?streams=a/b``, ``/private/ws?listenKey=<k>&events=A/B``, ``/private/ws/<k>``,
``/private/stream?listenKey=<k1>&listenKey=<k2>`` or ``/private/stream`` + SUBSCRIBE ``<k>`` —
and the legacy ``/ws/<stream|listenKey>``, ``/stream?streams=...``.

Control messages: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY/GET_PROPERTY
``combined``. Errors are ``{"error":{"code":N,"msg":"..."},"id":..}`` with Binance's codes
(0 unknown property, 1 bad value type, 2 invalid request, 3 invalid JSON); the connection stays
open. More than ``msgs_per_s`` incoming frames in a second closes it, as on Binance.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec
from aiohttp import WSMsgType, web

from .api_errors import Product
from .connection import WsConn
from .core import BinanceCore
from .hub import StreamHub
from .registry import ConnRegistry
from .stream_names import StreamSpec, parse_stream
from .user_streams import UserStreams

__all__ = ["StreamServer", "Group"]

_log = logging.getLogger("exchanges.binance.sim.streams")

Group = Literal["legacy", "public", "market", "private"]

_METHODS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
_MAX_STRING_ID = 36
_INT64_MAX = 2**63 - 1


class _ControlError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class _Reply(msgspec.Struct, omit_defaults=False):
    result: object
    id: object


class _ErrorBody(msgspec.Struct):
    code: int
    msg: str


class _ErrorReply(msgspec.Struct):
    error: _ErrorBody
    id: object


class StreamServer:
    """Stream connections of one host."""

    def __init__(
        self, product: Product, core: BinanceCore, hub: StreamHub, users: UserStreams, registry: ConnRegistry
    ) -> None:
        self.product = product
        self.core = core
        self.hub = hub
        self.users = users
        self.registry = registry
        self._enc = msgspec.json.Encoder()
        opts = core.options
        if product == "spot":
            self._ping, self._pong_timeout = opts.spot_ping_interval_s, opts.spot_pong_timeout_s
            self._msgs_per_s = opts.spot_stream_msgs_per_s
        else:
            self._ping, self._pong_timeout = opts.futures_ping_interval_s, opts.futures_pong_timeout_s
            self._msgs_per_s = opts.futures_stream_msgs_per_s

    # -- routes -----------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/ws", self._route("legacy", False)),
            web.get("/ws/{tail:.+}", self._route("legacy", False)),
            web.get("/stream", self._route("legacy", True)),
        ]
        if self.product == "spot":
            # ``/stream/<anything>`` + SUBSCRIBE: combined payloads, for clients that tell a spot
            # connection from a futures one by ``/stream`` in its URL (ccxt.pro's is_spot_url,
            # true on Binance's own host name stream.binance.com) — a simulator choice
            routes.append(web.get("/stream/{tail:.+}", self._route("legacy", True)))
        if self.product == "futures":
            for group in ("public", "market", "private"):
                routes += [
                    web.get(f"/{group}/ws", self._route(group, False)),
                    web.get(f"/{group}/ws/{{tail:.+}}", self._route(group, False)),
                    web.get(f"/{group}/stream", self._route(group, True)),
                ]
        return routes

    def _route(self, group: Group, combined: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, group, combined)

        return handle

    # -- connection -------------------------------------------------------------------------

    def _initial(
        self, request: web.Request, group: Group, combined: bool
    ) -> tuple[list[tuple[str, StreamSpec]], list[str], frozenset[str] | None]:
        """Streams and listenKeys named by the URL; raises _ControlError when one is invalid."""
        names: list[str] = []
        tail = request.match_info.get("tail")
        if tail:
            names += [n for n in tail.split("/") if n]
        if combined:
            streams = request.query.get("streams")
            if streams:
                names += [n for n in streams.split("/") if n]
        keys: list[str] = list(request.query.getall("listenKey", [])) if group in ("private", "legacy") else []
        events_param = request.query.get("events")
        events = frozenset(e for e in events_param.split("/") if e) if events_param else None
        specs: list[tuple[str, StreamSpec]] = []
        for name in names:
            if self.product == "futures" and group in ("private", "legacy") and "@" not in name:
                keys.append(name)
                continue
            if "@" not in name and group != "private":
                # A path tail that names no stream (ccxt.pro opens ``/ws/<index>`` and then
                # sends SUBSCRIBE): the connection opens with nothing subscribed.
                continue
            specs.append((name, self._spec(name, group)))
        for key in keys:
            if not self.users.keys.is_active(key):
                raise _ControlError(-1125, "This listenKey does not exist.")
        return specs, keys, events

    def _spec(self, name: str, group: Group) -> StreamSpec:
        if group == "private":
            raise _ControlError(2, "Invalid request: invalid stream")
        spec = parse_stream(name, self.product)
        if spec is None or (group in ("public", "market") and spec.group != group):
            raise _ControlError(2, "Invalid request: invalid stream")
        return spec

    async def serve(self, request: web.Request, group: Group, combined: bool) -> web.StreamResponse:
        try:
            specs, keys, events = self._initial(request, group, combined)
        except _ControlError as err:
            self.core.bad.record(f"ws-url:{self.product}:{err.code}", request.path_qs)
            return web.json_response({"code": err.code, "msg": err.msg}, status=400)
        if len(specs) > self.core.options.max_streams_per_connection:
            return web.json_response({"code": 2, "msg": "Invalid request: too many streams"}, status=400)
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        opts = self.core.options
        conn = WsConn(
            ws,
            request,
            host=self.product,
            role="streams",
            faults=self.core.faults,
            market_queue_max=opts.market_queue_max,
            user_queue_max=opts.user_queue_max,
        )
        conn.combined = combined
        self.registry.add(conn)
        for name, spec in specs:
            self.hub.subscribe(conn, name, spec)
        for key in keys:
            self.users.bind(conn, key, events)
        try:
            await conn.serve(
                lambda _tg: self._read(conn, group, events),
                self._ping,
                self._pong_timeout,
                opts.connection_lifetime_s,
            )
        finally:
            self.hub.drop(conn)
            self.users.drop(conn)
            self.registry.remove(conn)
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _read(self, conn: WsConn, group: Group, events: frozenset[str] | None) -> None:
        ws = conn.ws
        window_start = time.monotonic()
        window_count = 0
        async for msg in ws:
            now = time.monotonic()
            if now - window_start >= 1.0:
                window_start, window_count = now, 0
            window_count += 1
            if window_count > self._msgs_per_s:
                self.core.bad.record(f"ws:{self.product}:too-many-messages", f"{window_count} msgs in 1s")
                await ws.close(code=1008, message=b"too many messages")
                return
            if msg.type is WSMsgType.TEXT:
                self._control(conn, group, events, msg.data.encode() if isinstance(msg.data, str) else msg.data)
            elif msg.type is WSMsgType.BINARY:
                self._control(conn, group, events, msg.data)
            elif msg.type is WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type is WSMsgType.PONG:
                conn.on_pong()
            else:
                return

    # -- control messages -------------------------------------------------------------------

    def _control(self, conn: WsConn, group: Group, events: frozenset[str] | None, raw: bytes) -> None:
        req_id: object = None
        try:
            try:
                message = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                raise _ControlError(3, f"Invalid JSON: {exc}") from None
            if not isinstance(message, dict):
                raise _ControlError(2, "Invalid request: expected an object")
            req_id = message.get("id")
            if not _valid_id(req_id):
                req_id = None
                raise _ControlError(2, "Invalid request: request ID must be an unsigned integer")
            if "method" not in message:
                raise _ControlError(2, "Invalid request: missing field `method`")
            method = message["method"]
            params = message.get("params", [])
            if not isinstance(method, str):
                raise _ControlError(2, f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}")
            result = self._dispatch(conn, group, events, method, params)
            conn.send_reply(self._enc.encode(_Reply(result=result, id=req_id)))
        except _ControlError as err:
            self.core.bad.record(f"ws:{self.product}:{err.code}", raw)
            conn.send_reply(self._enc.encode(_ErrorReply(error=_ErrorBody(code=err.code, msg=err.msg), id=req_id)))

    def _dispatch(
        self, conn: WsConn, group: Group, events: frozenset[str] | None, method: str, params: object
    ) -> object:
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = _string_list(params)
            if method == "SUBSCRIBE":
                self._subscribe(conn, group, events, names)
            else:
                for name in names:
                    if not self.users.unbind(conn, name):
                        self.hub.unsubscribe(conn, name)
            return None
        if method == "LIST_SUBSCRIPTIONS":
            return self.hub.names(conn) + self.users.keys_of(conn)
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not isinstance(params, list) or not params:
                raise _ControlError(2, "Invalid request: property name must be a string")
            if not isinstance(params[0], str):
                raise _ControlError(2, "Invalid request: property name must be a string")
            if params[0] != "combined":
                raise _ControlError(0, "Unknown property")
            if method == "GET_PROPERTY":
                if len(params) != 1:
                    raise _ControlError(2, "Invalid request: too many parameters")
                return conn.combined
            if len(params) != 2:
                raise _ControlError(2, "Invalid request: too many parameters")
            if not isinstance(params[1], bool):
                raise _ControlError(1, "Invalid value type: expected Boolean")
            conn.combined = params[1]
            return None
        raise _ControlError(2, f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}")

    def _subscribe(self, conn: WsConn, group: Group, events: frozenset[str] | None, names: list[str]) -> None:
        resolved: list[tuple[str, StreamSpec | None]] = []
        for name in names:
            if self.product == "futures" and group in ("private", "legacy") and "@" not in name:
                if not self.users.keys.is_active(name):
                    raise _ControlError(2, "Invalid request: invalid stream")
                resolved.append((name, None))
            else:
                resolved.append((name, self._spec(name, group)))
        if self.hub.count(conn) + len(resolved) > self.core.options.max_streams_per_connection:
            raise _ControlError(2, "Invalid request: too many streams")
        for name, spec in resolved:
            if spec is None:
                self.users.bind(conn, name, events)
            else:
                self.hub.subscribe(conn, name, spec)


def _valid_id(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= _INT64_MAX
    return isinstance(value, str) and len(value) <= _MAX_STRING_ID


def _string_list(params: object) -> list[str]:
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise _ControlError(2, "Invalid request: invalid stream")
    return [p for p in params if isinstance(p, str)]
