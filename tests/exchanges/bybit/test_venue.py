"""How the runner opens Bybit: the venue factory, its URLs, and the shipped runner config."""

from __future__ import annotations

from pathlib import Path

from exchange_runner.config import load_config
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.sim import DEFAULT_API_KEY
from exchanges.bybit.venue import FACTORY
from exchanges.credentials import Credentials
from exchanges.venue import available_exchanges, venue_factory
from strategy_client.model import Exchange, InstrumentKey
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[3]


def test_factory_is_found_and_describes_the_venue() -> None:
    assert venue_factory(Exchange.BYBIT) is FACTORY and Exchange.BYBIT in available_exchanges()
    assert FACTORY.exchange is Exchange.BYBIT and FACTORY.sim_ports == 1
    assert FACTORY.credential_env_prefix == "BYBIT" and FACTORY.needs_passphrase is False


async def test_external_sim_testnet_and_live_urls() -> None:
    ext = FACTORY.external_sim("10.1.2.3", 9200, None)
    assert isinstance(ext, BybitAdapter) and ext.urls.rest == "http://10.1.2.3:9200"
    assert ext.urls.private == "ws://10.1.2.3:9200/v5/private" and ext.rest._credentials is not None
    assert ext.rest._credentials.api_key == DEFAULT_API_KEY
    creds = Credentials("k", "s")
    testnet, live = FACTORY.remote("testnet", creds), FACTORY.remote("live", creds)
    assert isinstance(testnet, BybitAdapter) and testnet.urls.rest == "https://api-testnet.bybit.com"
    assert isinstance(live, BybitAdapter) and live.urls.public_linear == "wss://stream.bybit.com/v5/public/linear"
    for adapter in (ext, testnet, live):
        await adapter.close()


async def test_embedded_sim_yields_a_working_adapter() -> None:
    async with FACTORY.embedded_sim(
        port_base=free_port(), seed=3, symbols=["BTCUSDT"], funding_interval_ms=60_000
    ) as ad:
        await ad.start()
        try:
            keys = {str(i.key) for i in await ad.load_instruments()}
            assert keys == {"bybit:spot:BTCUSDT", "bybit:perp:BTCUSDT"}
            rate = await ad.fetch_funding_rate(InstrumentKey.parse("bybit:perp:BTCUSDT"))
            assert rate.interval_ms == 60_000
        finally:
            await ad.close()


def test_shipped_runner_config_loads() -> None:
    cfg = load_config(ROOT / "configs" / "runner.bybit.toml", {})
    assert cfg.exchange is Exchange.BYBIT and cfg.symbols == ["BTCUSDT", "ETHUSDT"] and cfg.venue == "sim"
