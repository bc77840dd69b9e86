"""What a running strategy alerts on, from its events, transitions and feed checks.

:class:`StrategyAlerts` turns them into :class:`~strategies.alerts.Alert` texts: the strategy's
own orders filled (once per order) or left UNKNOWN, positions entered (hedged), exited (closed),
broken or unwinding, the runner's risk gate changing state or refusing one of our orders, a
runner not ready or a venue stream down (and back), a leg's data gone stale (and fresh again).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from strategy_client.events import Received
from strategy_client.model import RiskEventKind, to_plain
from strategy_client.wire import OrderEvent, OrderEventKind, RiskGateEvent, RunnerStatusEvent

from .alerts import AlertKind
from .arbitrage.state import ArbState, Transition
from .feeds import FeedReport

__all__ = ["StrategyAlerts"]

_DONE_WITH_FILLS = frozenset({OrderEventKind.CANCEL, OrderEventKind.EXPIRE})
_SEEN_KEPT = 1024


class StrategyAlerts:
    def __init__(self, notify: Callable[[AlertKind, str], None], owns: Callable[[str], bool], name: str) -> None:
        self.notify = notify
        self.owns = owns  # is this client id one of the strategy's orders?
        self.name = name
        self._filled: deque[str] = deque(maxlen=_SEEN_KEPT)
        self._runner: dict[str, str] = {}  # exchange → "ready" or what is wrong

    # -- events ------------------------------------------------------------------------------
    def on_item(self, item: Any) -> None:
        ev = item.event if isinstance(item, Received) else item
        if isinstance(ev, OrderEvent):
            self._order(ev)
        elif isinstance(ev, RiskGateEvent):
            self._risk(ev)
        elif isinstance(ev, RunnerStatusEvent):
            self._status(ev)

    def _order(self, ev: OrderEvent) -> None:
        order = ev.order
        if not self.owns(order.client_id):
            return
        if ev.kind is OrderEventKind.UNKNOWN:
            self.notify(
                AlertKind.UNKNOWN_ORDER,
                f"{order.key} {order.side.value} {to_plain(order.qty)} ({order.client_id}): outcome unknown — "
                "the runner keeps asking the venue; not resent",
            )
            return
        done = ev.kind is OrderEventKind.FILL or (ev.kind in _DONE_WITH_FILLS and order.filled_qty > 0)
        if not done or order.client_id in self._filled:
            return
        self._filled.append(order.client_id)
        price = f" at {to_plain(order.avg_price)}" if order.avg_price is not None else ""
        part = "" if order.filled_qty >= order.qty else f" of {to_plain(order.qty)} (rest {ev.kind.value})"
        filled = f"{order.side.value} {to_plain(order.filled_qty)}{part}{price}"
        self.notify(AlertKind.FILL, f"{self.name}: {order.key} {filled} ({order.client_id})")

    def _risk(self, ev: RiskGateEvent) -> None:
        risk = ev.risk
        if risk.kind is RiskEventKind.STATE or (risk.kind is RiskEventKind.REFUSED and self.owns(risk.client_order_id)):
            self.notify(AlertKind.RISK, f"{ev.exchange.value} {risk.one_line()}")

    def _status(self, ev: RunnerStatusEvent) -> None:
        down = sorted(name for name, up in ev.streams.items() if not up)
        now = "ready" if ev.status == "ready" and not down else ev.status
        if down:
            now += f", streams down: {', '.join(down)}"
        before = self._runner.get(ev.exchange.value)
        self._runner[ev.exchange.value] = now
        if now == before or (before is None and now == "ready"):
            return
        detail = f" ({ev.detail})" if ev.detail and now != "ready" else ""
        what = "ready again" if now == "ready" else now
        self.notify(AlertKind.RUNNER, f"{ev.exchange.value} runner {what}{detail}")

    # -- the strategy's own ---------------------------------------------------------------------
    def on_transition(self, t: Transition) -> None:
        legs = f"a={to_plain(t.a_base)} b={to_plain(t.b_base)}"
        if t.to_state is ArbState.HEDGED and t.from_state is ArbState.ENTERING:
            self.notify(AlertKind.ENTRY, f"{self.name} {t.position_id} entered: {legs} — {t.reason}")
        elif t.to_state is ArbState.CLOSED:
            self.notify(AlertKind.EXIT, f"{self.name} {t.position_id} closed: {t.reason}")
        elif t.to_state in (ArbState.BROKEN, ArbState.UNWINDING) and t.from_state is not t.to_state:
            self.notify(AlertKind.RISK, f"{self.name} {t.position_id} {t.to_state.value}: {legs} — {t.reason}")

    def on_feeds(self, report: FeedReport, threshold_s: float) -> None:
        for key in report.newly_stale:
            self.notify(
                AlertKind.STALE_FEED,
                f"{self.name}: {key} market data {report.age_text(key)} old (threshold {threshold_s:g}s): "
                "no decisions on it",
            )
        for key in report.recovered:
            self.notify(AlertKind.STALE_FEED, f"{self.name}: {key} market data fresh again")
