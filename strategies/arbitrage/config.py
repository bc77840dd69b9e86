"""Typed strategy configs (spot-perp, perp-perp) loaded from TOML, with CLI overrides on top.

Precedence (lowest → highest): the defaults below, the ``--config`` TOML file, command-line
flags (:func:`merge_overrides`, dotted keys for sections: ``decision.entry_threshold_bps``).
Unknown keys anywhere are rejected with a :class:`StrategyConfigError` naming the key
(``decision.entry_treshold_bps``); bad values name their field. Money and rates are
``Decimal``: TOML numbers are converted through their text form (``0.0004`` stays exact) and
quoted strings are accepted too.

A file mirrors the structs: top-level keys, then ``[oracle]``, ``[decision]``, ``[execution]``,
``[margin]`` and ``[fees.*]`` tables (see ``configs/strategies/*.toml``).
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from strategy_client.model import Exchange, InstrumentKey, InvalidInstrumentKey, MarketKind

from .decision import DecisionConfig
from .errors import StrategyConfigError
from .execution import ExecutionConfig
from .margin import MarginConfig
from .oracle import OracleConfig
from .pair import FeeRates

__all__ = [
    "SpotPerpFees",
    "SpotPerpConfig",
    "PerpPerpConfig",
    "StrategyConfig",
    "merge_overrides",
    "parse_config",
    "load_config",
    "load_spotperp",
    "load_perpperp",
]

# Binance's standard tiers: spot 0.1 % both sides (a buy's fee taken from the base received),
# USD-M futures 0.05 % taker / 0.02 % maker.
SPOT_FEES = FeeRates(taker=Decimal("0.001"), maker=Decimal("0.001"))
PERP_FEES = FeeRates(taker=Decimal("0.0005"), maker=Decimal("0.0002"))


class SpotPerpFees(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    spot: FeeRates = SPOT_FEES
    perp: FeeRates = PERP_FEES


class _Common(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    symbol: str = "BTCUSDT"
    size: Decimal = Decimal("0.01")  # base units per arbitrage position (rounded onto both legs' steps)
    max_positions: int = 1
    paper: bool = False
    duration_s: float = 0.0  # 0 = until interrupted
    stop_grace_s: float = 20.0  # at stop: at most this long to finish, exit and unwind, then report what is left
    report: str = ""  # JSON report path; "" = none
    plot: str = ""  # PnL-over-time PNG path; "" = none
    redis_url: str = ""  # "" = $REDIS_URL or the default
    oracle: OracleConfig = OracleConfig()
    decision: DecisionConfig = DecisionConfig()
    execution: ExecutionConfig = ExecutionConfig()
    margin: MarginConfig = MarginConfig()

    def _common_problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.size <= 0:
            out.append(("size", f"{self.size} must be positive"))
        if self.max_positions < 1:
            out.append(("max_positions", f"{self.max_positions} must be at least 1"))
        if self.duration_s < 0:
            out.append(("duration_s", f"{self.duration_s} must not be negative"))
        if self.stop_grace_s <= 0:
            out.append(("stop_grace_s", f"{self.stop_grace_s} must be positive"))
        out += self.oracle.problems("oracle")
        out += self.decision.problems("decision")
        out += self.execution.problems("execution")
        out += self.margin.problems("margin")
        return out

    def problems(self) -> list[tuple[str, str]]:
        return self._common_problems()

    def validate(self) -> None:
        """Raise :class:`StrategyConfigError` naming the first bad field (listing all of them)."""
        problems = self.problems()
        if problems:
            (field, first), rest = problems[0], problems[1:]
            also = "; ".join(f"{name}: {msg}" for name, msg in rest)
            raise StrategyConfigError(field, f"{first} (also {also})" if rest else first)


def _key(exchange: Exchange, kind: MarketKind, symbol: str, field: str) -> InstrumentKey:
    try:
        return InstrumentKey.parse(f"{exchange.value}:{kind.value}:{symbol}")
    except InvalidInstrumentKey as exc:
        raise StrategyConfigError(field, str(exc)) from None


class SpotPerpConfig(_Common, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Long spot / short perp on one exchange (event-driven)."""

    exchange: Exchange = Exchange.BINANCE
    fees: SpotPerpFees = SpotPerpFees()

    def problems(self) -> list[tuple[str, str]]:
        out = self._common_problems()
        out += self.fees.spot.problems("fees.spot")
        out += self.fees.perp.problems("fees.perp")
        try:
            self.spot_key  # noqa: B018 - validates the symbol
        except StrategyConfigError as exc:
            out.append(("symbol", exc.message))
        return out

    @property
    def spot_key(self) -> InstrumentKey:
        return _key(self.exchange, MarketKind.SPOT, self.symbol, "symbol")

    @property
    def perp_key(self) -> InstrumentKey:
        return _key(self.exchange, MarketKind.PERP, self.symbol, "symbol")


class PerpPerpConfig(_Common, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Long the perp paying less funding, short the one paying more, across two exchanges (polled)."""

    exchanges: list[Exchange] = msgspec.field(default_factory=lambda: [Exchange.BINANCE, Exchange.BYBIT])
    symbols: dict[str, str] = msgspec.field(default_factory=dict)  # per-exchange symbol when it differs
    poll_interval_s: float = 1.0
    fees: dict[str, FeeRates] = msgspec.field(default_factory=dict)  # per exchange; missing → perp defaults

    def problems(self) -> list[tuple[str, str]]:
        out = self._common_problems()
        if len(self.exchanges) != 2 or self.exchanges[0] == self.exchanges[1]:
            names = ",".join(e.value for e in self.exchanges)
            out.append(("exchanges", f"need exactly two different exchanges, got {names!r}"))
        if self.poll_interval_s <= 0:
            out.append(("poll_interval_s", f"{self.poll_interval_s} must be positive"))
        for table, field_name in ((self.fees, "fees"), (self.symbols, "symbols")):
            for name in table:
                if name not in {e.value for e in Exchange}:
                    out.append((f"{field_name}.{name}", f"unknown exchange {name!r}"))
        for name, rates in self.fees.items():
            out += rates.problems(f"fees.{name}")
        for exchange in self.exchanges:
            try:
                self.perp_key(exchange)
            except StrategyConfigError as exc:
                out.append((exc.field, exc.message))
        return out

    def symbol_for(self, exchange: Exchange) -> str:
        return self.symbols.get(exchange.value, self.symbol)

    def perp_key(self, exchange: Exchange) -> InstrumentKey:
        where = f"symbols.{exchange.value}" if exchange.value in self.symbols else "symbol"
        return _key(exchange, MarketKind.PERP, self.symbol_for(exchange), where)

    def fees_for(self, exchange: Exchange) -> FeeRates:
        return self.fees.get(exchange.value, PERP_FEES)


StrategyConfig = SpotPerpConfig | PerpPerpConfig
C = TypeVar("C", SpotPerpConfig, PerpPerpConfig)


def merge_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with ``overrides`` applied; a copy. ``None`` values mean "flag not given".

    Keys may be dotted to reach into sections (``"decision.entry_threshold_bps"``). An override
    of a section that is not a table in ``data`` replaces it.
    """
    out: dict[str, Any] = copy.deepcopy(dict(data))
    for dotted, value in overrides.items():
        if value is None:
            continue
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return out


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`")


def _explain(exc: msgspec.ValidationError) -> StrategyConfigError:
    text = str(exc)
    at = _AT.search(text)
    path = at.group("path") if at else ""
    message = text[: at.start()] if at else text
    path = re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".")
    unknown = _UNKNOWN.match(message)
    if unknown:
        name = f"{path}.{unknown.group('name')}" if path else unknown.group("name")
        return StrategyConfigError(name, "unknown key")
    if message.startswith("Invalid enum value") and path.split(".")[0] in ("exchange", "exchanges"):
        value = message.removeprefix("Invalid enum value").strip()
        message = f"unknown exchange {value} (choose from {', '.join(e.value for e in Exchange)})"
    return StrategyConfigError(path or "config", message)


def parse_config(kind: type[C], data: Mapping[str, Any], *, source: str = "") -> C:
    """Convert a plain mapping (TOML document + overrides) into ``kind`` and validate it."""
    try:
        cfg = msgspec.convert(dict(data), kind, strict=False)
    except msgspec.ValidationError as exc:
        err = _explain(exc)
        where = f" in {source}" if source else ""
        raise StrategyConfigError(err.field, f"{err.message}{where}") from None
    cfg.validate()
    return cfg


def load_config(kind: type[C], path: Path | None, overrides: Mapping[str, Any] | None = None) -> C:
    """Defaults ← TOML file at ``path`` (if any) ← ``overrides`` (CLI flags, dotted keys)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise StrategyConfigError("config", f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise StrategyConfigError("config", f"config file {path}: {exc}") from None
    merged = merge_overrides(data, overrides or {})
    return parse_config(kind, merged, source=str(path) if path else "")


def load_spotperp(path: Path | None, overrides: Mapping[str, Any] | None = None) -> SpotPerpConfig:
    return load_config(SpotPerpConfig, path, overrides)


def load_perpperp(path: Path | None, overrides: Mapping[str, Any] | None = None) -> PerpPerpConfig:
    return load_config(PerpPerpConfig, path, overrides)
