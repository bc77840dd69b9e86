"""The tick-to-order peer: a single-process ccxt.pro script (``python -m benchlib.ccxt_peer``).

    python -m benchlib.ccxt_peer --port-base P --orders ws|rest [--drop-pct 1.0]

What a user writes in thirty lines of ccxt.pro, measured on the same offline Binance venue and
load as tradebus (``scripts/bench.py --peers``): one ``binanceusdm`` instance pointed at the
venue by its base URLs only (``tests/sim/binance/ccxt_urls.py``), ccxt's own rate limiter off
(``enableRateLimit: False``), books from ``<symbol>@depth5@100ms`` — the partial-depth stream
the runner subscribes, so the firehose sends this process the same frames — for BTCUSDT and
ETHUSDT perpetuals, and the trigger detection of ``scripts/bench_strategy.py``: the threshold is
the best ask of the last book that did not cross, times ``1 - drop_pct/100``; a book at or below
it is answered with a BUY LIMIT IOC at that ask, client id ``tto-<update id>`` (the venue's
latency probe pairs it with the frame), awaited where the book was read. ``--orders ws`` places
it with ``create_order_ws`` (the WS-API, as the runner does), ``--orders rest`` with
``create_order`` (``POST /fapi/v1/order``).

ccxt.pro's ``watch_order_book`` on Binance subscribes the diff stream (``@depth@100ms``) and
builds the book from a REST snapshot; its source marks the ``depth<levels>`` snapshot streams
as a to-do. :class:`PartialDepthBinance` adds them the way ccxt.pro does it for other venues'
snapshot channels: the frame replaces the book (``OrderBook.reset``) and resolves the same
``watch`` future. Everything else — the WebSocket client, parsing, order building, signing, the
WS-API and REST calls — is ccxt's own code.

stdin/stdout: prints ``ready`` once both books arrived; the line ``stats`` is answered with one
JSON line of counters, ``trace`` with ``{"trace": []}`` (no legs: ccxt has no stamps of its own);
``quit`` (or end of stdin, or SIGTERM) exits.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import signal
from collections import Counter
from typing import Any

import ccxt.pro as ccxtpro
from ccxt.base.errors import BaseError

from exchanges.binance.sim.options import DEFAULT_API_KEY, DEFAULT_API_SECRET
from exchanges.binance.urls import BinanceUrls
from tests.sim.binance.ccxt_urls import point_at_sim

from .childio import run_async, serve_stdin

__all__ = ["PartialDepthBinance", "Peer", "main"]

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
TRIGGER_SYMBOL = "BTC/USDT:USDT"
HASH = "partialbook::"


class PartialDepthBinance(ccxtpro.binanceusdm):  # type: ignore[misc]  # ccxt is untyped
    """ccxt.pro's USDⓈ-M client with ``watch_partial_book``: the ``@depth<levels>@100ms`` stream."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.partial: set[str] = set()

    async def watch_partial_book(self, symbol: str, levels: int = 5) -> Any:
        await self.load_markets()
        market = self.market(symbol)
        self.partial.add(symbol)
        name = f"{market['lowercaseId']}@depth{levels}@100ms"
        url = self.get_ws_url("linear", "public") + "/" + self.stream("linear", HASH + symbol)
        request_id = self.request_id(url)
        request = {"method": "SUBSCRIBE", "params": [name], "id": request_id}
        subscription = {"id": str(request_id), "name": name, "symbols": [symbol]}  # ccxt indexes them by id
        return await self.watch(url, HASH + symbol, request, name, subscription)

    def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
        market = self.safe_market(self.safe_string(message, "s"), None, None, "swap")
        symbol = market["symbol"]
        if symbol not in self.partial:
            super().handle_order_book(client, message)
            return
        snapshot = self.parse_order_book(message, symbol, self.safe_integer(message, "E"), "b", "a")
        snapshot["nonce"] = self.safe_integer(message, "u")
        book = self.orderbooks.get(symbol)
        if book is None:
            book = self.orderbooks[symbol] = self.order_book(snapshot, 5)
        else:
            book.reset(snapshot)
        client.resolve(book, HASH + symbol)


class Peer:
    """The trigger detection of ``scripts/bench_strategy.py`` on ccxt's books and orders."""

    def __init__(self, ex: PartialDepthBinance, orders: str, drop_pct: float, prefix: str) -> None:
        self.ex = ex
        self.place = ex.create_order_ws if orders == "ws" else ex.create_order
        self.factor = 1 - drop_pct / 100
        self.prefix = prefix
        self.reference: float | None = None
        self.books: Counter[str] = Counter()
        self.triggers = 0
        self.orders_ok = 0
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()

    def qty_for(self, price: float) -> float:
        """The smallest step-aligned quantity above the minimum and 110% of the minimum notional."""
        market = self.ex.market(TRIGGER_SYMBOL)
        step = float(market["precision"]["amount"])
        qty = max(
            float(market["limits"]["amount"]["min"] or 0), float(market["limits"]["cost"]["min"] or 0) * 1.1 / price
        )
        return math.ceil(qty / step - 1e-9) * step

    async def watch(self, symbol: str, ready: asyncio.Event) -> None:
        while True:
            book = await self.ex.watch_partial_book(symbol)
            self.books[symbol] += 1
            if len(self.books) == len(SYMBOLS):
                ready.set()
            if symbol == TRIGGER_SYMBOL:
                await self.on_book(book)

    async def on_book(self, book: Any) -> None:
        asks = book["asks"]
        if not asks:
            return
        ask = float(asks[0][0])
        ref = self.reference
        if ref is not None and ask <= ref * self.factor:
            self.triggers += 1
            params = {"timeInForce": "IOC", "newClientOrderId": f"{self.prefix}{book['nonce']}"}
            try:
                order = await self.place(TRIGGER_SYMBOL, "limit", "buy", self.qty_for(ask), ask, params)
            except BaseError as exc:
                self.errors[type(exc).__name__] += 1
                return
            self.orders_ok += 1
            self.statuses[str(order.get("status"))] += 1
            return
        self.reference = ask

    def stats(self) -> dict[str, object]:
        return {
            "books": sum(self.books.values()),
            "triggers": self.triggers,
            "orders_ok": self.orders_ok,
            "order_errors": dict(self.errors),
            "statuses": dict(self.statuses),
        }


def make_exchange(port_base: int) -> PartialDepthBinance:
    ex = PartialDepthBinance(
        {"apiKey": DEFAULT_API_KEY, "secret": DEFAULT_API_SECRET, "enableRateLimit": False, "newUpdates": False}
    )
    point_at_sim(ex, BinanceUrls.sim(port_base))
    return ex


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ex = make_exchange(args.port_base)
    try:
        await ex.load_markets()
        peer = Peer(ex, args.orders, args.drop_pct, args.prefix)
        serve_stdin(loop, stop, {"stats": peer.stats, "trace": lambda: {"trace": []}})
        ready = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            watchers = [tg.create_task(peer.watch(s, ready)) for s in SYMBOLS]
            await ready.wait()
            gc.collect()
            gc.freeze()  # as the tradebus bench strategy does
            print("ready", flush=True)
            await stop.wait()
            for task in watchers:
                task.cancel()
        print(json.dumps(peer.stats()), flush=True)
    finally:
        await ex.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port-base", type=int, required=True, help="the offline venue's first port")
    parser.add_argument("--orders", choices=("ws", "rest"), default="ws", help="create_order_ws or create_order")
    parser.add_argument("--drop-pct", type=float, default=1.0, help="act when the ask falls this far (percent)")
    parser.add_argument("--prefix", default="tto-", help="client id prefix (the venue's probe matches it)")
    run_async(run(parser.parse_args()))


if __name__ == "__main__":
    main()
