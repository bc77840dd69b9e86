"""Build the venue adapter for ``--venue sim|testnet|live`` and ``--mode live|paper``.

``sim`` (the default) starts the exchange's offline venue inside this process (or connects to
one already running with ``--sim-connect``) and points the adapter at it: nothing can leave the
machine. ``testnet`` and ``live`` need API keys from the environment (``<EXCHANGE>_API_KEY`` /
``<EXCHANGE>_API_SECRET`` [/ ``<EXCHANGE>_API_PASSPHRASE``]) or a secrets file. In ``paper`` mode
the adapter is wrapped so that market data comes from the venue but orders, balances and
positions are simulated locally: no order reaches the venue.
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from loguru import logger

from exchanges.base import ExchangeAdapter
from exchanges.credentials import Credentials
from exchanges.transport.ratelimit import BudgetRegistry, active_budgets
from exchanges.venue import VenueFactory, venue_factory
from strategy_client.model import Exchange

from .config import ConfigError, RunnerConfig
from .paper_adapter import PaperAdapter
from .ports import free_port_pair

__all__ = ["open_venue", "load_credentials"]


def load_credentials(exchange: Exchange, secrets_file: str, *, needs_passphrase: bool = False) -> Credentials | None:
    """Keys from ``secrets_file`` (TOML, optionally under ``[<exchange>]``) or the environment."""
    if secrets_file:
        path = Path(secrets_file)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"secrets file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"secrets file {path}: {exc}") from None
        section = data.get(exchange.value, data)
        key, secret = section.get("api_key", ""), section.get("api_secret", "")
        if not key or not secret:
            raise ConfigError(f"secrets file {path}: needs api_key and api_secret (under [{exchange.value}])")
        passphrase = str(section.get("passphrase", ""))
        if needs_passphrase and not passphrase:
            raise ConfigError(f"secrets file {path}: {exchange.value} also needs a passphrase")
        return Credentials(str(key), str(secret), passphrase)
    return Credentials.from_env(exchange.value.upper())


def _factory(cfg: RunnerConfig) -> VenueFactory:
    try:
        return venue_factory(cfg.exchange)
    except LookupError as exc:
        raise ConfigError(str(exc)) from None


@asynccontextmanager
async def open_venue(cfg: RunnerConfig) -> AsyncIterator[ExchangeAdapter]:
    async with _shared_budgets(cfg), _open_raw(cfg) as adapter:
        if cfg.mode == "paper":
            logger.info("paper mode: orders are filled locally against the live book; nothing reaches the venue")
            yield PaperAdapter(adapter, cfg.paper_settings(), stale_book_s=cfg.stale_book_s)
        else:
            yield adapter


@asynccontextmanager
async def _shared_budgets(cfg: RunnerConfig) -> AsyncIterator[BudgetRegistry | None]:
    """The venue's rate-limit budget shared through the runner's Redis while the adapter is
    built (``exchanges.transport.ratelimit``); ``rate_limit_shared = false``: none."""
    if not cfg.rate_limit_shared:
        yield None
        return
    options = cfg.budget_options()
    client = aioredis.Redis.from_url(
        cfg.redis_url, socket_timeout=options.redis_timeout_s, socket_connect_timeout=options.redis_timeout_s
    )
    registry = BudgetRegistry(client, options)
    token = active_budgets.set(registry)
    try:
        yield registry
    finally:
        active_budgets.reset(token)
        await client.aclose()


@asynccontextmanager
async def _open_raw(cfg: RunnerConfig) -> AsyncIterator[ExchangeAdapter]:
    factory = _factory(cfg)
    prefix = factory.credential_env_prefix
    if cfg.venue == "sim" and cfg.sim_connect:
        host, _, port = cfg.sim_connect.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"sim_connect: {cfg.sim_connect!r} is not HOST:PORT")
        yield factory.external_sim(host, int(port), Credentials.from_env(prefix))
        return
    if cfg.venue == "sim":
        async with factory.embedded_sim(
            port_base=cfg.sim_port_base or free_port_pair(count=factory.sim_ports),
            seed=cfg.sim_seed,
            symbols=cfg.symbols,
            funding_interval_ms=int(cfg.sim_funding_interval_s * 1000) if cfg.sim_funding_interval_s else None,
        ) as adapter:
            yield adapter
        return
    creds = load_credentials(cfg.exchange, cfg.secrets_file, needs_passphrase=factory.needs_passphrase)
    if creds is None:
        extra = f", {prefix}_API_PASSPHRASE" if factory.needs_passphrase else ""
        raise ConfigError(
            f"--venue {cfg.venue} needs API keys: set {prefix}_API_KEY, {prefix}_API_SECRET{extra} "
            "or pass --secrets FILE"
        )
    if cfg.venue == "live" and cfg.mode == "live":
        logger.warning("LIVE {} venue in live mode: orders will be sent with real money", cfg.exchange.value)
    yield factory.remote(cfg.venue, creds)
