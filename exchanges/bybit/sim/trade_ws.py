"""WebSocket order entry ``/v5/trade``: ``auth``, then ``order.create``, ``order.amend``,
``order.cancel`` and the ``-batch`` variants, each answered with its ``reqId`` echoed.

Request: ``{"reqId", "header": {"X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"?, "Referer"?},
"op", "args": [{...the REST body...}]}``. Reply: ``{"reqId", "retCode", "retMsg", "op",
"data", "retExtInfo", "header": {"X-Bapi-Limit", "X-Bapi-Limit-Status",
"X-Bapi-Limit-Reset-Timestamp", "Traceid", "Timenow"}, "connId"}``; ``data`` is the REST
result (``{"orderId","orderLinkId"}``; batch: ``{"list": [...]}`` with a per-item
``retExtInfo.list`` of codes). Validation, errors and the per-UID rate limits are the REST
endpoint's (``/v5/order/create:<category>`` ...), so a WS order and a REST order meet the same
rules; fills and order updates arrive on ``/v5/private`` as for REST orders.

Choices where Bybit's documentation is silent: an order op before ``auth`` answers retCode
10003 "Request not authorized"; ``auth`` failures answer 10003 (unknown key), 10004 (bad
signature) or 10001 (malformed/expired), and a second ``auth`` 10001 "Repeat auth";
``order.amend`` is the REST amend (a resting Limit order's new total ``qty`` and/or ``price``);
a missing or stale ``X-BAPI-TIMESTAMP`` answers 10002 like REST; an unknown
``op`` answers 10001. ``ping`` answers ``{"retCode":0,"retMsg":"OK","op":"pong","data":
["<ms>"],"connId"}``. The idle cut-off is the private stream's.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable

import msgspec
from aiohttp import web

from exchanges.sim.engine import SimReject

from .api_errors import BybitApiError, from_reject, param_error
from .auth import WsAuthError
from .connection import WsConn
from .core import BybitCore
from .order_entry import OrderEntry
from .params import Params
from .registry import ConnRegistry
from .ws_serve import serve_ws

__all__ = ["TradeStreams"]

_log = logging.getLogger("exchanges.bybit.sim.trade_ws")

_DIGITS = re.compile(r"^[0-9]{1,19}$")
_DEFAULT_RECV_WINDOW = 5000
_BATCH_MAX = {"spot": 10, "linear": 20}
_OPS = (
    "order.create",
    "order.amend",
    "order.cancel",
    "order.create-batch",
    "order.amend-batch",
    "order.cancel-batch",
)
_PATHS = {
    "order.create": "/v5/order/create",
    "order.amend": "/v5/order/amend",
    "order.cancel": "/v5/order/cancel",
    "order.create-batch": "/v5/order/create-batch",
    "order.amend-batch": "/v5/order/amend-batch",
    "order.cancel-batch": "/v5/order/cancel-batch",
}


class TradeReply(msgspec.Struct, kw_only=True, omit_defaults=True):
    reqId: str = ""
    retCode: int
    retMsg: str
    op: str
    data: object = msgspec.field(default_factory=dict)
    retExtInfo: object = msgspec.field(default_factory=dict)
    header: dict[str, str] = msgspec.field(default_factory=dict)
    connId: str


class _Request(msgspec.Struct, kw_only=True):
    op: str
    reqId: str | int | None = None
    header: dict[str, str | int] = msgspec.field(default_factory=dict)
    args: list[object] = msgspec.field(default_factory=list)


_decode = msgspec.json.Decoder(_Request).decode


class TradeStreams:
    """Connections of ``/v5/trade``; orders go through the same :class:`OrderEntry` as REST."""

    def __init__(self, core: BybitCore, entry: OrderEntry, registry: ConnRegistry) -> None:
        self.core = core
        self.entry = entry
        self.registry = registry
        self._enc = msgspec.json.Encoder()
        self.requests = 0
        self.errors = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v5/trade", self._handle)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        return await serve_ws(
            request,
            self.core,
            self.registry,
            host="trade",
            role="user",
            idle_timeout_s=self.core.options.private_idle_timeout_s,
            on_frame=self._on_frame,
        )

    # -- frames -----------------------------------------------------------------------------

    def _send(self, conn: WsConn, reply: TradeReply) -> None:
        if reply.retCode != 0:
            self.errors += 1
        frame = self._enc.encode(reply)
        delay_ms = self.core.faults.delay_ms
        if delay_ms and reply.op in _OPS:  # the ``delay_ms`` fault holds order replies, as on REST
            asyncio.get_running_loop().call_later(delay_ms / 1000, conn.send_reply, frame)
            return
        conn.send_reply(frame)

    def _error(self, conn: WsConn, req_id: str, op: str, code: int, msg: str, raw: bytes) -> None:
        self.core.bad.record(f"ws:trade:{code}", raw)
        self._send(conn, TradeReply(reqId=req_id, retCode=code, retMsg=msg, op=op, connId=conn.conn_id))

    def _on_frame(self, conn: WsConn, raw: bytes) -> None:
        self.requests += 1
        try:
            req = _decode(raw)
        except msgspec.ValidationError as exc:
            self._error(conn, "", "", 10001, f"params error: {exc}", raw)
            return
        except msgspec.DecodeError:
            self._error(conn, "", "", 10001, "params error: invalid json", raw)
            return
        req_id = "" if req.reqId is None else str(req.reqId)
        if req.op == "ping":
            pong = TradeReply(
                reqId=req_id, retCode=0, retMsg="OK", op="pong", data=[str(self.core.now_ms())], connId=conn.conn_id
            )
            self._send(conn, pong)
            return
        if req.op == "auth":
            self._auth(conn, req.args, req_id, raw)
            return
        if req.op not in _OPS:
            self._error(conn, req_id, req.op, 10001, f"params error: op {req.op} is not supported", raw)
            return
        if not conn.authed:
            self._error(conn, req_id, req.op, 10003, "Request not authorized", raw)
            return
        try:
            self._check_timestamp(req.header)
            if len(req.args) != 1 or not isinstance(req.args[0], dict):
                raise param_error("params error: args must hold exactly one object")
            params = Params(req.args[0])
            category = params.raw("category")
            key = f"{_PATHS[req.op]}:{category}" if isinstance(category, str) and category else _PATHS[req.op]
            try:
                headers = self.core.limits.charge_uid(self.core.account, key)
            except BybitApiError:
                headers = self.core.limits.peek(self.core.account, key)
                raise
        except BybitApiError as err:
            self._error(conn, req_id, req.op, err.code, err.msg, raw)
            return
        headers = {**headers, "Traceid": secrets.token_hex(16), "Timenow": str(self.core.now_ms())}
        if req.op.endswith("-batch"):
            self._batch(conn, req.op, req_id, params, headers, raw)
            return
        try:
            data = self._one(req.op, params)
        except Exception as exc:  # noqa: BLE001 - every failure gets a typed answer, as on REST
            refusal = exc if isinstance(exc, BybitApiError) else BybitApiError(10016, "Internal System Error.")
            if not isinstance(exc, BybitApiError):
                _log.exception("internal error serving %s", req.op)
            self.core.bad.record(f"ws:trade:{refusal.code}", raw)
            reply = TradeReply(
                reqId=req_id, retCode=refusal.code, retMsg=refusal.msg, op=req.op, header=headers, connId=conn.conn_id
            )
            self._send(conn, reply)
            return
        self._send(
            conn,
            TradeReply(reqId=req_id, retCode=0, retMsg="OK", op=req.op, data=data, header=headers, connId=conn.conn_id),
        )

    def _one(self, op: str, params: Params) -> object:
        action: Callable[[Params], object]
        if op == "order.create":
            action = self.entry.place
        elif op == "order.cancel":
            action = self.entry.cancel
        else:
            action = self.entry.amend
        try:
            return action(params)
        except SimReject as exc:
            raise from_reject("spot" if params.raw("category") == "spot" else "linear", exc) from None

    def _batch(self, conn: WsConn, op: str, req_id: str, params: Params, headers: dict[str, str], raw: bytes) -> None:
        category = params.raw("category")
        requests = params.raw("request")
        single = op.removesuffix("-batch")
        if category not in _BATCH_MAX:
            self._error(conn, req_id, op, 10001, f"params error: category invalid: {category}", raw)
            return
        if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
            self._error(conn, req_id, op, 10001, "params error: request must be a non-empty list of orders", raw)
            return
        if len(requests) > _BATCH_MAX[str(category)]:
            self._error(conn, req_id, op, 10001, f"params error: at most {_BATCH_MAX[str(category)]} orders", raw)
            return
        results: list[object] = []
        codes: list[dict[str, object]] = []
        for item in requests:
            try:
                ack = msgspec.to_builtins(self._one(single, Params({**item, "category": category})))
                entry = {"category": category, "symbol": item.get("symbol", "")}
                entry.update(ack if isinstance(ack, dict) else {})
                entry["createAt"] = str(self.core.now_ms())
                results.append(entry)
                codes.append({"code": 0, "msg": "OK"})
            except Exception as exc:  # noqa: BLE001 - each item gets its own typed answer
                refusal = exc if isinstance(exc, BybitApiError) else BybitApiError(10016, "Internal System Error.")
                if not isinstance(exc, BybitApiError):
                    _log.exception("internal error serving %s", op)
                self.core.bad.record(f"ws:trade:{refusal.code}", raw)
                symbol = item.get("symbol", "")
                results.append({"category": category, "symbol": symbol, "orderId": "", "orderLinkId": ""})
                codes.append({"code": refusal.code, "msg": refusal.msg})
        self._send(
            conn,
            TradeReply(
                reqId=req_id,
                retCode=0,
                retMsg="OK",
                op=op,
                data={"list": results},
                retExtInfo={"list": codes},
                header=headers,
                connId=conn.conn_id,
            ),
        )

    def _check_timestamp(self, header: dict[str, str | int]) -> None:
        ts_text = str(header.get("X-BAPI-TIMESTAMP", ""))
        if not _DIGITS.match(ts_text):
            raise BybitApiError(10002, "invalid request, please check your timestamp and recv_window param")
        window_text = str(header.get("X-BAPI-RECV-WINDOW", ""))
        if window_text and not _DIGITS.match(window_text):
            raise param_error("params error: X-BAPI-RECV-WINDOW invalid")
        window = int(window_text) if window_text else _DEFAULT_RECV_WINDOW
        ts, now = int(ts_text), self.core.now_ms()
        if not now - window <= ts < now + 1000:
            raise BybitApiError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]",
            )

    def _auth(self, conn: WsConn, args: list[object], req_id: str, raw: bytes) -> None:
        if conn.authed:
            self._error(conn, req_id, "auth", 10001, "Repeat auth", raw)
            return
        try:
            self.core.auth.check_ws(args)
        except WsAuthError as err:
            code = 10003 if err.msg == "Invalid apikey" else 10004 if err.msg == "Invalid sign" else 10001
            self._error(conn, req_id, "auth", code, err.msg, raw)
            return
        conn.authed = True
        self._send(conn, TradeReply(reqId=req_id, retCode=0, retMsg="OK", op="auth", connId=conn.conn_id))
