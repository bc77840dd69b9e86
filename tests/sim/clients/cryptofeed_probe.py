"""Run cryptofeed unmodified against an offline venue: ``python cryptofeed_probe.py VENUE REST WS``.

Only the exchange classes' base URLs change (their ``rest_endpoints``/``websocket_endpoints``
addresses, as one would for a testnet); trust of the venue's TLS certificate comes from the
environment (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``), as for any client. Subscribes books,
trades and funding, prints one JSON line per (feed, channel, symbol) on its first event,
``{"done": true}`` once all were seen, and exits (status 1 after ``DEADLINE_S`` without them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from typing import Any

from cryptofeed import FeedHandler
from cryptofeed.defines import FUNDING, L2_BOOK, TRADES
from cryptofeed.exchanges import OKX, Binance, BinanceFutures, Bybit

DEADLINE_S = 60.0

# venue → [(exchange class, symbols, channels)]
FEEDS: dict[str, list[tuple[Any, list[str], list[str]]]] = {
    "binance": [(Binance, ["BTC-USDT"], [L2_BOOK, TRADES])],
    "binance-futures": [(BinanceFutures, ["BTC-USDT-PERP"], [L2_BOOK, TRADES, FUNDING])],
    "bybit": [(Bybit, ["BTC-USDT-PERP", "BTC-USDT"], [L2_BOOK, TRADES]), (Bybit, ["BTC-USDT-PERP"], [FUNDING])],
    "okx": [(OKX, ["BTC-USDT-PERP", "BTC-USDT"], [L2_BOOK, TRADES]), (OKX, ["BTC-USDT-PERP"], [FUNDING])],
}


def point_at(cls: Any, rest: str, ws: str) -> None:
    """Replace the scheme+host of every REST and WebSocket endpoint of ``cls`` (paths kept)."""
    cls.rest_endpoints = [dataclasses.replace(e, address=rest) for e in cls.rest_endpoints]
    eps = []
    for e in cls.websocket_endpoints:
        scheme_host = e.address.split("/", 3)
        path = "/" + scheme_host[3] if len(scheme_host) > 3 else ""
        eps.append(dataclasses.replace(e, address=ws + path))
    cls.websocket_endpoints = eps


def main() -> int:
    venue, rest, ws = sys.argv[1:4]
    seen: set[tuple[str, str, str]] = set()
    wanted: set[tuple[str, str, str]] = set()
    handler = FeedHandler(config={"log": {"disabled": True}, "uvloop": False})
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def callback(channel: str) -> Any:
        async def record(obj: Any, receipt: float) -> None:
            key = (obj.exchange, channel, obj.symbol)
            if key not in seen:
                seen.add(key)
                print(json.dumps({"exchange": obj.exchange, "channel": channel, "symbol": obj.symbol}), flush=True)
            if wanted <= seen:
                print(json.dumps({"done": True}), flush=True)
                loop.stop()

        return record

    for cls, symbols, channels in FEEDS[venue]:
        point_at(cls, rest, ws)
        for channel in channels:
            wanted.update((cls.id, channel, s) for s in symbols)
        handler.add_feed(
            cls(symbols=symbols, channels=channels, callbacks={c: callback(c) for c in channels}),
        )
    handler.run(start_loop=False)
    loop.call_later(DEADLINE_S, loop.stop)
    loop.run_forever()
    if not wanted <= seen:
        print(json.dumps({"missing": sorted(map(list, wanted - seen))}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
