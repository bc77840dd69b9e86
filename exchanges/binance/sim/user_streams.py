"""User data routing: engine events → spot WS-API subscriptions and futures listenKey streams.

Spot (§8): ``executionReport`` / ``outboundAccountPosition`` as
``{"subscriptionId":N,"event":{...}}`` on every WS-API connection subscribed for the account.
Futures (§7): ``ORDER_TRADE_UPDATE`` (+ ``TRADE_LITE`` per fill), ``ACCOUNT_UPDATE`` (ORDER,
FUNDING_FEE...), ``ACCOUNT_CONFIG_UPDATE`` on every connection bound to the account's active
listenKey, filtered by the connection's ``events=``; ``listenKeyExpired`` when it lapses.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import BalanceReason, BalancesChanged, ExecType, LeverageChanged, OrderChanged, SimEvent
from strategy_client.model import MarketKind, Side

from .api_errors import BinanceApiError
from .connection import WsConn, wrap
from .core import BinanceCore
from .listen_keys import ListenKeys
from .numbers import spot
from .payloads_market import ServerShutdownEvent
from .payloads_user import (
    AccountConfigUpdate,
    BalanceUpdate,
    LeverageConfig,
    ListenKeyExpired,
    account_update,
    execution_report,
    order_trade_update,
    outbound_account_position,
    trade_lite,
)

__all__ = ["UserStreams"]


class UserStreams:
    def __init__(self, core: BinanceCore, keys: ListenKeys) -> None:
        self._core = core
        self.keys = keys
        self._enc = msgspec.json.Encoder()
        self._spot: dict[WsConn, dict[int, str]] = {}
        self._next_sub: dict[WsConn, int] = {}
        self._bound: dict[str, dict[WsConn, frozenset[str] | None]] = {}
        self._wallets: dict[str, dict[str, Decimal]] = {
            core.account: {a: free + locked for a, (free, locked) in core.venue.spot_balances(core.account).items()}
        }
        self.events_sent = 0

    # -- spot WS-API subscriptions ------------------------------------------------------------

    def spot_subscribe(self, conn: WsConn, account: str) -> int:
        subs = self._spot.setdefault(conn, {})
        if account in subs.values():
            raise BinanceApiError(-2035, "User Data Stream subscription already active.")
        sub_id = self._next_sub.get(conn, 0)
        self._next_sub[conn] = sub_id + 1
        subs[sub_id] = account
        conn.has_user_data = True
        return sub_id

    def spot_unsubscribe(self, conn: WsConn, sub_id: int | None) -> None:
        subs = self._spot.get(conn, {})
        if sub_id is None:
            if not subs:
                raise BinanceApiError(-2036, "User Data Stream subscription not active.")
            subs.clear()
        elif subs.pop(sub_id, None) is None:
            raise BinanceApiError(-2036, "User Data Stream subscription not active.")

    def spot_subscriptions(self, conn: WsConn) -> list[int]:
        return sorted(self._spot.get(conn, {}))

    # -- futures listenKey streams ------------------------------------------------------------

    def bind(self, conn: WsConn, key: str, events: frozenset[str] | None) -> None:
        self._bound.setdefault(key, {})[conn] = events
        conn.has_user_data = True

    def unbind(self, conn: WsConn, key: str) -> bool:
        conns = self._bound.get(key)
        if not conns or conn not in conns:
            return False
        del conns[conn]
        if not conns:
            del self._bound[key]
        return True

    def keys_of(self, conn: WsConn) -> list[str]:
        return [k for k, conns in self._bound.items() if conn in conns]

    def drop(self, conn: WsConn) -> None:
        self._spot.pop(conn, None)
        self._next_sub.pop(conn, None)
        for key in self.keys_of(conn):
            self.unbind(conn, key)

    def expire(self, expired: list[str]) -> int:
        """Send ``listenKeyExpired`` (``E`` as a string) to the connections of ``expired``; unbind."""
        sent = 0
        now = str(self._core.now_ms())
        for key in expired:
            conns = self._bound.pop(key, {})
            data = self._enc.encode(ListenKeyExpired(e="listenKeyExpired", E=now, listenKey=key))
            for conn in conns:
                conn.send_reply(wrap(key, data) if conn.combined else data)
                sent += 1
        return sent

    def close_key(self, key: str) -> None:
        for conn in self._bound.pop(key, {}):
            conn.close_soon(1000, b"listenKey closed")

    def server_shutdown(self) -> int:
        """``serverShutdown`` to every spot user-data subscription (maintenance notice)."""
        data = self._enc.encode(ServerShutdownEvent(e="serverShutdown", E=self._core.now_ms()))
        sent = 0
        for conn, subs in self._spot.items():
            for sub_id in subs:
                conn.send_reply(_spot_frame(sub_id, data))
                sent += 1
        return sent

    # -- engine events ----------------------------------------------------------------------

    def on_event(self, ev: SimEvent) -> None:
        if isinstance(ev, OrderChanged):
            if ev.order.kind is MarketKind.SPOT:
                self._spot_order(ev)
            else:
                self._futures_order(ev)
        elif isinstance(ev, BalancesChanged):
            if ev.kind is MarketKind.SPOT:
                self._spot_balances(ev)
                if ev.balances:
                    self._to_spot(ev.account, self._enc.encode(outbound_account_position(ev.balances, ev.ts_ms)))
            else:
                data = self._enc.encode(
                    account_update(ev.reason.value, ev.ts_ms, ev.balances, ev.positions, self._core.fmts)
                )
                self._to_futures(ev.account, "ACCOUNT_UPDATE", data)
        elif isinstance(ev, LeverageChanged):
            data = self._enc.encode(
                AccountConfigUpdate(
                    e="ACCOUNT_CONFIG_UPDATE",
                    E=ev.ts_ms,
                    T=ev.ts_ms,
                    ac=LeverageConfig(s=ev.symbol, leverage=ev.leverage),
                )
            )
            self._to_futures(ev.account, "ACCOUNT_CONFIG_UPDATE", data)

    def _spot_balances(self, ev: BalancesChanged) -> None:
        """Track wallets so a deposit can be shown as ``balanceUpdate`` with its delta."""
        wallets = self._wallets.setdefault(ev.account, {})
        for bal in ev.balances.values():
            before = wallets.get(bal.asset, Decimal(0))
            wallets[bal.asset] = bal.wallet
            if ev.reason is BalanceReason.DEPOSIT and bal.wallet != before:
                update = BalanceUpdate(
                    e="balanceUpdate", E=ev.ts_ms, a=bal.asset, d=spot(bal.wallet - before), T=ev.ts_ms
                )
                self._to_spot(ev.account, self._enc.encode(update))

    def _spot_order(self, ev: OrderChanged) -> None:
        if not any(ev.account in subs.values() for subs in self._spot.values()):
            return
        cancel_id = self._core.cancel_id(ev.order.order_id) if ev.exec_type is ExecType.CANCELED else None
        report = execution_report(ev, self._core.next_exec_id(), cancel_id)
        self._to_spot(ev.account, self._enc.encode(report))

    def _futures_order(self, ev: OrderChanged) -> None:
        key = self.keys.active_key_of(ev.account)
        if key is None or key not in self._bound:
            return
        fmt = self._core.fmts[ev.order.symbol]
        bid, ask = self.open_notional(ev.account, ev.order.symbol)
        self._to_futures(ev.account, "ORDER_TRADE_UPDATE", self._enc.encode(order_trade_update(ev, fmt, bid, ask)))
        lite = trade_lite(ev, fmt)
        if lite is not None:
            self._to_futures(ev.account, "TRADE_LITE", self._enc.encode(lite))

    def open_notional(self, account: str, symbol: str) -> tuple[Decimal, Decimal]:
        bid = ask = Decimal(0)
        for order in self._core.venue.open_orders(account, MarketKind.PERP, symbol):
            value = (order.qty - order.executed_qty) * (order.price or Decimal(0))
            if order.side is Side.BUY:
                bid += value
            else:
                ask += value
        return bid, ask

    def _to_spot(self, account: str, data: bytes) -> None:
        for conn, subs in self._spot.items():
            for sub_id, sub_account in subs.items():
                if sub_account == account:
                    conn.send_reply(_spot_frame(sub_id, data))
                    self.events_sent += 1

    def _to_futures(self, account: str, event_type: str, data: bytes) -> None:
        key = self.keys.active_key_of(account)
        if key is None:
            return
        conns = self._bound.get(key)
        if not conns:
            return
        combined: bytes | None = None
        for conn, events in conns.items():
            if events is not None and event_type not in events:
                continue
            if conn.combined:
                if combined is None:
                    combined = wrap(key, data)
                conn.send_reply(combined)
            else:
                conn.send_reply(data)
            self.events_sent += 1


def _spot_frame(sub_id: int, data: bytes) -> bytes:
    return b'{"subscriptionId":' + str(sub_id).encode() + b',"event":' + data + b"}"
