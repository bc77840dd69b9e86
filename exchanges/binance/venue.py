"""Binance as the runner opens it: embedded offline venue, external offline venue, testnet, live."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from loguru import logger

from exchanges.base import ExchangeAdapter
from exchanges.credentials import Credentials
from strategy_client.model import Exchange

from .adapter import BinanceAdapter
from .urls import BinanceUrls

__all__ = ["FACTORY", "BinanceVenueFactory"]


class BinanceVenueFactory:
    exchange = Exchange.BINANCE
    sim_ports = 2  # spot on N, USD-M futures on N+1
    credential_env_prefix = "BINANCE"
    needs_passphrase = False

    def embedded_sim(
        self, *, port_base: int, seed: int, symbols: Sequence[str], funding_interval_ms: int | None
    ) -> AbstractAsyncContextManager[ExchangeAdapter]:
        return self._embedded(port_base, seed, symbols, funding_interval_ms)

    @asynccontextmanager
    async def _embedded(
        self, port_base: int, seed: int, symbols: Sequence[str], funding_interval_ms: int | None
    ) -> AsyncIterator[ExchangeAdapter]:
        from .sim import BinanceSim  # noqa: PLC0415 - the offline venue loads only when asked for

        async with BinanceSim(
            port_base=port_base, seed=seed, symbols=list(symbols), funding_interval_ms=funding_interval_ms
        ) as sim:
            logger.info("embedded Binance simulator: spot {}  futures {}", sim.urls.spot_rest, sim.urls.futures_rest)
            yield BinanceAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret))

    def external_sim(self, host: str, port: int, credentials: Credentials | None) -> ExchangeAdapter:
        from .sim import DEFAULT_API_KEY, DEFAULT_API_SECRET  # noqa: PLC0415 - as above

        urls = BinanceUrls.sim(port, host=host)
        logger.info("external offline Binance venue: spot {}  futures {}", urls.spot_rest, urls.futures_rest)
        return BinanceAdapter(urls, credentials or Credentials(DEFAULT_API_KEY, DEFAULT_API_SECRET))

    def remote(self, venue: str, credentials: Credentials) -> ExchangeAdapter:
        urls = BinanceUrls.live() if venue == "live" else BinanceUrls.testnet()
        return BinanceAdapter(urls, credentials)


FACTORY = BinanceVenueFactory()
