"""Bybit as the runner opens it: embedded offline venue, external offline venue, testnet, live.

The offline venue serves REST, the public and private streams and ``/_sim/`` on one port
(``sim_ports = 1``). ``remote("testnet")`` is Bybit's testnet; ``remote("live")`` mainnet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from loguru import logger

from exchanges.base import ExchangeAdapter
from exchanges.credentials import Credentials
from strategy_client.model import Exchange

from .adapter import BybitAdapter
from .urls import BybitUrls

__all__ = ["FACTORY", "BybitVenueFactory"]


class BybitVenueFactory:
    exchange = Exchange.BYBIT
    sim_ports = 1  # REST, public + private streams and /_sim/ share one port
    credential_env_prefix = "BYBIT"
    needs_passphrase = False

    def embedded_sim(
        self, *, port_base: int, seed: int, symbols: Sequence[str], funding_interval_ms: int | None
    ) -> AbstractAsyncContextManager[ExchangeAdapter]:
        return self._embedded(port_base, seed, symbols, funding_interval_ms)

    @asynccontextmanager
    async def _embedded(
        self, port_base: int, seed: int, symbols: Sequence[str], funding_interval_ms: int | None
    ) -> AsyncIterator[ExchangeAdapter]:
        from .sim import BybitSim  # noqa: PLC0415 - the offline venue loads only when asked for

        async with BybitSim(
            port=port_base, seed=seed, symbols=list(symbols), funding_interval_ms=funding_interval_ms
        ) as sim:
            logger.info("embedded Bybit simulator: REST {}  private {}", sim.urls.rest, sim.urls.private)
            yield BybitAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret))

    def external_sim(self, host: str, port: int, credentials: Credentials | None) -> ExchangeAdapter:
        from .sim import DEFAULT_API_KEY, DEFAULT_API_SECRET  # noqa: PLC0415 - as above

        urls = BybitUrls.sim(port, host=host)
        logger.info("external offline Bybit venue: REST {}", urls.rest)
        return BybitAdapter(urls, credentials or Credentials(DEFAULT_API_KEY, DEFAULT_API_SECRET))

    def remote(self, venue: str, credentials: Credentials) -> ExchangeAdapter:
        urls = BybitUrls.live() if venue == "live" else BybitUrls.testnet()
        return BybitAdapter(urls, credentials)


FACTORY = BybitVenueFactory()
