"""The three OKX WebSocket endpoints and their operations (reference §2, §6, §7).

``/ws/v5/public`` (market channels), ``/ws/v5/private`` (login, then ``orders``,
``positions``, ``account``, ``balance_and_position`` and the order operations ``order``,
``batch-orders``, ``amend-order``, ``batch-amend-orders``, ``cancel-order``,
``batch-cancel-orders``), ``/ws/v5/business`` (login
only: candles and algo channels are not simulated).

Text ``ping`` → ``pong``. Requests are JSON ``{"id"?, "op", "args": [...]}``; a malformed one
gets ``{"event":"error","code":"60012",...}`` and the connection stays open. More than
``ws_ops_per_hour`` subscribe/unsubscribe/login operations on one connection → ``60014``.
A failed login is answered ``60009``-family and closes the connection (4001). More than
``ws_connects_per_s`` new connections a second from one IP are refused with HTTP 429.
Order operations meet the venue's faults like REST orders: ``fail``/``throttle`` answer
``50001``/``50011`` before executing, ``unknown_outcome`` executes and then answers ``50004``,
never answers (``hang``) or drops the connection.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec
from aiohttp import WSMsgType, web

from exchanges.sim.faults import HttpFault, UnknownOutcomeMode

from .api_errors import OkxApiError, exp_time_refusal
from .auth import LoginError
from .connection import Channel, WsConn
from .core import OkxCore
from .order_entry import AutoCancelSink
from .registry import ConnRegistry
from .trade_rest import MAX_BATCH, amend_items, cancel_items, place_items
from .ws_protocol import ErrorEvent, LoginEvent, OpReply, SubscribeEvent, encode

# a WS order operation's REST rule (ratelimit.py), and which count as new orders or amends
_WS_RULES = {
    "order": "order",
    "batch-orders": "batch-orders",
    "amend-order": "amend",
    "batch-amend-orders": "batch-amend",
    "cancel-order": "cancel",
    "batch-cancel-orders": "batch-cancel",
}
_NEW_ORDER_OPS = frozenset({"order", "batch-orders", "amend-order", "batch-amend-orders"})

__all__ = ["WsServer", "WsError", "ChannelHandler"]

_log = logging.getLogger("exchanges.okx.sim.ws")
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_ORDER_OPS = (
    "order",
    "batch-orders",
    "amend-order",
    "batch-amend-orders",
    "cancel-order",
    "batch-cancel-orders",
)
_HOUR = 3600.0
_UNAVAILABLE = (50001, "Service temporarily unavailable. Try again later")
_TIMEOUT = (
    "API endpoint request timeout (does not mean that the request was successful or failed, "
    "please check the request result)."
)


class WsError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def unknown_channel(arg: dict[str, str]) -> WsError:
    ident = arg.get("instId") or arg.get("instType") or arg.get("ccy") or ""
    return WsError(
        60018,
        f"Wrong URL or channel:{arg.get('channel', '')},instId:{ident} doesn't exist. "
        "Please use the correct URL, channel and parameters referring to API document.",
    )


class PushGate(Protocol):
    def hold(self) -> None: ...
    def release(self) -> None: ...


class ChannelHandler(Protocol):
    def handles(self, channel: str, socket: Channel) -> bool: ...
    def subscribe(self, conn: WsConn, arg: dict[str, str]) -> dict[str, str]: ...
    def after_ack(self, conn: WsConn, arg: dict[str, str]) -> None: ...
    def unsubscribe(self, conn: WsConn, arg: dict[str, str]) -> dict[str, str]: ...
    def drop(self, conn: WsConn) -> None: ...
    def names(self, conn: WsConn) -> list[str]: ...


class _Request(msgspec.Struct):
    op: str
    args: list[object] = msgspec.field(default_factory=list)
    id: str = ""
    expTime: str = ""  # place/amend: not processed once the venue's clock is past it


_decode_request = msgspec.json.Decoder(_Request).decode


class WsServer:
    def __init__(
        self,
        core: OkxCore,
        registry: ConnRegistry,
        market: ChannelHandler,
        user: ChannelHandler,
        on_auto_cancel: AutoCancelSink,
        pushes: PushGate,
    ) -> None:
        self.core = core
        self._pushes = pushes
        self._on_auto_cancel = on_auto_cancel
        self.registry = registry
        self._handlers = (market, user)
        self._connects: dict[str, deque[float]] = {}
        self.ops = 0
        self.order_ops = 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ws/v5/public", self._route("public")),
            web.get("/ws/v5/private", self._route("private")),
            web.get("/ws/v5/business", self._route("business")),
        ]

    def _route(self, channel: Channel) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, channel)

        return handle

    def _connect_allowed(self, ip: str) -> bool:
        limit = self.core.options.ws_connects_per_s
        if limit <= 0:
            return True
        now = time.monotonic()
        times = self._connects.setdefault(ip, deque())
        while times and now - times[0] >= 1.0:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True

    async def serve(self, request: web.Request, channel: Channel) -> web.StreamResponse:
        if not self._connect_allowed(request.remote or "?"):
            self.core.bad.record("ws:connect-rate", request.path)
            return web.json_response({"msg": "Too Many Requests", "code": "50011"}, status=429)
        opts = self.core.options
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=64 * 1024)
        await ws.prepare(request)
        conn = WsConn(
            ws,
            request,
            channel=channel,
            conn_id=self.core.new_conn_id(),
            faults=self.core.faults,
            market_queue_max=opts.market_queue_max,
            user_queue_max=opts.user_queue_max,
        )
        self.registry.add(conn)
        try:
            await conn.serve(lambda: self._read(conn), opts.idle_timeout_s)
        finally:
            for handler in self._handlers:
                handler.drop(conn)
            self.registry.remove(conn)
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _read(self, conn: WsConn) -> None:
        async for msg in conn.ws:
            conn.on_receive()
            if msg.type is WSMsgType.TEXT:
                text = msg.data
                if text == "ping":
                    conn.send_reply(b"pong")
                    continue
                await self._handle(conn, text.encode())
            elif msg.type is WSMsgType.BINARY:
                await self._handle(conn, msg.data)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return
            if conn.closed:
                return

    # -- requests ---------------------------------------------------------------------------

    def _error(self, conn: WsConn, code: int, msg: str, req_id: str = "") -> None:
        conn.send_reply(encode(ErrorEvent(event="error", code=str(code), msg=msg, connId=conn.conn_id, id=req_id)))

    async def _handle(self, conn: WsConn, raw: bytes) -> None:
        try:
            req = _decode_request(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.core.bad.record("ws:invalid-request", raw)
            self._error(conn, 60012, f"Invalid request: {raw[:200].decode('utf-8', 'replace')}")
            return
        req_id = req.id
        if req_id and not _ID.match(req_id):
            self._error(conn, 60013, "Invalid args")
            return
        self.ops += 1
        if req.op in _ORDER_OPS:
            self._order_op(conn, req)
            return
        if req.op not in ("subscribe", "unsubscribe", "login"):
            self.core.bad.record(f"ws:op:{req.op}", raw)
            self._error(conn, 60012, f"Invalid request: unsupported operation {req.op!r}", req_id)
            return
        if not self._count_op(conn):
            self._error(conn, 60014, "Requests too frequent.", req_id)
            return
        if req.op == "login":
            await self._login(conn, req)
            return
        args = [a for a in req.args if isinstance(a, dict)]
        if not args or len(args) != len(req.args):
            self._error(conn, 60013, "Invalid args", req_id)
            return
        for arg in args:
            self._sub_op(conn, req.op, {str(k): str(v) for k, v in arg.items()}, req_id)

    def _count_op(self, conn: WsConn) -> bool:
        now = time.monotonic()
        ops = conn.ops_this_hour
        while ops and now - ops[0] >= _HOUR:
            ops.popleft()
        if len(ops) >= self.core.options.ws_ops_per_hour:
            return False
        ops.append(now)
        return True

    def _sub_op(self, conn: WsConn, op: str, arg: dict[str, str], req_id: str) -> None:
        channel = arg.get("channel", "")
        handler = next((h for h in self._handlers if h.handles(channel, conn.channel)), None)
        try:
            if not channel:
                raise WsError(60013, "Invalid args")
            if handler is None:
                raise unknown_channel(arg)
            if op == "subscribe":
                shown = handler.subscribe(conn, arg)
                conn.has_subscription = True
            else:
                shown = handler.unsubscribe(conn, arg)
        except WsError as err:
            self.core.bad.record(f"ws:{op}:{err.code}", str(arg))
            self._error(conn, err.code, err.msg, req_id)
            return
        conn.send_reply(encode(SubscribeEvent(event=op, arg=shown, connId=conn.conn_id, id=req_id)))
        if op == "subscribe":
            handler.after_ack(conn, shown)

    async def _login(self, conn: WsConn, req: _Request) -> None:
        args = req.args
        if len(args) != 1 or not isinstance(args[0], dict):
            self._error(conn, 60013, "Invalid args", req.id)
            return
        try:
            self.core.auth.check_login(args[0])
        except LoginError as err:
            self.core.bad.record(f"ws:login:{err.code}", str({k: v for k, v in args[0].items() if k != "sign"}))
            self._error(conn, err.code, err.msg, req.id)
            conn.close_soon(4001, b"Login failed.")
            return
        conn.logged_in = True
        conn.send_reply(encode(LoginEvent(event="login", code="0", msg="", connId=conn.conn_id)))

    def _order_op(self, conn: WsConn, req: _Request) -> None:
        self.order_ops += 1
        in_us = str(time.time_ns() // 1000)
        if conn.channel != "private":
            self._error(conn, 60012, f"Invalid request: {req.op} is served on /ws/v5/private", req.id)
            return
        if not conn.logged_in:
            conn.send_reply(encode(OpReply(id=req.id, op=req.op, code="60011", msg="Please log in", data=[])))
            return
        items = [a for a in req.args if isinstance(a, dict)]
        single = req.op in ("order", "amend-order", "cancel-order")
        bad_shape = not items or len(items) != len(req.args) or (single and len(items) != 1)
        if bad_shape or len(items) > MAX_BATCH:
            self.core.bad.record(f"ws:{req.op}:60013", str(req.args)[:200])
            conn.send_reply(encode(OpReply(id=req.id, op=req.op, code="60013", msg="Invalid args", data=[])))
            return
        faults = self.core.faults
        host = self._fault_host(items[0])
        path = f"/ws/v5/private/{req.op}"
        for kind in (HttpFault.FAIL, HttpFault.THROTTLE):
            rule = faults.take_http(kind, host, path)
            if rule is not None:
                code_, msg_ = (50011, "Too Many Requests") if kind is HttpFault.THROTTLE else _UNAVAILABLE
                conn.send_reply(encode(OpReply(id=req.id, op=req.op, code=str(code_), msg=msg_, data=[])))
                return
        if req.op in ("order", "batch-orders", "amend-order", "batch-amend-orders") and req.expTime:
            expired = exp_time_refusal(req.expTime, self.core.now_ms(), ws=True)
            if expired is not None:
                self.core.bad.record(f"ws:{req.op}:{expired.code}", req.expTime)
                conn.send_reply(encode(OpReply(id=req.id, op=req.op, code=str(expired.code), msg=expired.msg, data=[])))
                return
        refused = self._charge(req.op, items)
        if refused is not None:  # REST and WS share the per-instrument and account limits (§4)
            conn.send_reply(encode(OpReply(id=req.id, op=req.op, code=str(refused.code), msg=refused.msg, data=[])))
            return
        self._pushes.hold()  # the reply goes out before the orders/positions pushes it caused
        try:
            if req.op in ("order", "batch-orders"):
                result = place_items(self.core, [dict(i) for i in items], ws=True, sink=self._on_auto_cancel)
            elif req.op in ("amend-order", "batch-amend-orders"):
                result = amend_items(self.core, [dict(i) for i in items], ws=True)
            else:
                result = cancel_items(self.core, [dict(i) for i in items], ws=True)
            if result.ok:
                rule = faults.take_http(HttpFault.UNKNOWN_OUTCOME, host, path)
                if rule is not None:
                    self._unknown_outcome(conn, req, rule.mode)
                    return
            code, msg = result.code
            out_us = str(time.time_ns() // 1000)
            reply = OpReply(id=req.id, op=req.op, code=code, msg=msg, data=result.items, inTime=in_us, outTime=out_us)
            conn.send_reply(encode(reply))
        finally:
            self._pushes.release()

    def _charge(self, op: str, items: list[dict[str, object]]) -> OkxApiError | None:
        """Count the operation on the same rules as its REST twin (per user and instrument; new
        orders and amends also on the account's 1,000 per 2 s); the refusal, if over."""
        code = items[0].get("instIdCode")
        inst = self.core.catalog.by_code(int(code)) if isinstance(code, int | str) and str(code).isdigit() else None
        scope = f"{self.core.options.uid}/{inst.inst_id if inst is not None else ''}"
        rule = _WS_RULES.get(op)
        if rule is None:
            return None
        try:
            self.core.limits.charge(rule, scope, len(items))
            if op in _NEW_ORDER_OPS:
                self.core.limits.charge_new_orders(self.core.options.uid, len(items))
        except OkxApiError as err:
            return err
        return None

    def _fault_host(self, item: dict[str, object]) -> str:
        code = item.get("instIdCode")
        inst = self.core.catalog.by_code(int(code)) if isinstance(code, int | str) and str(code).isdigit() else None
        return "futures" if inst is not None and inst.is_swap else "spot"

    def _unknown_outcome(self, conn: WsConn, req: _Request, mode: UnknownOutcomeMode) -> None:
        """The operation ran; its reply is lost (50004), never comes, or the socket drops."""
        if mode is UnknownOutcomeMode.ERROR:
            conn.send_reply(encode(OpReply(id=req.id, op=req.op, code="50004", msg=_TIMEOUT, data=[])))
        elif mode is UnknownOutcomeMode.DROP:
            conn.kill()

    def notice_all(self) -> int:
        """Send the service-upgrade notice (64008) to every connection; returns how many."""
        sent = 0
        for conn in self.registry.select():
            notice = {
                "event": "notice",
                "code": "64008",
                "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
                "connId": conn.conn_id,
            }
            conn.send_reply(encode(notice))
            sent += 1
        return sent
