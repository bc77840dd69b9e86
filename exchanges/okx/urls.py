"""Base URLs of OKX v5 for live, demo trading and our offline venue (reference §1).

Demo trading uses the live REST host with the header ``x-simulated-trading: 1`` and its own
WebSocket hosts. The offline venue serves REST (``/api/v5``) and all three WebSocket paths
(``/ws/v5/public|private|business``) on one port.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OkxUrls"]


@dataclass(frozen=True, slots=True)
class OkxUrls:
    rest: str
    ws_public: str
    ws_private: str
    ws_business: str
    simulated_trading: bool = False  # send ``x-simulated-trading: 1`` (demo trading)

    @classmethod
    def live(cls) -> OkxUrls:
        return cls(
            rest="https://www.okx.com",
            ws_public="wss://ws.okx.com:8443/ws/v5/public",
            ws_private="wss://ws.okx.com:8443/ws/v5/private",
            ws_business="wss://ws.okx.com:8443/ws/v5/business",
        )

    @classmethod
    def demo(cls) -> OkxUrls:
        return cls(
            rest="https://www.okx.com",
            ws_public="wss://wspap.okx.com:8443/ws/v5/public",
            ws_private="wss://wspap.okx.com:8443/ws/v5/private",
            ws_business="wss://wspap.okx.com:8443/ws/v5/business",
            simulated_trading=True,
        )

    @classmethod
    def sim(cls, port: int, host: str = "127.0.0.1") -> OkxUrls:
        return cls(
            rest=f"http://{host}:{port}",
            ws_public=f"ws://{host}:{port}/ws/v5/public",
            ws_private=f"ws://{host}:{port}/ws/v5/private",
            ws_business=f"ws://{host}:{port}/ws/v5/business",
        )
