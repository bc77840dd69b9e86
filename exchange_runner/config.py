"""Runner configuration: typed TOML, environment overrides, CLI flags on top.

Precedence (lowest → highest): defaults, ``--config`` TOML file, ``TRADEBUS_*`` environment
variables, command-line flags. Unknown keys in a file are rejected with a message naming the
key. API keys never live here: they come from the environment
(``BINANCE_API_KEY``/``BINANCE_API_SECRET``) or a secrets file (``--secrets PATH``, TOML with
``api_key``/``api_secret``), and are never logged.

CURVE (docs/security.md): ``curve_key_file`` (the runner's secret certificate, from ``runner keys
generate``) or ``curve_secret`` (its Z85 secret, from ``TRADEBUS_CURVE_SECRET``; no flag), with
``allow_file`` (the client keys admitted, with their roles). Binding a non-loopback address
without CURVE is refused unless ``insecure``. ``replace``: take over the registration of a live
runner of the same name.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from exchanges.transport.ratelimit import BudgetOptions
from strategy_client.model import Exchange, InstrumentKey, MarketChannel, MarketKind, RiskLimits
from strategy_client.paper import PaperConfig

from .bars import BarsConfig
from .quality import QualityConfig
from .risk import RiskConfigError, parse_risk_section

__all__ = ["RunnerConfig", "ConfigError", "load_config", "env_overrides", "DEFAULT_REDIS_URL", "is_loopback"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class ConfigError(ValueError):
    pass


class RunnerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    exchange: Exchange = Exchange.BINANCE
    name: str = ""  # registration name; defaults to the exchange
    venue: str = "sim"  # sim | testnet | live
    mode: str = "live"  # live | paper
    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTCUSDT", "ETHUSDT"])
    kinds: list[str] = msgspec.field(default_factory=lambda: ["spot", "perp"])
    redis_url: str = ""
    bind: str = "127.0.0.1"
    pub_port: int = 0  # 0 = any free port
    router_port: int = 0
    advertise_host: str = ""  # host written into the registration (defaults to bind)
    cancel_on_exit: bool = False
    reconcile_interval_s: float = 30.0
    # a reconcile asks for open orders per instrument while a market kind has at most this many
    # (one-symbol queries cost less venue weight); 0: one query for every symbol of the kind
    reconcile_per_instrument_max: int = 8
    funding_poll_interval_s: float = 60.0
    stale_book_s: float = 5.0
    venue_timeout_s: float = 10.0
    book_queue_size: int = 4096
    # market data (docs/market-data.md): channels of every instrument, per-instrument channels
    # ("perp:BTCUSDT" or "BTCUSDT" → channels), quality control, bars
    channels: list[str] = msgspec.field(default_factory=lambda: ["book", "funding"])
    instrument_channels: dict[str, list[str]] = msgspec.field(default_factory=dict)
    quality: QualityConfig = msgspec.field(default_factory=QualityConfig)
    bars: BarsConfig = msgspec.field(default_factory=BarsConfig)
    market_queue_size: int = 16_384
    # observability: /metrics, /healthz, /readyz on one HTTP port (0 = off)
    metrics_port: int = 0
    metrics_bind: str = ""  # defaults to ``bind``
    # embedded simulator
    sim_port_base: int = 0  # 0 = pick free ports
    sim_connect: str = ""  # HOST:PORT of an already running offline venue (spot port); "" = embed one
    sim_seed: int = 1
    sim_funding_interval_s: float = 0.0  # 0 = the simulator's default
    # paper mode
    paper_balances: dict[str, Decimal] = msgspec.field(
        default_factory=lambda: {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(10)}
    )
    paper_margin_balance: Decimal = Decimal(100_000)
    paper_taker_fee: Decimal = Decimal("0.0005")
    paper_maker_fee: Decimal = Decimal("0.0002")
    secrets_file: str = ""
    # who may trade (docs/security.md)
    curve_key_file: str = ""
    curve_secret: str = ""  # Z85; from $TRADEBUS_CURVE_SECRET
    allow_file: str = ""
    insecure: bool = False
    replace: bool = False
    # the journal (docs/journal.md): "" = SQLite under data_dir; postgresql://…; "off" = none (--no-journal)
    journal: str = ""
    data_dir: str = ""  # "" = $TRADEBUS_DATA_DIR (read here as this field's override), else the per-user dir
    # the pre-trade risk gate (docs/risk.md): the TOML's [risk] section; absent = no limit
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)
    # the venue's rate limits, shared with every process through Redis (docs/runner.md)
    rate_limit_shared: bool = True
    rate_limit_order_reserve: float = 0.2
    rate_limit_fallback_share: float = 0.25
    rate_limit_max_wait_s: float = 65.0
    rate_limit_warn_below: float = 0.25  # a window with less of its limit left: one warning line
    rate_limit_edge_guard_s: float = (
        1.0  # near a window's edge a request counts in both windows (at most half a window)
    )
    rate_limit_stream_key_allowance: int = 10  # units per window the user-data key may pass a spent own share
    rate_limit_keep_ahead: bool = True  # leases (and the next window's, before its edge) reserved off the order path
    # the order path rehearsed every this many ms between orders, nothing sent (exchange_runner/warmth.py); 0 = off
    order_path_warm_ms: float = 1.0

    def __repr__(self) -> str:  # the Z85 secret, if any, stays out of every repr and log line
        fields = (f"{f}={getattr(self, f)!r}" for f in self.__struct_fields__ if f != "curve_secret")
        return f"RunnerConfig({', '.join(fields)}, curve_secret={'<set>' if self.curve_secret else '<none>'})"

    @property
    def curve(self) -> bool:
        return bool(self.curve_key_file or self.curve_secret)

    def validate(self) -> None:
        if self.venue not in ("sim", "testnet", "live"):
            raise ConfigError(f"venue: {self.venue!r} is not one of sim, testnet, live")
        if self.mode not in ("live", "paper"):
            raise ConfigError(f"mode: {self.mode!r} is not one of live, paper")
        bad = [k for k in self.kinds if k not in ("spot", "perp")]
        if bad:
            raise ConfigError(f"kinds: {bad[0]!r} is not one of spot, perp")
        if not self.symbols:
            raise ConfigError("symbols: at least one symbol is needed")
        if not 0 <= self.order_path_warm_ms <= 1000:
            raise ConfigError(f"order_path_warm_ms: {self.order_path_warm_ms} is not between 0 (off) and 1000")
        for port_name in ("pub_port", "router_port", "sim_port_base", "metrics_port"):
            port = getattr(self, port_name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{port_name}: {port} is not a port number")
        if self.reconcile_interval_s <= 0 or self.venue_timeout_s <= 0 or self.stale_book_s <= 0:
            raise ConfigError("intervals and timeouts must be positive")
        if self.reconcile_per_instrument_max < 0:
            raise ConfigError(f"reconcile_per_instrument_max: {self.reconcile_per_instrument_max} is negative")
        self.budget_options()
        self._validate_market_data()
        if self.curve and not self.allow_file:
            raise ConfigError("CURVE is on but no allow_file (--allow) names the client keys it admits")
        if self.allow_file and not self.curve:
            raise ConfigError("--allow needs the runner's own key: --curve-key FILE (or $TRADEBUS_CURVE_SECRET)")
        if not self.curve and not self.insecure and not is_loopback(self.bind):
            raise ConfigError(
                f"refusing to bind {self.bind} without CURVE: anyone who reaches the port could trade; "
                "give --curve-key and --allow (docs/security.md) or pass --insecure"
            )

    def _validate_market_data(self) -> None:
        names = {c.value for c in MarketChannel} | {"bars"}
        for where, chosen in (("channels", self.channels), *self.instrument_channels.items()):
            bad = [c for c in chosen if c not in names]
            if bad:
                raise ConfigError(f"channels of {where}: {bad[0]!r} is not one of {', '.join(sorted(names))}")
        for name in self.instrument_channels:
            kind, _, symbol = name.rpartition(":")
            if kind not in ("", "spot", "perp") or not symbol:
                raise ConfigError(f"instrument_channels: {name!r} is not SYMBOL, spot:SYMBOL or perp:SYMBOL")
        if self.market_queue_size <= 0:
            raise ConfigError("market_queue_size must be positive")
        try:
            self.quality.validate()
            self.bars.validate()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def channels_of(self, key: InstrumentKey) -> frozenset[str]:
        """The channels ``key`` gets: ``instrument_channels`` of ``kind:SYMBOL``, else of
        ``SYMBOL``, else ``channels``; books always, funding always for a perpetual."""
        chosen = self.instrument_channels.get(f"{key.kind.value}:{key.symbol}")
        if chosen is None:
            chosen = self.instrument_channels.get(key.symbol, self.channels)
        out = {*chosen, MarketChannel.BOOK.value}
        if key.kind is MarketKind.PERP:
            out.add(MarketChannel.FUNDING.value)
        else:
            out.discard(MarketChannel.FUNDING.value)
        return frozenset(out)

    def budget_options(self) -> BudgetOptions:
        """The shared rate-limit budget's knobs; ConfigError names a bad one."""
        try:
            return BudgetOptions(
                order_reserve=self.rate_limit_order_reserve,
                fallback_share=self.rate_limit_fallback_share,
                max_wait_s=self.rate_limit_max_wait_s,
                warn_below=self.rate_limit_warn_below,
                edge_guard_s=self.rate_limit_edge_guard_s,
                stream_key_allowance=self.rate_limit_stream_key_allowance,
                keep_ahead=self.rate_limit_keep_ahead,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def paper_settings(self) -> PaperConfig:
        """The paper venue's settings (``--mode paper``); ConfigError names a bad field."""
        try:
            return PaperConfig(
                taker_fee=self.paper_taker_fee,
                maker_fee=self.paper_maker_fee,
                balances={k.upper(): v for k, v in self.paper_balances.items()},
                margin_balance=self.paper_margin_balance,
            )
        except ValueError as exc:
            raise ConfigError(f"paper_{exc}") from None

    @property
    def registration_name(self) -> str:
        return self.name or self.exchange.value


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is reachable from this machine only."""
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


_ENV_PREFIX = "TRADEBUS_"


def env_overrides() -> dict[str, Any]:
    """The ``TRADEBUS_<FIELD>`` environment variables, as config fields."""
    out: dict[str, Any] = {}
    fields = {f for f in RunnerConfig.__struct_fields__}
    for name, value in os.environ.items():
        if not name.startswith(_ENV_PREFIX):
            continue
        field = name[len(_ENV_PREFIX) :].lower()
        if field not in fields or field == "exchange":
            continue
        out[field] = value.split(",") if field in ("symbols", "kinds", "channels") else value
    return out


def load_config(path: Path | None, overrides: dict[str, Any]) -> RunnerConfig:
    data: dict[str, Any] = {}
    risk_table: Any = None
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        data = doc.get("runner", doc)
        risk_table = doc.get("risk") if "runner" in doc else data.pop("risk", None)
    data.update(env_overrides())
    data.update({k: v for k, v in overrides.items() if v is not None})
    if not data.get("redis_url"):
        data["redis_url"] = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    try:
        cfg = msgspec.convert(data, RunnerConfig, strict=False)
    except msgspec.ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"bad config{where}: {_explain(exc)}") from None
    try:
        cfg.risk = parse_risk_section(risk_table, where=f"{path}: risk" if path else "risk")
    except RiskConfigError as exc:
        raise ConfigError(str(exc)) from None
    cfg.validate()
    return cfg


def _explain(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if text.startswith("Object contains unknown field"):
        return text.replace("Object contains unknown field", "unknown key")
    return text
