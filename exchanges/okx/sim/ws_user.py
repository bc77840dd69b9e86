"""Private channels of the OKX venue, after ``login`` on ``/ws/v5/private`` (reference §7).

* ``orders`` (``instType`` SPOT/SWAP/ANY, optional ``instId``): no push on subscribe; one push
  per state change or fill (``fillSz``/``fillPx``/``tradeId``/``fillFee`` = this fill), and one
  for each order OKX accepts and cancels at once (post-only 31, FOK 13).
* ``positions``: a ``snapshot`` on subscribe and every ``positions_push_s`` (or the
  ``extraParams`` ``updateInterval``: ``"0"`` = events only, 2000/3000/4000 ms), an
  ``event_update`` with the positions an event changed (``pos`` ``"0"`` when closed).
* ``account`` (optional ``ccy``): a ``snapshot`` on subscribe and every ``account_push_s``, an
  ``event_update`` whenever balances move.
* ``balance_and_position``: ``snapshot`` on subscribe, then on fills (``filled``), funding
  (``funding_fee``) and deposits (``transferred``).

Pushes carry ``uid`` in ``arg``; they are never dropped (see ``connection.py``).
"""

from __future__ import annotations

import time

import msgspec

from exchanges.sim.engine import BalanceReason, BalancesChanged, OrderChanged, SimEvent, SimFill, SimOrder
from strategy_client.model import MarketKind

from .connection import Channel, WsConn
from .core import OkxCore
from .instruments import OkxInstrument
from .render import balance_item, order_push, position_item
from .ws_protocol import PagedPush, Push, encode
from .ws_server import WsError

__all__ = ["UserChannels", "USER_CHANNELS"]

USER_CHANNELS = frozenset({"orders", "positions", "account", "balance_and_position"})
_ORDER_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "ANY")
_POSITION_TYPES = ("MARGIN", "SWAP", "FUTURES", "OPTION", "ANY")
_INTERVALS_MS = ("0", "2000", "3000", "4000")
_EVENT_TYPES = {
    BalanceReason.ORDER: "filled",
    BalanceReason.FUNDING_FEE: "funding_fee",
    BalanceReason.DEPOSIT: "transferred",
}


class _Sub:
    __slots__ = ("arg", "interval_s", "due")

    def __init__(self, arg: dict[str, str], interval_s: float) -> None:
        self.arg = arg
        self.interval_s = interval_s
        self.due = time.monotonic() + interval_s if interval_s > 0 else 0.0


class UserChannels:
    def __init__(self, core: OkxCore) -> None:
        self._core = core
        self._subs: dict[str, dict[WsConn, _Sub]] = {c: {} for c in USER_CHANNELS}
        self._held: list[tuple[WsConn, bytes]] | None = None
        self.pushes = 0

    # -- subscriptions (ChannelHandler) -------------------------------------------------------

    def handles(self, channel: str, socket: Channel) -> bool:
        return socket == "private" and channel in USER_CHANNELS

    def _interval(self, arg: dict[str, str], default_s: float) -> float:
        extra = arg.get("extraParams", "")
        if not extra:
            return default_s
        try:
            params = msgspec.json.decode(extra)
        except msgspec.DecodeError:
            raise WsError(60013, "Invalid args") from None
        value = params.get("updateInterval") if isinstance(params, dict) else None
        if value is None:
            return default_s
        if str(value) not in _INTERVALS_MS:
            raise WsError(60013, "Invalid args")
        return int(value) / 1000

    def subscribe(self, conn: WsConn, arg: dict[str, str]) -> dict[str, str]:
        if not conn.logged_in:
            raise WsError(60011, "Please log in")
        channel = arg["channel"]
        opts = self._core.options
        shown: dict[str, str] = {"channel": channel}
        interval = 0.0
        if channel in ("orders", "positions"):
            allowed = _ORDER_TYPES if channel == "orders" else _POSITION_TYPES
            inst_type = arg.get("instType", "")
            if inst_type not in allowed:
                raise WsError(60013, "Invalid args")
            shown["instType"] = inst_type
            for name in ("instFamily", "instId"):
                if arg.get(name):
                    shown[name] = arg[name]
            if "instId" in shown and self._core.catalog.by_id(shown["instId"]) is None:
                raise WsError(60018, f"Wrong URL or channel:{channel},instId:{shown['instId']} doesn't exist.")
            if channel == "positions":
                interval = self._interval(arg, opts.positions_push_s)
                if arg.get("extraParams"):
                    shown["extraParams"] = arg["extraParams"]
        elif channel == "account":
            if arg.get("ccy"):
                shown["ccy"] = arg["ccy"]
            interval = self._interval(arg, opts.account_push_s)
            if arg.get("extraParams"):
                shown["extraParams"] = arg["extraParams"]
        shown["uid"] = opts.uid
        self._subs[channel][conn] = _Sub(shown, interval)
        return {k: v for k, v in shown.items() if k != "uid"}

    def after_ack(self, conn: WsConn, arg: dict[str, str]) -> None:
        channel = arg["channel"]
        sub = self._subs[channel].get(conn)
        if sub is None or channel == "orders":
            return
        self._send(conn, self._snapshot(channel, sub))

    def unsubscribe(self, conn: WsConn, arg: dict[str, str]) -> dict[str, str]:
        channel = arg.get("channel", "")
        sub = self._subs.get(channel, {}).pop(conn, None)
        if sub is None:
            raise WsError(60018, f"Wrong URL or channel:{channel} doesn't exist.")
        return {k: v for k, v in sub.arg.items() if k != "uid"}

    def drop(self, conn: WsConn) -> None:
        for subs in self._subs.values():
            subs.pop(conn, None)

    def names(self, conn: WsConn) -> list[str]:
        return sorted(c for c, subs in self._subs.items() if conn in subs)

    # -- rendering ----------------------------------------------------------------------------

    def _send(self, conn: WsConn, frame: bytes) -> None:
        self.pushes += 1
        if self._held is not None:
            self._held.append((conn, frame))
        else:
            conn.send_reply(frame)

    def hold(self) -> None:
        """Queue pushes until :meth:`release` (an order operation's reply goes out first)."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for conn, frame in held:
            conn.send_reply(frame)

    def _wants(self, sub: _Sub, inst: OkxInstrument) -> bool:
        arg = sub.arg
        inst_type = arg.get("instType", "ANY")
        if inst_type not in ("ANY", inst.inst_type):
            return False
        if arg.get("instId") and arg["instId"] != inst.inst_id:
            return False
        return not arg.get("instFamily") or arg["instFamily"] == f"{inst.base}-{inst.quote}"

    def _positions(self, sub: _Sub, symbols: set[str] | None = None) -> list[object]:
        core = self._core
        out: list[object] = []
        for pos in core.venue.positions(core.account, include_flat=symbols is not None):
            if symbols is not None and pos.symbol not in symbols:
                continue
            if symbols is None and pos.size == 0:
                continue
            inst = core.inst_of(MarketKind.PERP, pos.symbol)
            if self._wants(sub, inst):
                out.append(position_item(core, pos))
        return out

    def _balances(self, sub: _Sub) -> list[object]:
        ccy = sub.arg.get("ccy")
        return [balance_item(self._core, {ccy} if ccy else None)]

    def _snapshot(self, channel: str, sub: _Sub) -> bytes:
        if channel == "positions":
            return encode(PagedPush(sub.arg, "snapshot", 1, True, self._positions(sub)))
        if channel == "account":
            return encode(PagedPush(sub.arg, "snapshot", 1, True, self._balances(sub)))
        return encode(Push(sub.arg, [self._bal_pos("snapshot", None)]))

    def _bal_pos(self, event_type: str, event: BalancesChanged | None) -> dict[str, object]:
        core = self._core
        now = core.now_ms()
        assets = set(event.balances) if event is not None else None
        details = balance_item(core, assets).details
        positions = event.positions if event is not None else core.venue.positions(core.account, include_flat=False)
        pos_data = []
        for pos in positions:
            inst = core.inst_of(MarketKind.PERP, pos.symbol)
            item = position_item(core, pos)
            pos_data.append(
                {
                    "posId": item.posId,
                    "tradeId": "",
                    "instId": inst.inst_id,
                    "instType": "SWAP",
                    "mgnMode": "cross",
                    "posSide": "net",
                    "pos": item.pos,
                    "ccy": item.ccy,
                    "posCcy": "",
                    "avgPx": item.avgPx,
                    "nonSettleAvgPx": "",
                    "settledPnl": "",
                    "uTime": item.uTime,
                }
            )
        return {
            "pTime": str(now),
            "eventType": event_type,
            "balData": [{"ccy": d.ccy, "cashBal": d.cashBal, "uTime": d.uTime} for d in details],
            "posData": pos_data,
            "trades": [],
        }

    # -- engine events ------------------------------------------------------------------------

    def on_event(self, ev: SimEvent) -> None:
        core = self._core
        if isinstance(ev, OrderChanged):
            if ev.account == core.account and self._subs["orders"]:
                self._push_order(ev.order, ev.fill)
        elif isinstance(ev, BalancesChanged) and ev.account == core.account:
            self._on_balances(ev)

    def on_auto_cancel(self, order: SimOrder) -> None:
        """An order OKX accepted and canceled at once (it never reached the engine)."""
        if self._subs["orders"]:
            self._push_order(order, None)

    def _push_order(self, order: SimOrder, fill: SimFill | None) -> None:
        core = self._core
        inst = core.inst_of(order.kind, order.symbol)
        item = order_push(core, order, fill)
        for conn, sub in list(self._subs["orders"].items()):
            if self._wants(sub, inst):
                self._send(conn, encode(Push(sub.arg, [item])))

    def _on_balances(self, ev: BalancesChanged) -> None:
        for conn, sub in list(self._subs["account"].items()):
            ccy = sub.arg.get("ccy")
            if ccy and ccy not in ev.balances:
                continue
            self._send(conn, encode(PagedPush(sub.arg, "event_update", 1, True, self._balances(sub))))
        if ev.kind is MarketKind.PERP and (ev.positions or ev.funding):
            symbols = {p.symbol for p in ev.positions} | {f.symbol for f in ev.funding}
            for conn, sub in list(self._subs["positions"].items()):
                data = self._positions(sub, symbols)
                if data:
                    self._send(conn, encode(PagedPush(sub.arg, "event_update", 1, True, data)))
        if self._subs["balance_and_position"]:
            frame_data = self._bal_pos(_EVENT_TYPES[ev.reason], ev)
            for conn, sub in list(self._subs["balance_and_position"].items()):
                self._send(conn, encode(Push(sub.arg, [frame_data])))

    # -- periodic ---------------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        for channel in ("positions", "account"):
            for conn, sub in list(self._subs[channel].items()):
                if sub.interval_s > 0 and now >= sub.due:
                    sub.due = now + sub.interval_s
                    self._send(conn, self._snapshot(channel, sub))
