"""WebSocket API connections: spot ``/ws-api/v3`` and USD-M ``/ws-fapi/v1`` (§2, §8).

Request ``{"id","method","params"}`` → ``{"id","status":200,"result",...,"rateLimits":[...]}``
or ``{"id","status":4xx/5xx,"error":{"code","msg"[,"data"]}}``. SIGNED methods carry
``apiKey``, ``timestamp`` and ``signature`` (HMAC over the params sorted by name). Methods may
be prefixed with a version (``v3/order.place``). The connection is charged 2 weight on
connect; each method its documented weight, shared with REST by client IP.

Faults: ``fail``/``throttle`` rules match the path ``<endpoint>/<method>`` (e.g.
``/ws-api/v3/order.place``); ``unknown_outcome`` applies to ``order.place`` (no reply, a 503
reply, or the connection dropped); ``delay_ms`` holds each reply.

``arrival_probe`` (None unless the bench firehose sets it) sees every request as it is read,
before it is handled: the latency probe's arrival timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
from aiohttp import WSMsgType, web

from exchanges.sim.engine import SimReject
from exchanges.sim.faults import FaultRule, HttpFault, UnknownOutcomeMode

from .api_errors import BinanceApiError, Product, from_reject
from .connection import WsConn
from .core import BinanceCore
from .futures_rest import FuturesRest, render_futures_place
from .order_entry import FUTURES_ORDER_PARAMS, ID_PARAMS, MODIFY_PARAMS, SPOT_ORDER_PARAMS
from .params import Params
from .ratelimit import RateLimitInfo
from .registry import ConnRegistry
from .rest import Call, Security, failure_error, unknown_error
from .spot_rest import CANCEL_REPLACE_PARAMS, SpotRest, depth_weight, render_place
from .user_streams import UserStreams

__all__ = ["WsApiServer", "Method"]

_log = logging.getLogger("exchanges.binance.sim.ws_api")

_SIGNED_PARAMS = frozenset({"apiKey", "timestamp", "recvWindow", "signature"})
_COMMON = frozenset({"returnRateLimits"})


@dataclass(slots=True)
class WsCall:
    params: Params
    conn: WsConn
    ip: str
    now_ms: int

    def rest(self) -> Call:
        return Call(self.params, self.ip, self.now_ms)


@dataclass(frozen=True, slots=True)
class Method:
    security: Security
    weight: int | Callable[[Params], int]
    handler: Callable[[WsCall], object]
    params: frozenset[str] = field(default_factory=frozenset)
    order: bool = False


class _Err(msgspec.Struct, omit_defaults=True):
    code: int
    msg: str
    data: dict[str, int] | None = None


class _Ok(msgspec.Struct, omit_defaults=True):
    id: object
    status: int
    result: object
    rateLimits: list[RateLimitInfo] | None = None


class _Fail(msgspec.Struct, omit_defaults=True):
    id: object
    status: int
    error: _Err
    rateLimits: list[RateLimitInfo] | None = None


class _Request(msgspec.Struct):
    id: object = msgspec.UNSET
    method: object = msgspec.UNSET
    params: object = msgspec.UNSET


class WsApiServer:
    """WS-API of one host."""

    def __init__(
        self,
        product: Product,
        core: BinanceCore,
        users: UserStreams,
        registry: ConnRegistry,
        spot_rest: SpotRest | None,
        futures_rest: FuturesRest | None,
    ) -> None:
        self.product = product
        self.core = core
        self.users = users
        self.registry = registry
        self.path = "/ws-api/v3" if product == "spot" else "/ws-fapi/v1"
        self._enc = msgspec.json.Encoder()
        self._dec = msgspec.json.Decoder(_Request, float_hook=Decimal)
        self._methods = self._spot_methods(spot_rest) if spot_rest is not None else self._futures_methods(futures_rest)
        opts = core.options
        if product == "spot":
            self._ping, self._pong_timeout = opts.spot_ping_interval_s, opts.spot_pong_timeout_s
        else:
            self._ping, self._pong_timeout = opts.futures_ping_interval_s, opts.futures_pong_timeout_s
        self.requests = 0
        self.arrival_probe: Callable[[bytes], None] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.serve)]

    # -- method tables ----------------------------------------------------------------------

    def _spot_methods(self, rest: SpotRest) -> dict[str, Method]:
        core = self.core
        sym = frozenset({"symbol"})
        return {
            "ping": Method("NONE", 1, lambda c: {}),
            "time": Method("NONE", 1, lambda c: {"serverTime": c.now_ms}),
            "exchangeInfo": Method(
                "NONE",
                20,
                lambda c: rest.exchange_info(c.rest()),
                frozenset({"symbol", "symbols", "permissions", "symbolStatus"}),
            ),
            "depth": Method("NONE", depth_weight, lambda c: rest.depth(c.rest()), frozenset({"symbol", "limit"})),
            "ticker.book": Method(
                "NONE",
                lambda p: 2 if p.raw("symbol") else 4,
                lambda c: rest.book_ticker(c.rest()),
                frozenset({"symbol", "symbols"}),
            ),
            "ticker.price": Method(
                "NONE",
                lambda p: 2 if p.raw("symbol") else 4,
                lambda c: rest.price_ticker(c.rest()),
                frozenset({"symbol", "symbols"}),
            ),
            "avgPrice": Method("NONE", 2, lambda c: rest.avg_price(c.rest()), sym),
            "order.place": Method("SIGNED", 1, lambda c: render_place(core, c.params), SPOT_ORDER_PARAMS, order=True),
            "order.cancel": Method(
                "SIGNED",
                1,
                lambda c: rest.cancel(c.rest()),
                ID_PARAMS | {"newClientOrderId", "cancelRestrictions"},
            ),
            "order.cancelReplace": Method(
                "SIGNED", 1, lambda c: rest.cancel_replace(c.rest()), CANCEL_REPLACE_PARAMS, order=True
            ),
            "order.status": Method("SIGNED", 4, lambda c: rest.query(c.rest()), ID_PARAMS),
            "openOrders.status": Method(
                "SIGNED", lambda p: 6 if p.raw("symbol") else 80, lambda c: rest.open_orders(c.rest()), sym
            ),
            "openOrders.cancelAll": Method("SIGNED", 1, lambda c: rest.cancel_open(c.rest()), sym),
            "allOrders": Method(
                "SIGNED",
                20,
                lambda c: rest.all_orders(c.rest()),
                frozenset({"symbol", "orderId", "startTime", "endTime", "limit"}),
            ),
            "myTrades": Method(
                "SIGNED",
                20,
                lambda c: rest.my_trades(c.rest()),
                frozenset({"symbol", "orderId", "startTime", "endTime", "fromId", "limit"}),
            ),
            "account.status": Method("SIGNED", 20, lambda c: rest.account(c.rest()), frozenset({"omitZeroBalances"})),
            "userDataStream.subscribe.signature": Method("SIGNED", 2, self._subscribe),
            "userDataStream.unsubscribe": Method("NONE", 2, self._unsubscribe, frozenset({"subscriptionId"})),
            "session.subscriptions": Method(
                "NONE", 2, lambda c: [{"subscriptionId": s} for s in self.users.spot_subscriptions(c.conn)]
            ),
            "session.logon": Method(
                "NONE", 2, self._logon, frozenset({"apiKey", "timestamp", "signature", "recvWindow"})
            ),
        }

    def _futures_methods(self, rest: FuturesRest | None) -> dict[str, Method]:
        assert rest is not None
        core = self.core
        sym = frozenset({"symbol"})
        keys = self.users.keys
        return {
            "ping": Method("NONE", 1, lambda c: {}),
            "time": Method("NONE", 1, lambda c: {"serverTime": c.now_ms}),
            "depth": Method("NONE", 2, lambda c: rest.depth(c.rest()), frozenset({"symbol", "limit"})),
            "ticker.book": Method("NONE", 2, lambda c: rest.book_ticker(c.rest()), sym),
            "ticker.price": Method("NONE", 1, lambda c: rest.price_ticker(c.rest()), sym),
            "order.place": Method(
                "SIGNED", 0, lambda c: render_futures_place(core, c.params), FUTURES_ORDER_PARAMS, order=True
            ),
            "order.cancel": Method("SIGNED", 1, lambda c: rest.cancel(c.rest()), ID_PARAMS),
            "order.modify": Method("SIGNED", 1, lambda c: rest.modify(c.rest()), MODIFY_PARAMS),
            "order.status": Method("SIGNED", 1, lambda c: rest.query(c.rest()), ID_PARAMS),
            "account.status": Method("SIGNED", 5, lambda c: rest.account_v2(c.rest())),
            "v2/account.status": Method("SIGNED", 5, lambda c: rest.account_v3(c.rest())),
            "account.balance": Method("SIGNED", 5, lambda c: rest.balance(c.rest())),
            "v2/account.balance": Method("SIGNED", 5, lambda c: rest.balance(c.rest())),
            "account.position": Method("SIGNED", 5, lambda c: rest.position_risk_v2(c.rest()), sym),
            "v2/account.position": Method("SIGNED", 5, lambda c: rest.position_risk_v3(c.rest()), sym),
            "userDataStream.start": Method("USER_STREAM", 1, lambda c: {"listenKey": keys.create(core.account)}),
            "userDataStream.ping": Method(
                "USER_STREAM",
                1,
                lambda c: {"listenKey": keys.keepalive(core.account)},
                frozenset({"listenKey"}),
            ),
            "userDataStream.stop": Method("USER_STREAM", 1, self._stop_key, frozenset({"listenKey"})),
        }

    def _subscribe(self, call: WsCall) -> object:
        return {"subscriptionId": self.users.spot_subscribe(call.conn, self.core.account)}

    def _unsubscribe(self, call: WsCall) -> object:
        self.users.spot_unsubscribe(call.conn, call.params.opt_int("subscriptionId"))
        return {}

    def _logon(self, call: WsCall) -> object:
        raise BinanceApiError(-1020, "This operation is not supported.")

    def _stop_key(self, call: WsCall) -> object:
        key = self.users.keys.close(self.core.account)
        if key is not None:
            self.users.close_key(key)
        return {}

    # -- connection -------------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.StreamResponse:
        ip = request.remote or "unknown"
        try:
            self.core.limits[self.product].charge_weight(ip, 2)
        except BinanceApiError as err:
            headers = {"Retry-After": str(err.retry_after_s)} if err.retry_after_s is not None else {}
            return web.json_response({"code": err.code, "msg": err.msg}, status=err.http_status, headers=headers)
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        opts = self.core.options
        conn = WsConn(
            ws,
            request,
            host=self.product,
            role="ws-api",
            faults=self.core.faults,
            market_queue_max=opts.market_queue_max,
            user_queue_max=opts.user_queue_max,
        )
        self.registry.add(conn)
        try:
            await conn.serve(
                lambda tg: self._read(conn, ip, tg),
                self._ping,
                self._pong_timeout,
                opts.connection_lifetime_s,
            )
        finally:
            self.users.drop(conn)
            self.registry.remove(conn)
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _read(self, conn: WsConn, ip: str, tg: asyncio.TaskGroup) -> None:
        async for msg in conn.ws:
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                raw = msg.data.encode() if isinstance(msg.data, str) else msg.data
                if self.arrival_probe is not None:
                    self.arrival_probe(raw)
                reply = self.handle(conn, ip, raw)
                if reply is None:
                    continue
                frame, delay_ms = reply
                if delay_ms:
                    tg.create_task(self._send_later(conn, frame, delay_ms))
                else:
                    conn.send_reply(frame)
            elif msg.type is WSMsgType.PING:
                await conn.ws.pong(msg.data)
            elif msg.type is WSMsgType.PONG:
                conn.on_pong()
            else:
                return

    async def _send_later(self, conn: WsConn, frame: bytes, delay_ms: int) -> None:
        await asyncio.sleep(delay_ms / 1000)
        conn.send_reply(frame)

    # -- one request ------------------------------------------------------------------------

    def _fail(self, req_id: object, err: BinanceApiError, limits: list[RateLimitInfo] | None) -> bytes:
        data = None
        if err.retry_after_ms is not None and err.http_status in (429, 418):
            data = {"serverTime": self.core.now_ms(), "retryAfter": err.retry_after_ms}
        return self._enc.encode(
            _Fail(
                id=req_id,
                status=err.http_status,
                error=_Err(code=err.code, msg=err.msg, data=data),
                rateLimits=limits,
            )
        )

    def handle(self, conn: WsConn, ip: str, raw: bytes) -> tuple[bytes, int] | None:
        """The reply frame and its delay, or None when no reply is sent (a hang fault)."""
        self.requests += 1
        try:
            req = self._dec.decode(raw)
        except msgspec.DecodeError:  # malformed JSON, or a request of the wrong shape (ValidationError)
            self.core.bad.record(f"ws-api:{self.product}:-1135", raw)
            return self._fail(None, BinanceApiError(-1135, "Invalid JSON Request"), None), 0
        req_id = None if req.id is msgspec.UNSET else req.id
        limiter = self.core.limits[self.product]
        limits: list[RateLimitInfo] | None = None
        method_name = ""
        try:
            if req.id is msgspec.UNSET:
                raise BinanceApiError(-1102, "Mandatory parameter 'id' was not sent, was empty/null, or malformed.")
            if not _valid_id(req_id):
                req_id = None
                raise BinanceApiError(-1102, "Mandatory parameter 'id' was not sent, was empty/null, or malformed.")
            if not isinstance(req.method, str) or not req.method:
                raise BinanceApiError(-1102, "Mandatory parameter 'method' was not sent, was empty/null, or malformed.")
            raw_params = {} if req.params is msgspec.UNSET or req.params is None else req.params
            if not isinstance(raw_params, dict):
                raise BinanceApiError(-1135, "Invalid 'params' in JSON request; expected an object.")
            method_name = req.method
            method = self._methods.get(method_name) or self._methods.get(_unversioned(method_name))
            if method is None:
                raise BinanceApiError(-1020, "This operation is not supported.")
            fault_path = f"{self.path}/{method_name}"
            for kind in (HttpFault.FAIL, HttpFault.THROTTLE):
                rule = self.core.faults.take_http(kind, self.product, fault_path)
                if rule is not None:
                    raise self._fault_error(rule)
            params = Params.from_ws({str(k): v for k, v in raw_params.items()})
            show_limits = params.opt_bool("returnRateLimits") is not False
            weight = method.weight if isinstance(method.weight, int) else method.weight(params)
            limiter.charge_weight(ip, weight)
            self._authorise(method, params)
            if method.order:
                limiter.charge_order(self.core.account)
            account = self.core.account if method.order else None
            result = method.handler(WsCall(params, conn, ip, self.core.now_ms()))
            limits = limiter.ws_rate_limits(ip, account) if show_limits else None
            frame = self._enc.encode(_Ok(id=req_id, status=200, result=result, rateLimits=limits))
        except SimReject as exc:
            err = from_reject(self.product, exc)
            self.core.bad.record(f"ws-api:{self.product}:{err.code}", raw)
            return self._fail(req_id, err, limiter.ws_rate_limits(ip, None)), self.core.faults.delay_ms
        except BinanceApiError as err:
            if err.http_status not in (429, 418) and err.http_status < 500:
                self.core.bad.record(f"ws-api:{self.product}:{err.code}", raw)
            return self._fail(req_id, err, limiter.ws_rate_limits(ip, None)), self.core.faults.delay_ms
        except Exception:  # noqa: BLE001 - a simulator bug answers -1000 (as Binance does), the venue serves on
            self.core.bad.record(f"ws-api:{self.product}:internal", raw)
            _log.exception("internal error serving WS-API %s", method_name)
            internal = BinanceApiError(-1000, "An unknown error occurred while processing the request.", 500)
            return self._fail(req_id, internal, None), self.core.faults.delay_ms
        if method_name and _unversioned(method_name) == "order.place":
            rule = self.core.faults.take_http(HttpFault.UNKNOWN_OUTCOME, self.product, f"{self.path}/{method_name}")
            if rule is not None:
                if rule.mode is UnknownOutcomeMode.HANG:
                    return None
                if rule.mode is UnknownOutcomeMode.DROP:
                    conn.kill()
                    return None
                return self._fail(req_id, unknown_error(self.product), limits), self.core.faults.delay_ms
        return frame, self.core.faults.delay_ms

    def _authorise(self, method: Method, params: Params) -> None:
        """The method's security (API key, or signature) and no parameter it does not know."""
        auth = self.core.auth[self.product]
        allowed = method.params | _COMMON
        if method.security == "USER_STREAM":
            auth.check_key(params.raw("apiKey"))
            allowed = allowed | {"apiKey"}
        elif method.security == "SIGNED":
            auth.check_ws(params)
            allowed = allowed | _SIGNED_PARAMS
        params.check_known(allowed)

    def _fault_error(self, rule: FaultRule) -> BinanceApiError:
        limiter = self.core.limits[self.product]
        now = self.core.now_ms()
        if rule.kind is HttpFault.THROTTLE:
            err = (
                limiter.ban_error(now + rule.retry_after_s * 1000, now)
                if rule.status == 418
                else limiter.weight_error(now)
            )
            err.retry_after_s = rule.retry_after_s
            err.retry_after_ms = now + rule.retry_after_s * 1000
            return err
        return failure_error(self.product, rule.status)


def _unversioned(method: str) -> str:
    if method.startswith("v") and "/" in method:
        prefix, _, rest = method.partition("/")
        if prefix[1:].isdigit():
            return rest
    return method


def _valid_id(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value < 2**63
    return isinstance(value, str) and len(value) <= 36
