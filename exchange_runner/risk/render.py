"""``runner risk show``: the gate's status as a table for people or JSON for machines.

Both take a :class:`RiskStatus` (from :meth:`RiskGate.status`, or a ``RiskStatusReply`` over
the wire) and return text; the CLI prints it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from strategy_client.model import InstrumentLimits, RiskLimits
from strategy_client.wire.risk import RiskStatus

__all__ = ["render_risk_table", "render_risk_json"]

_ACCOUNT_ROWS = (
    "max_leverage",
    "max_open_orders",
    "max_open_positions",
    "orders_per_second",
    "orders_per_minute",
    "client_orders_per_second",
    "client_orders_per_minute",
    "daily_loss_limit",
    "max_drawdown",
)


def _v(x: object) -> str:
    if x is None:
        return "-"
    if isinstance(x, Decimal):
        return f"{x.normalize():f}" if x == x.to_integral_value() else f"{x:f}"
    return str(x)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out.extend(fmt.format(*r) for r in rows)
    return out


def render_risk_table(status: RiskStatus) -> str:
    """A plain-text report: state, account limits with usage, instruments, decision counters."""
    s = status
    lim: RiskLimits = s.limits
    day = dt.datetime.fromtimestamp(s.day_start_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"risk gate on {s.exchange.value}: {s.state.value.upper()}"
        + (f" ({s.state_reason})" if s.state_reason else "")
        + ("" if s.enabled else "  [limits DISABLED: only the trading state applies]"),
        f"trading day since {day}: realised {_v(s.day_realized_pnl)}, equity {_v(s.equity)}, "
        f"high-water mark {_v(s.high_water_mark)}, gross exposure {_v(s.gross_exposure)}",
        "",
    ]
    drawdown = s.high_water_mark - s.equity if s.high_water_mark is not None and s.equity is not None else None
    leverage = (
        (s.gross_exposure / s.equity).quantize(Decimal("0.01"))
        if s.gross_exposure is not None and s.equity is not None and s.equity > 0
        else None
    )
    used: dict[str, object] = {
        "max_leverage": leverage,
        "max_open_orders": s.open_orders,
        "max_open_positions": s.open_positions,
        "orders_per_second": s.orders_last_second,
        "orders_per_minute": s.orders_last_minute,
        "daily_loss_limit": -s.day_realized_pnl if s.day_realized_pnl < 0 else Decimal(0),
        "max_drawdown": drawdown,
    }
    rows = [[name, _v(getattr(lim, name)), _v(used.get(name))] for name in _ACCOUNT_ROWS]
    rows.append(["drawdown_action", lim.drawdown_action.value, ""])
    rows.append(["concentration_min_gross", _v(lim.concentration_min_gross), ""])
    rows.append(["day_start_utc", lim.day_start_utc, ""])
    rows.append(["allow_runtime_loosening", str(lim.allow_runtime_loosening).lower(), ""])
    lines += _table(["account limit", "limit", "now"], rows)
    lines.append("")
    fields = list(InstrumentLimits.__struct_fields__)
    irows = [
        [
            str(i.key),
            _v(i.position),
            f"{_v(i.open_buy_qty)}/{_v(i.open_sell_qty)}",
            _v(i.reference_price),
            _v(i.exposure),
            *(_v(getattr(i.limits, f)) for f in fields),
        ]
        for i in s.instruments
    ]
    if irows:
        lines += _table(["instrument", "position", "open b/s", "reference", "exposure", *fields], irows)
        lines.append("")
    refused = ", ".join(f"{k} {v}" for k, v in sorted(s.refused.items()) if v) or "none"
    lines.append(f"decisions: {s.checked} checked, {s.passed} passed; refused: {refused}")
    return "\n".join(lines)


def render_risk_json(status: RiskStatus) -> str:
    """The status as JSON (decimals as strings, keys in their text form)."""
    return msgspec.json.encode(status).decode()
