"""Pre-trade risk: the limits' shape, the trading states, a refusal's numbers, a risk event.

These are the domain records of the runner's risk gate (``exchange_runner.risk``): the
``[risk]`` section of a runner's TOML decodes into :class:`RiskLimits`; a refused order carries
a :class:`RiskBreach`; state changes and refusals are published as :class:`RiskEvent`.

Money and quantities are exact decimals. ``None`` means "no limit" (off); for an instrument's
own table it means "inherit the ``defaults`` value". Decimal constraints are checked in
``__post_init__`` (msgspec has no numeric constraints for Decimal), so a bad value is a
``msgspec.ValidationError`` naming the field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from .key import InstrumentKey

__all__ = [
    "TradingState",
    "LimitName",
    "DrawdownAction",
    "InstrumentLimits",
    "RiskLimits",
    "RiskBreach",
    "RiskEventKind",
    "RiskEvent",
]

ZERO = Decimal(0)
ONE = Decimal(1)
_DAY_START_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class TradingState(StrEnum):
    """What the gate lets through.

    ACTIVE: every order that passes the limits. REDUCING: only orders that reduce exposure
    (exact definition in ``docs/risk.md`` and ``exchange_runner.risk.reduce``). HALTED: nothing;
    whoever switches to HALTED also cancels every open order.
    """

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class DrawdownAction(StrEnum):
    """The state the gate switches to when the day's drawdown limit trips."""

    REDUCING = "reducing"
    HALTED = "halted"


class LimitName(StrEnum):
    """Every reason the gate can refuse an order (also the metric label)."""

    TRADING_STATE = "trading_state"
    REFERENCE_PRICE = "reference_price"  # no fresh price to value the order with
    MAX_ORDER_QTY = "max_order_qty"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_POSITION_QTY = "max_position_qty"
    MAX_POSITION_NOTIONAL = "max_position_notional"
    MAX_LEVERAGE = "max_leverage"
    MAX_OPEN_ORDERS = "max_open_orders"
    MAX_OPEN_POSITIONS = "max_open_positions"
    RATE_PER_SECOND = "orders_per_second"
    RATE_PER_MINUTE = "orders_per_minute"
    CLIENT_RATE_PER_SECOND = "client_orders_per_second"
    CLIENT_RATE_PER_MINUTE = "client_orders_per_minute"
    PRICE_COLLAR = "price_collar"
    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    CONCENTRATION = "max_concentration"


def _non_negative(owner: str, **values: Decimal | None) -> None:
    for name, value in values.items():
        if value is not None and (not value.is_finite() or value < 0):
            raise ValueError(f"{owner}{name}: {value} must be a finite number >= 0")


class InstrumentLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits for one instrument (or the ``defaults`` every instrument inherits).

    Quantities are base units (as everywhere in tradebus); notionals are in the quote/settle
    currency; ``price_collar`` is a fraction of the reference price (0.05 = 5 %).
    """

    max_order_qty: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position_qty: Decimal | None = None  # |position| after every same-side open order fills
    max_position_notional: Decimal | None = None  # the same, valued at the reference price
    price_collar: Decimal | None = None  # |price - reference| / reference
    max_concentration: Decimal | None = None  # |exposure| / gross exposure, 0..1

    def __post_init__(self) -> None:
        _non_negative(
            "",
            max_order_qty=self.max_order_qty,
            max_order_notional=self.max_order_notional,
            max_position_qty=self.max_position_qty,
            max_position_notional=self.max_position_notional,
            price_collar=self.price_collar,
            max_concentration=self.max_concentration,
        )
        if self.max_concentration is not None and self.max_concentration > ONE:
            raise ValueError(f"max_concentration: {self.max_concentration} must be between 0 and 1")

    def merged_over(self, defaults: InstrumentLimits) -> InstrumentLimits:
        """These limits with every unset field taken from ``defaults``."""
        return InstrumentLimits(
            **{
                f: (getattr(self, f) if getattr(self, f) is not None else getattr(defaults, f))
                for f in self.__struct_fields__
            }
        )


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[risk]`` section of a runner's TOML: account-wide limits, defaults, per instrument.

    ``instruments`` is keyed by ``kind:SYMBOL`` (``perp:BTCUSDT``) or the full key text
    (``binance:perp:BTCUSDT``); the loader checks every key names an instrument the runner serves.
    """

    enabled: bool = True  # false: no limit applies; the trading state (halt, reduce) still does
    defaults: InstrumentLimits = msgspec.field(default_factory=InstrumentLimits)
    instruments: dict[str, InstrumentLimits] = msgspec.field(default_factory=dict)
    max_leverage: Decimal | None = None  # gross exposure / equity after the order
    max_open_orders: PositiveInt | None = None  # open + unresolved orders, account-wide
    max_open_positions: PositiveInt | None = None  # instruments with a non-zero position
    orders_per_second: PositiveInt | None = None  # all clients together
    orders_per_minute: PositiveInt | None = None
    client_orders_per_second: PositiveInt | None = None  # each client on its own
    client_orders_per_minute: PositiveInt | None = None
    daily_loss_limit: Decimal | None = None  # realised loss today (quote), a positive amount
    max_drawdown: Decimal | None = None  # equity below today's high-water mark (quote)
    drawdown_action: DrawdownAction = DrawdownAction.HALTED
    concentration_min_gross: Decimal = ZERO  # concentration is checked above this gross exposure
    day_start_utc: str = "00:00"  # HH:MM UTC where the trading day (loss limit, high-water mark) starts
    allow_runtime_loosening: bool = False  # admin calls may only tighten unless this is true

    def __post_init__(self) -> None:
        _non_negative(
            "",
            max_leverage=self.max_leverage,
            daily_loss_limit=self.daily_loss_limit,
            max_drawdown=self.max_drawdown,
            concentration_min_gross=self.concentration_min_gross,
        )
        if not _DAY_START_RE.match(self.day_start_utc):
            raise ValueError(f"day_start_utc: {self.day_start_utc!r} is not HH:MM (00:00..23:59)")

    @property
    def day_start_offset_ms(self) -> int:
        hours, minutes = self.day_start_utc.split(":")
        return (int(hours) * 60 + int(minutes)) * 60_000


class RiskBreach(msgspec.Struct, frozen=True, kw_only=True):
    """The numbers behind one refusal: the limit, what the order asked for, where things stand.

    ``requested`` is the value the order would bring the limited quantity to (e.g. the projected
    |position|); ``current`` is its value now. All three are in the limit's own unit.
    """

    limit: LimitName
    key: InstrumentKey | None
    limit_value: Decimal
    requested: Decimal
    current: Decimal
    detail: str = ""

    def one_line(self) -> str:
        where = f" on {self.key}" if self.key is not None else ""
        more = f" ({self.detail})" if self.detail else ""
        return (
            f"risk: {self.limit.value}{where}: limit {self.limit_value}, "
            f"requested {self.requested}, current {self.current}{more}"
        )


class RiskEventKind(StrEnum):
    STATE = "state"  # trading state changed
    REFUSED = "refused"  # an order was refused
    LIMITS = "limits"  # limits changed at run time
    DAY = "day"  # a new trading day began (loss and high-water mark reset)


class RiskEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Something the risk gate wants the world to know; the runner publishes it."""

    kind: RiskEventKind
    state: TradingState
    previous_state: TradingState | None = None
    reason: str = ""
    breach: RiskBreach | None = None
    client: str = ""
    client_order_id: str = ""
    ts_ms: int = 0

    def one_line(self) -> str:
        """For a REPL or a log: ``risk: HALTED (tripped: daily_loss) — risk: daily_loss: limit 500, …``."""
        if self.kind is RiskEventKind.REFUSED and self.breach is not None:
            who = f" [{self.client_order_id}]" if self.client_order_id else ""
            return f"refused{who}: {self.breach.one_line()}"
        head = f"risk: {self.state.value.upper()}"
        if self.kind is RiskEventKind.STATE and self.previous_state is not None:
            head = f"risk: {self.previous_state.value.upper()} -> {self.state.value.upper()}"
        elif self.kind is RiskEventKind.LIMITS:
            head = "risk: limits changed"
        elif self.kind is RiskEventKind.DAY:
            head = "risk: new trading day"
        more = f" ({self.reason})" if self.reason else ""
        why = f" - {self.breach.one_line()}" if self.breach is not None else ""
        return f"{head}{more}{why}"
