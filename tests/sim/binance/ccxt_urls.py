"""ccxt (REST and ccxt.pro) instances pointed at the offline Binance venue: base URLs changed only."""

from __future__ import annotations

from typing import Any

from exchanges.binance.urls import BinanceUrls

__all__ = ["point_at_sim"]

_REST_HOSTS = {
    "https://api.binance.com": "spot_rest",
    "https://fapi.binance.com": "futures_rest",
    "https://dapi.binance.com": "futures_rest",
}


def point_at_sim(ex: Any, urls: BinanceUrls) -> Any:
    """Rewrite every Binance spot/USD-M/COIN-M base URL of ``ex`` (REST, streams, WS-API) to the sim."""
    api = ex.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str):
            for prefix, attr in _REST_HOSTS.items():
                if url.startswith(prefix):
                    api[name] = getattr(urls, attr) + url[len(prefix) :]
    ws = api.get("ws")
    if isinstance(ws, dict):
        # ``/stream``: ccxt.pro tells spot messages from futures ones by ``/stream`` in the URL
        ws["spot"] = ws["margin"] = f"{urls.spot_ws}/stream"
        ws["linear"] = f"{urls.futures_ws}/ws"
        ws["ws-api"]["spot"] = urls.spot_ws_api
        ws["ws-api"]["linear"] = urls.futures_ws_api
    return ex
