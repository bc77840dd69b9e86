"""Base URLs per Binance host, for live, testnet and our offline venue.

The offline venue serves one port per Binance host: spot (REST, streams, WS-API) on
``port_base`` and USD-M futures (REST, streams under /public /market /private, WS-API) on
``port_base + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BinanceUrls"]


@dataclass(frozen=True, slots=True)
class BinanceUrls:
    spot_rest: str
    spot_ws: str  # streams: {spot_ws}/ws/<stream>, {spot_ws}/stream?streams=...
    spot_ws_api: str  # full URL of the WS-API endpoint
    futures_rest: str
    futures_ws: str  # streams: {futures_ws}/public|/market|/private ...
    futures_ws_api: str

    @classmethod
    def live(cls) -> BinanceUrls:
        return cls(
            spot_rest="https://api.binance.com",
            spot_ws="wss://stream.binance.com:9443",
            spot_ws_api="wss://ws-api.binance.com:443/ws-api/v3",
            futures_rest="https://fapi.binance.com",
            futures_ws="wss://fstream.binance.com",
            futures_ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",
        )

    @classmethod
    def testnet(cls) -> BinanceUrls:
        return cls(
            spot_rest="https://testnet.binance.vision",
            spot_ws="wss://stream.testnet.binance.vision",
            spot_ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
            futures_rest="https://testnet.binancefuture.com",
            futures_ws="wss://fstream.binancefuture.com",
            futures_ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",
        )

    @classmethod
    def sim(cls, port_base: int, host: str = "127.0.0.1") -> BinanceUrls:
        spot, fut = port_base, port_base + 1
        return cls(
            spot_rest=f"http://{host}:{spot}",
            spot_ws=f"ws://{host}:{spot}",
            spot_ws_api=f"ws://{host}:{spot}/ws-api/v3",
            futures_rest=f"http://{host}:{fut}",
            futures_ws=f"ws://{host}:{fut}",
            futures_ws_api=f"ws://{host}:{fut}/ws-fapi/v1",
        )
