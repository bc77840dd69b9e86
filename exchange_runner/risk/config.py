"""The ``[risk]`` section of a runner's TOML → :class:`RiskLimits`, with errors that name the key.

Plugging it into the runner's config (``exchange_runner/config.py``) takes a few lines; see
``docs/risk.md`` ("Wiring"). In short: ``load_config`` already has the parsed TOML document; it
passes ``doc.get("risk")`` to :func:`parse_risk_section`, and after the instruments are known the
runner calls :func:`resolve_limits` to check every instrument table names one it serves.

Example (``configs/risk.example.toml``)::

    [risk]
    max_open_orders = 50
    orders_per_second = 10
    daily_loss_limit = "2000"

    [risk.defaults]
    max_order_notional = "25000"
    price_collar = "0.05"

    [risk.instruments."perp:BTCUSDT"]
    max_position_qty = "2"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from strategy_client.model import Exchange, InstrumentKey, InstrumentLimits, InvalidInstrumentKey, RiskLimits

from .errors import RiskConfigError

__all__ = ["parse_risk_section", "load_risk_file", "resolve_limits", "instrument_key_for"]

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _explain(exc: msgspec.ValidationError, where: str) -> str:
    m = _AT.match(str(exc))
    msg = m.group("msg") if m else str(exc)
    path = (m.group("path") if m else "") or ""
    unknown = re.match(r"Object contains unknown field `(?P<k>[^`]+)`", msg)
    if unknown:
        return f"{where}{path}: unknown key {unknown.group('k')!r}"
    named = re.match(r"^(?P<field>[a-z_]+): (?P<rest>.*)$", msg, re.S)  # from a __post_init__ check
    if named:
        return f"{where}{path}.{named.group('field')}: {named.group('rest')}"
    return f"{where}{path}: {msg}"


def parse_risk_section(data: Mapping[str, Any] | None, *, where: str = "risk") -> RiskLimits:
    """Decode a ``[risk]`` table (None or absent = no limits). Unknown keys and bad values are a
    :class:`RiskConfigError` naming them, e.g. ``risk.instruments."perp:BTCUSDT": unknown key 'max_qty'``."""
    if data is None:
        return RiskLimits()
    if not isinstance(data, Mapping):
        raise RiskConfigError(f"{where}: must be a table")
    top = dict(data)
    raw_instruments = top.pop("instruments", {})
    if not isinstance(raw_instruments, Mapping):
        raise RiskConfigError(f"{where}.instruments: must be a table of instrument tables")
    instruments: dict[str, InstrumentLimits] = {}
    for name, table in raw_instruments.items():
        here = f'{where}.instruments."{name}"'
        if not isinstance(table, Mapping):
            raise RiskConfigError(f"{here}: must be a table")
        try:
            instruments[str(name)] = msgspec.convert(dict(table), InstrumentLimits, strict=False)
        except msgspec.ValidationError as exc:
            raise RiskConfigError(_explain(exc, here)) from None
    try:
        limits = msgspec.convert(top, RiskLimits, strict=False)
    except msgspec.ValidationError as exc:
        raise RiskConfigError(_explain(exc, where)) from None
    return msgspec.structs.replace(limits, instruments=instruments)


def load_risk_file(path: Path) -> RiskLimits:
    """The ``[risk]`` table of a TOML file (a runner config or a file of its own)."""
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RiskConfigError(f"risk config {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise RiskConfigError(f"risk config {path}: {exc}") from None
    return parse_risk_section(doc.get("risk"), where=f"{path}: risk")


def instrument_key_for(name: str, exchange: Exchange) -> InstrumentKey:
    """``perp:BTCUSDT`` (this runner's exchange) or ``binance:perp:BTCUSDT`` → the key."""
    text = name if name.count(":") == 2 else f"{exchange.value}:{name}"
    return InstrumentKey.parse(text)


def resolve_limits(
    limits: RiskLimits, exchange: Exchange, keys: Iterable[InstrumentKey]
) -> dict[InstrumentKey, InstrumentLimits]:
    """Each served instrument's effective limits (its own table over ``defaults``).

    A table for an instrument this runner does not serve (another exchange, a symbol not
    configured) is a :class:`RiskConfigError` — a limit that silently applies to nothing is a trap.
    """
    served = list(keys)
    own: dict[InstrumentKey, InstrumentLimits] = {}
    for name, table in limits.instruments.items():
        try:
            key = instrument_key_for(name, exchange)
        except InvalidInstrumentKey as exc:
            raise RiskConfigError(f'risk.instruments."{name}": {exc}') from None
        if key not in served:
            raise RiskConfigError(
                f'risk.instruments."{name}": {key} is not an instrument this runner serves '
                f"({', '.join(str(k) for k in served) or 'none'})"
            )
        if key in own:
            raise RiskConfigError(f'risk.instruments."{name}": {key} has two tables')
        own[key] = table
    return {k: (own[k].merged_over(limits.defaults) if k in own else limits.defaults) for k in served}
