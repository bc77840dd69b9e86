"""Public trades on the offline venues, made by each venue's official REST client over TLS
(the venues' tapes move only when someone trades): python-binance ``Client``, pybit ``HTTP``,
python-okx ``TradeAPI`` — base URLs changed only, the CA trusted through the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import okx.Trade as OkxTrade
from binance import Client as BinanceClient
from pybit import unified_trading

from exchanges.binance.sim import ThreadedBinanceSim
from exchanges.bybit.sim import ThreadedBybitSim
from exchanges.okx.sim import ThreadedOkxSim

__all__ = ["binance_client", "bybit_http", "okx_trade", "trade_both"]


def binance_client(sim: ThreadedBinanceSim) -> Any:
    """python-binance's ``Client`` on the venue (its constructor pings the spot host)."""
    client = BinanceClient(sim.api_key, sim.api_secret, ping=False)
    client.API_URL = f"{sim.urls.spot_rest}/api"
    client.MARGIN_API_URL = f"{sim.urls.spot_rest}/sapi"
    client.FUTURES_URL = f"{sim.urls.futures_rest}/fapi"
    return client


def bybit_http(sim: ThreadedBybitSim, ca: Path) -> Any:
    """pybit's ``HTTP``: it sends prepared requests (``Session.send``), which skip requests'
    ``REQUESTS_CA_BUNDLE``, so its session is told the CA (``session.client.verify``)."""
    session = unified_trading.HTTP(api_key=sim.api_key, api_secret=sim.api_secret, max_retries=1)
    session.endpoint = sim.urls.rest
    session.client.verify = str(ca)
    return session


def okx_trade(sim: ThreadedOkxSim) -> Any:
    return OkxTrade.TradeAPI(
        sim.api_key, sim.api_secret, sim.sim.passphrase, flag="0", domain=sim.urls.rest, debug=False
    )


def trade_both(client: Any, venue: str, side: str) -> None:
    """One small market order on BTC spot and one on the BTC perp, through ``client``."""
    if venue == "binance":
        client.create_order(symbol="BTCUSDT", side=side.upper(), type="MARKET", quantity="0.001")
        client.futures_create_order(symbol="BTCUSDT", side=side.upper(), type="MARKET", quantity="0.01")
    elif venue == "bybit":
        for category, qty, extra in (("spot", "0.001", {"marketUnit": "baseCoin"}), ("linear", "0.01", {})):
            r = client.place_order(category=category, symbol="BTCUSDT", side=side, orderType="Market", qty=qty, **extra)
            assert r["retCode"] == 0, r
    else:
        for inst, mode, size, unit in (("BTC-USDT", "cash", "0.001", "base_ccy"), ("BTC-USDT-SWAP", "cross", "1", "")):
            r = client.place_order(instId=inst, tdMode=mode, side=side.lower(), ordType="market", sz=size, tgtCcy=unit)
            assert r["code"] == "0", r
