"""Build the venue adapter for ``--venue sim|testnet|live``.

``sim`` (the default) starts the offline Binance venue inside this process and points the
adapter at it: nothing can leave the machine. ``testnet`` and ``live`` need API keys from the
environment (``BINANCE_API_KEY``/``BINANCE_API_SECRET``) or a secrets file.
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from loguru import logger

from exchanges.base import ExchangeAdapter
from exchanges.credentials import Credentials
from strategy_client.model import Exchange

from .config import ConfigError, RunnerConfig
from .ports import free_port_pair

__all__ = ["open_venue", "load_credentials"]


def load_credentials(exchange: Exchange, secrets_file: str) -> Credentials | None:
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
        return Credentials(str(key), str(secret), str(section.get("passphrase", "")))
    return Credentials.from_env(exchange.value.upper())


@asynccontextmanager
async def open_venue(cfg: RunnerConfig) -> AsyncIterator[ExchangeAdapter]:
    if cfg.mode == "paper":
        # refuse rather than silently trade live: paper execution inside the runner is not built yet
        raise ConfigError("--mode paper is not available in the runner yet; use --venue sim (the default)")
    if cfg.exchange is not Exchange.BINANCE:
        raise ConfigError(f"exchange {cfg.exchange.value!r} has no adapter yet (available: binance)")
    from exchanges.binance.adapter import BinanceAdapter
    from exchanges.binance.urls import BinanceUrls

    if cfg.venue == "sim" and cfg.sim_connect:
        from exchanges.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

        host, _, port = cfg.sim_connect.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"sim_connect: {cfg.sim_connect!r} is not HOST:PORT")
        sim_creds = Credentials.from_env(cfg.exchange.value.upper()) or Credentials(
            DEFAULT_API_KEY, DEFAULT_API_SECRET
        )
        sim_urls = BinanceUrls.sim(int(port), host=host)
        logger.info(
            "external offline Binance venue: spot {}  futures {}", sim_urls.spot_rest, sim_urls.futures_rest
        )
        yield BinanceAdapter(sim_urls, sim_creds)
        return
    if cfg.venue == "sim":
        from exchanges.binance.sim import BinanceSim

        async with BinanceSim(**_sim_options(cfg)) as sim:
            logger.info(
                "embedded Binance simulator: spot {}  futures {}", sim.urls.spot_rest, sim.urls.futures_rest
            )
            yield BinanceAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret))
        return
    creds = load_credentials(cfg.exchange, cfg.secrets_file)
    if creds is None:
        raise ConfigError(
            f"--venue {cfg.venue} needs API keys: set BINANCE_API_KEY and BINANCE_API_SECRET "
            "or pass --secrets FILE"
        )
    urls = BinanceUrls.live() if cfg.venue == "live" else BinanceUrls.testnet()
    if cfg.venue == "live" and cfg.mode == "live":
        logger.warning("LIVE venue in live mode: orders will reach {} with real money", urls.spot_rest)
    yield BinanceAdapter(urls, creds)


def _sim_options(cfg: RunnerConfig) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "port_base": cfg.sim_port_base or free_port_pair(),
        "seed": cfg.sim_seed,
        "symbols": cfg.symbols,
    }
    if cfg.sim_funding_interval_s:
        opts["funding_interval_ms"] = int(cfg.sim_funding_interval_s * 1000)
    return opts
