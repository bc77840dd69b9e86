"""Base URLs of Bybit v5 for live, testnet, demo trading and our offline venue.

Bybit serves REST on one host and WebSocket on another (``stream.bybit.com``): public market
data per category (``/v5/public/spot``, ``/v5/public/linear``), private user data
(``/v5/private``) and order entry (``/v5/trade``). The paths never collide, so the offline
venue serves all of them, and its ``/_sim/`` admin API, on a single port.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BybitUrls"]


@dataclass(frozen=True, slots=True)
class BybitUrls:
    rest: str
    public_spot: str  # full URL of the spot public stream
    public_linear: str  # full URL of the linear (USDT perpetual) public stream
    private: str  # full URL of the private stream (order, execution, position, wallet)
    trade: str  # full URL of the WebSocket order-entry endpoint (not used by the adapter)

    @classmethod
    def live(cls) -> BybitUrls:
        return cls(
            rest="https://api.bybit.com",
            public_spot="wss://stream.bybit.com/v5/public/spot",
            public_linear="wss://stream.bybit.com/v5/public/linear",
            private="wss://stream.bybit.com/v5/private",
            trade="wss://stream.bybit.com/v5/trade",
        )

    @classmethod
    def testnet(cls) -> BybitUrls:
        return cls(
            rest="https://api-testnet.bybit.com",
            public_spot="wss://stream-testnet.bybit.com/v5/public/spot",
            public_linear="wss://stream-testnet.bybit.com/v5/public/linear",
            private="wss://stream-testnet.bybit.com/v5/private",
            trade="wss://stream-testnet.bybit.com/v5/trade",
        )

    @classmethod
    def demo(cls) -> BybitUrls:
        """Demo trading on mainnet: its own REST and private hosts, mainnet public data."""
        return cls(
            rest="https://api-demo.bybit.com",
            public_spot="wss://stream.bybit.com/v5/public/spot",
            public_linear="wss://stream.bybit.com/v5/public/linear",
            private="wss://stream-demo.bybit.com/v5/private",
            trade="wss://stream-demo.bybit.com/v5/trade",
        )

    @classmethod
    def sim(cls, port: int, host: str = "127.0.0.1") -> BybitUrls:
        return cls(
            rest=f"http://{host}:{port}",
            public_spot=f"ws://{host}:{port}/v5/public/spot",
            public_linear=f"ws://{host}:{port}/v5/public/linear",
            private=f"ws://{host}:{port}/v5/private",
            trade=f"ws://{host}:{port}/v5/trade",
        )
