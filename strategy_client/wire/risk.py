"""Wire shapes of the runner's risk gate: its status, the admin requests, the published event.

New messages only (``messages.py`` is not changed here). To put them on the wire, ``messages.py``
imports them (this module imports only the model, so there is no import cycle) and adds
:class:`GetRiskStatus`, :class:`SetTradingState` and :class:`SetRiskLimit` to ``Request``,
:class:`RiskStatusReply` and :class:`TradingStateReply` to ``Reply``, and :class:`RiskGateEvent`
to ``Event``; ``errors.py`` adds ``ErrorCode.RISK_REJECTED = "risk_rejected"``; ``topics.py``
adds ``TopicKind.RISK = "risk"`` (see docs/risk.md, "Wiring").

The classes use the same tag fields as ``messages.py`` (``method``, ``type``, ``event``), which
is all msgspec needs to put them in the same tagged unions.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from ..model import Exchange, InstrumentKey, InstrumentLimits, RiskEvent, RiskLimits, TradingState
from .commands import Permission, Query, Routing, Scope, command


class _Req(msgspec.Struct, frozen=True, kw_only=True, tag_field="method"):
    pass


class _Rep(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class _Evt(msgspec.Struct, frozen=True, kw_only=True, tag_field="event"):
    pass


__all__ = [
    "InstrumentRisk",
    "RiskStatus",
    "GetRiskStatus",
    "SetTradingState",
    "SetRiskLimit",
    "RiskStatusReply",
    "TradingStateReply",
    "RiskGateEvent",
]


class InstrumentRisk(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument as the gate sees it now, with its effective limits."""

    key: InstrumentKey
    position: Decimal
    open_buy_qty: Decimal
    open_sell_qty: Decimal
    reference_price: Decimal | None
    exposure: Decimal | None  # worst-case |position| (open orders on one side filled) × reference
    limits: InstrumentLimits


class RiskStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What ``runner risk show`` renders: state, limits, usage, and the decision counters."""

    exchange: Exchange
    enabled: bool
    state: TradingState
    state_reason: str
    limits: RiskLimits
    instruments: tuple[InstrumentRisk, ...]
    day_start_ms: int
    day_realized_pnl: Decimal
    equity: Decimal | None
    high_water_mark: Decimal | None
    gross_exposure: Decimal | None
    open_orders: int
    open_positions: int
    orders_last_second: int
    orders_last_minute: int
    checked: int
    passed: int
    refused: dict[str, int]  # by LimitName value
    ts_ms: int = 0


class RiskStatusReply(_Rep, frozen=True, tag="risk_status"):
    status: RiskStatus


class TradingStateReply(_Rep, frozen=True, tag="trading_state"):
    state: TradingState
    previous: TradingState
    canceled: int = 0  # open orders cancelled on the way into HALTED


@command(route=Routing.CALLER, scope=Scope.RUNNER)
class GetRiskStatus(_Req, Query[RiskStatusReply], frozen=True, tag="get_risk_status"):
    pass


@command(route=Routing.CALLER, scope=Scope.RUNNER, permission=Permission.ADMIN)
class SetTradingState(_Req, Query[TradingStateReply], frozen=True, tag="set_trading_state"):
    """Admin: ACTIVE / REDUCING / HALTED (HALTED also cancels every open order)."""

    state: TradingState
    reason: str = ""
    force: bool = False  # resume although the day's loss or drawdown limit is still breached


@command(route=Routing.CALLER, scope=Scope.RUNNER, permission=Permission.ADMIN)
class SetRiskLimit(_Req, Query[RiskStatusReply], frozen=True, tag="set_risk_limit"):
    """Admin: change one limit at run time; ``instrument`` empty = account-wide or ``defaults.<field>``.

    ``value`` is the TOML value as text ("0.5", "20"); empty = remove the limit (a loosening).
    Only tightening is accepted unless the runner's config says ``allow_runtime_loosening = true``.
    """

    field: str
    value: str = ""
    instrument: str = ""


class RiskGateEvent(_Evt, frozen=True, tag="risk"):
    exchange: Exchange
    risk: RiskEvent
