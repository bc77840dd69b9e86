"""OKX as the runner opens it: embedded offline venue, external offline venue, demo, live."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from loguru import logger

from exchanges.base import ExchangeAdapter
from exchanges.credentials import Credentials
from strategy_client.model import Exchange

from .adapter import OkxAdapter
from .urls import OkxUrls

__all__ = ["FACTORY", "OkxVenueFactory"]


class OkxVenueFactory:
    exchange = Exchange.OKX
    sim_ports = 1  # REST, the three WebSocket paths and /_sim/ share one port
    credential_env_prefix = "OKX"
    needs_passphrase = True

    def embedded_sim(
        self, *, port_base: int, seed: int, symbols: Sequence[str], funding_interval_ms: int | None
    ) -> AbstractAsyncContextManager[ExchangeAdapter]:
        return self._embedded(port_base, seed, symbols, funding_interval_ms)

    @asynccontextmanager
    async def _embedded(
        self, port_base: int, seed: int, symbols: Sequence[str], funding_interval_ms: int | None
    ) -> AsyncIterator[ExchangeAdapter]:
        from .sim import OkxSim  # noqa: PLC0415 - the offline venue loads only when asked for

        async with OkxSim(
            port=port_base, seed=seed, symbols=list(symbols), funding_interval_ms=funding_interval_ms
        ) as sim:
            logger.info("embedded OKX simulator: {}", sim.urls.rest)
            yield OkxAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret, sim.passphrase))

    def external_sim(self, host: str, port: int, credentials: Credentials | None) -> ExchangeAdapter:
        from .sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_PASSPHRASE  # noqa: PLC0415 - as above

        urls = OkxUrls.sim(port, host=host)
        logger.info("external offline OKX venue: {}", urls.rest)
        creds = credentials or Credentials(DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_PASSPHRASE)
        return OkxAdapter(urls, creds)

    def remote(self, venue: str, credentials: Credentials) -> ExchangeAdapter:
        """``testnet`` is OKX demo trading (same REST host, ``x-simulated-trading: 1``)."""
        urls = OkxUrls.live() if venue == "live" else OkxUrls.demo()
        return OkxAdapter(urls, credentials)


FACTORY = OkxVenueFactory()
