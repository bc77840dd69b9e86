"""The private stream ``/v5/private`` (reference §7): auth, then ``order``, ``execution``,
``position`` and ``wallet`` (or the categorised ``order.spot``, ``execution.linear``...).

``{"op":"auth","args":[key, expires, signature]}`` first (``expires`` in the future,
signature ``hex(HMAC(secret, "GET/realtime" + expires))``); a subscribe before it is refused.
Pushes are ``{"id","topic","creationTime","data":[...]}`` from engine events, in the engine's
order: a fill sends ``execution`` then ``order``, and once the call is done ``position`` and
``wallet``; ``position`` is also sent on every linear create and cancel, and on a leverage
change; funding settlements arrive as ``execution`` items with ``execType`` ``Funding``
(``execFee`` > 0 paid) followed by ``wallet``. Nothing is sent on subscribe (no snapshots).
``?max_active_time=30s..10m`` sets the idle cut-off (default 10 min); ``ping`` answers
``{"op":"pong","args":["<ms>"]}``.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

import msgspec
from aiohttp import web

from exchanges.sim.engine import (
    BalanceReason,
    BalancesChanged,
    ExecType,
    LeverageChanged,
    OrderChanged,
    SimEvent,
    SimOrder,
    SimReject,
)
from exchanges.sim.server import Periodic
from strategy_client.model import MarketKind

from .api_errors import Category
from .auth import WsAuthError
from .connection import WsConn
from .core import CATEGORY_OF, BybitCore
from .numbers import money
from .payloads_account import flat_position, position_ws, wallet
from .payloads_trade import ExecutionItem, execution_item, order_item
from .registry import ConnRegistry
from .ws_messages import BadRequest, OpReply, PrivatePong, decode_request
from .ws_serve import serve_ws

__all__ = ["PrivateStreams", "PRIVATE_TOPICS"]

ZERO = Decimal(0)
PRIVATE_TOPICS = frozenset({"order", "execution", "position", "wallet"})
_CATEGORISED = frozenset({"order.spot", "order.linear", "execution.spot", "execution.linear", "position.linear"})
_ACTIVE_TIME = re.compile(r"^([0-9]+)(s|m)$")


class Push(msgspec.Struct, kw_only=True):
    id: str
    topic: str
    creationTime: int
    data: list[object]


def _max_active_s(text: str | None, default_s: float) -> float:
    """``max_active_time`` (``30s``..``10m``); ValueError names the field when out of range."""
    if text is None:
        return default_s
    m = _ACTIVE_TIME.match(text)
    if m is None:
        raise ValueError(f"max_active_time must look like 30s or 10m, got {text!r}")
    seconds = int(m.group(1)) * (60 if m.group(2) == "m" else 1)
    if not 30 <= seconds <= 600:
        raise ValueError(f"max_active_time must be between 30s and 10m, got {text!r}")
    return float(seconds)


class PrivateStreams:
    def __init__(self, core: BybitCore, registry: ConnRegistry) -> None:
        self.core = core
        self.registry = registry
        self._enc = msgspec.json.Encoder()
        self._subs: dict[WsConn, set[str]] = {}
        self.events_sent = 0

    # -- connections ------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v5/private", self._handle)]

    def topics_of(self, conn: WsConn) -> list[str]:
        return sorted(self._subs.get(conn, ()))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        opts = self.core.options
        try:
            idle_s = _max_active_s(request.query.get("max_active_time"), opts.private_idle_timeout_s)
        except ValueError as exc:
            self.core.bad.record("ws:private:max_active_time", request.path_qs)
            return web.Response(status=400, text=str(exc), content_type="text/plain")
        return await serve_ws(
            request,
            self.core,
            self.registry,
            host="private",
            role="user",
            idle_timeout_s=idle_s,
            on_frame=self._control,
            on_open=self._open,
            on_close=self._close,
        )

    def _open(self, conn: WsConn) -> None:
        self._subs[conn] = set()

    def _close(self, conn: WsConn) -> None:
        self._subs.pop(conn, None)

    # -- control ----------------------------------------------------------------------------

    def _reply(self, conn: WsConn, success: bool, msg: str, req_id: object, op: str) -> None:
        rid = "" if req_id is None else str(req_id)
        conn.send_reply(
            self._enc.encode(OpReply(success=success, ret_msg=msg, conn_id=conn.conn_id, req_id=rid, op=op))
        )

    def _control(self, conn: WsConn, raw: bytes) -> None:
        try:
            req = decode_request(raw)
        except BadRequest as err:
            self.core.bad.record("ws:private:bad-request", raw)
            self._reply(conn, False, err.msg, None, "")
            return
        if req.op == "ping":
            pong = PrivatePong(
                req_id="" if req.req_id is None else str(req.req_id),
                op="pong",
                args=[str(self.core.now_ms())],
                conn_id=conn.conn_id,
            )
            conn.send_reply(self._enc.encode(pong))
            return
        if req.op == "auth":
            self._auth(conn, req.args, req.req_id)
            return
        if req.op not in ("subscribe", "unsubscribe"):
            self.core.bad.record("ws:private:invalid-op", raw)
            self._reply(conn, False, f"error:invalid op {req.op}", req.req_id, req.op)
            return
        if not conn.authed:
            self.core.bad.record("ws:private:not-authorized", raw)
            self._reply(conn, False, "Request not authorized", req.req_id, req.op)
            return
        names = [a for a in req.args if isinstance(a, str)]
        error = self._check_topics(names, len(req.args))
        if error is not None:
            self.core.bad.record("ws:private:topic", raw)
            self._reply(conn, False, error, req.req_id, req.op)
            return
        mine = self._subs.setdefault(conn, set())
        if req.op == "subscribe":
            mine.update(names)
        else:
            mine.difference_update(names)
        self._reply(conn, True, "", req.req_id, req.op)

    @staticmethod
    def _check_topics(names: list[str], count: int) -> str | None:
        if not names or len(names) != count:
            return "error:args must be a non-empty list of topics"
        for name in names:
            if name not in PRIVATE_TOPICS and name not in _CATEGORISED:
                return f"error:handler not found,topic:{name}"
        if any(n in PRIVATE_TOPICS for n in names) and any(n in _CATEGORISED for n in names):
            return "error:all-in-one and categorised topics cannot be subscribed in one request"
        return None

    def _auth(self, conn: WsConn, args: list[object], req_id: object) -> None:
        if conn.authed:
            self._reply(conn, False, "Repeat auth", req_id, "auth")
            return
        try:
            self.core.auth.check_ws(args)
        except WsAuthError as err:
            self.core.bad.record("ws:private:auth", err.msg)
            self._reply(conn, False, err.msg, req_id, "auth")
            return
        conn.authed = True
        self._reply(conn, True, "", req_id, "auth")

    # -- pushes -----------------------------------------------------------------------------

    def _send(self, topic: str, category: str | None, data: list[object]) -> None:
        if not data:
            return
        names = {topic} if category is None else {topic, f"{topic}.{category}"}
        frames: dict[str, bytes] = {}
        for conn, subs in self._subs.items():
            if not conn.authed:
                continue
            for name in names & subs:
                frame = frames.get(name)
                if frame is None:
                    push = Push(id=secrets.token_hex(8), topic=name, creationTime=self.core.now_ms(), data=data)
                    frame = frames[name] = self._enc.encode(push)
                conn.send_reply(frame)
                self.events_sent += 1

    def _listening(self) -> bool:
        return any(conn.authed and subs for conn, subs in self._subs.items())

    def on_killed(self, category: Category, order: SimOrder) -> None:
        """An order accepted and cancelled at once (PostOnly that would take, FOK)."""
        if not self._listening():
            return
        self._send("order", category, [order_item(self.core, category, order, with_category=True)])
        if category == "linear":
            self._position(order.symbol)

    def on_event(self, ev: SimEvent) -> None:
        if not self._subs or not self._listening():
            return
        core = self.core
        if isinstance(ev, OrderChanged):
            if ev.account != core.account:
                return
            category = CATEGORY_OF[ev.order.kind]
            if ev.exec_type is ExecType.TRADE and ev.fill is not None:
                mark = index = ZERO
                if category == "linear":
                    view = core.venue.mark(ev.order.symbol)
                    mark, index = view.mark, view.index
                leaves = ev.order.remaining_qty if ev.order.is_open else ZERO
                item = execution_item(
                    core, category, ev.order, ev.fill, leaves, with_category=True, mark=mark, index=index
                )
                self._send("execution", category, [item])
            self._send("order", category, [order_item(core, category, ev.order, with_category=True)])
            if category == "linear" and ev.exec_type is not ExecType.TRADE and self._still_as_reported(ev):
                self._position(ev.order.symbol)
        elif isinstance(ev, BalancesChanged):
            if ev.account != core.account:
                return
            if ev.reason is BalanceReason.DEPOSIT and core.pooling:
                return
            if ev.kind is MarketKind.PERP:
                if ev.reason is BalanceReason.FUNDING_FEE:
                    items: list[object] = [
                        self._funding_item(f.symbol, f.amount, f.rate, f.mark, f.size, f.ts_ms) for f in ev.funding
                    ]
                    self._send("execution", "linear", items)
                if ev.positions:
                    self._send("position", "linear", [position_ws(core, p) for p in ev.positions])
            self._send("wallet", None, [wallet(core)])
        elif isinstance(ev, LeverageChanged) and ev.account == core.account:
            self._position(ev.symbol)

    def _still_as_reported(self, ev: OrderChanged) -> bool:
        """A create is followed by a ``position`` push only if it rests: one that traded in the
        same call gets its push after the fills (from the balance change)."""
        if ev.exec_type is not ExecType.NEW:
            return True
        try:
            now = self.core.venue.get_order(ev.account, ev.order.kind, ev.order.symbol, order_id=ev.order.order_id)
        except SimReject:
            return False
        return now.executed_qty == 0 and now.is_open

    def _position(self, symbol: str) -> None:
        core = self.core
        view = next((p for p in core.venue.positions(core.account) if p.symbol == symbol), None)
        self._send("position", "linear", [position_ws(core, view or flat_position(core, symbol))])

    def _funding_item(
        self, symbol: str, amount: Decimal, rate: Decimal, mark: Decimal, size: Decimal, ts_ms: int
    ) -> ExecutionItem:
        core = self.core
        fmt = core.fmt("linear", symbol)
        spec = core.spec("linear", symbol)
        value = abs(size) * mark
        return ExecutionItem(
            category="linear",
            symbol=symbol,
            orderId="",
            orderLinkId="",
            side="Buy" if size > 0 else "Sell",
            orderPrice=fmt.price(mark),
            orderQty=fmt.qty(abs(size)),
            leavesQty="0",
            createType="",
            orderType="UNKNOWN",
            stopOrderType="UNKNOWN",
            execFee=money(-amount),
            feeCurrency=spec.settle,
            execId=str(core.exec_id("linear", symbol, ts_ms, 0)),
            execPrice=fmt.price(mark),
            execQty=fmt.qty(abs(size)),
            execType="Funding",
            execValue=money(value),
            execTime=str(ts_ms),
            isMaker=False,
            feeRate=money(rate),
            tradeIv="",
            markIv="",
            markPrice=fmt.price(mark),
            indexPrice="",
            underlyingPrice="",
            blockTradeId="",
            closedSize="0",
            seq=core.next_seq(),
            extraFees="",
        )

    def periodic(self) -> list[Periodic]:
        return []
