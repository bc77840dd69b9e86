"""Bench firehose: partial-depth frames at a chosen rate, and tick-to-order triggers (off by default).

Binance sends ``<s>@depth5@100ms`` ten times a second; a benchmark needs far more. While the
firehose is configured (``POST /_sim/bench/firehose``), every subscribed partial-depth stream
(``<s>@depth5|10|20[@speed]``, spot and futures) gets frames rendered from the engine's current
book at ``rate`` frames per second **in total**, spread round robin over the streams, and the
periodic partial frames pause (``MarketStreams.partial_muted``). Each frame has a fresh,
increasing update id. ``rate: 0`` keeps the periodic frames paused but sends nothing; ``DELETE``
switches the firehose off and the periodic frames resume (their ids continue from the
firehose's, never backwards).

Frames are queued every tick (about 1 ms) for the time elapsed, so the rate holds on average.
When the loop falls more than ``max_burst_s`` behind, the excess is not sent but counted in
``shortfall``: the simulator, not the client, was the limit.

Trigger (``trigger_symbol``): every ``trigger_interval_ms`` one extra frame of that symbol's
book goes out with every price multiplied by ``1 - trigger_pct/100`` (rounded down to the tick)
— a book that crosses a bench strategy's threshold. The :class:`~.probe.LatencyProbe` records
when that frame is written and when the order named after it (client id ``tto-<u>``) arrives
on the WS-API or over REST; ``GET /_sim/bench/probe`` returns the pairs.

Routes (both hosts, one firehose):

=======  =====================  =================================================
GET      /_sim/bench/firehose   configuration and counters
POST     /_sim/bench/firehose   :class:`FirehoseConfig` (JSON); starts or retunes it
DELETE   /_sim/bench/firehose   off
GET      /_sim/bench/probe      latency pairs and counters
DELETE   /_sim/bench/probe      forget them
=======  =====================  =================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

import msgspec
from aiohttp import web

from .api_errors import Product
from .core import BinanceCore
from .market_streams import MarketStreams, RenderedBook, StreamKey
from .probe import LatencyProbe
from .registry import ConnRegistry
from .rest import RestHost
from .ws_api import WsApiServer

__all__ = ["Firehose", "FirehoseConfig", "BENCH_PREFIX"]

_log = logging.getLogger("exchanges.binance.sim.firehose")

BENCH_PREFIX = "/_sim/bench"
_PRODUCTS: tuple[Product, Product] = ("spot", "futures")
MAX_RATE = 2_000_000


class FirehoseConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``rate``: frames per second over all subscribed partial-depth streams (0 = none)."""

    rate: int = 0
    trigger_symbol: str = ""
    trigger_product: Literal["spot", "futures"] = "futures"
    trigger_interval_ms: int = 50
    trigger_pct: float = 2.0
    max_burst_s: float = 0.05

    def validate(self) -> None:
        if not 0 <= self.rate <= MAX_RATE:
            raise ValueError(f"rate must be in 0..{MAX_RATE}, got {self.rate}")
        if self.trigger_interval_ms < 1:
            raise ValueError(f"trigger_interval_ms must be at least 1, got {self.trigger_interval_ms}")
        if not 0 < self.trigger_pct < 50:
            raise ValueError(f"trigger_pct must be in (0, 50), got {self.trigger_pct}")
        if not 0 < self.max_burst_s <= 10:
            raise ValueError(f"max_burst_s must be in (0, 10], got {self.max_burst_s}")


class Firehose:
    """See the module doc. Runs one owned task while configured; :meth:`aclose` stops it."""

    tick_s = 0.001

    def __init__(
        self,
        core: BinanceCore,
        markets: Mapping[Product, MarketStreams],
        ws_api: Mapping[Product, WsApiServer],
        rest: Mapping[Product, RestHost],
        registry: ConnRegistry,
        probe: LatencyProbe,
    ) -> None:
        self._core = core
        self._markets = markets
        self._ws_api = ws_api
        self._rest = rest
        self._registry = registry
        self.probe = probe
        self.config: FirehoseConfig | None = None
        self._task: asyncio.Task[None] | None = None
        self._credit = 0.0
        self._rr = 0
        self._next_trigger = 0.0
        self._rate_since = 0.0
        # counters
        self.frames = 0  # frames queued to connections (a frame to two listeners counts twice)
        self.frames_at_rate = 0  # since the rate was last set
        self.triggers = 0
        self.triggers_missed = 0  # the trigger symbol had no subscriber at trigger time
        self.shortfall = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- control ----------------------------------------------------------------------------

    def configure(self, cfg: FirehoseConfig) -> None:
        cfg.validate()
        if cfg.trigger_symbol and cfg.trigger_symbol.upper() not in self._core.specs[cfg.trigger_product]:
            raise ValueError(f"trigger_symbol: {cfg.trigger_symbol!r} is not listed on {cfg.trigger_product}")
        cfg = msgspec.structs.replace(cfg, trigger_symbol=cfg.trigger_symbol.upper())
        old = self.config
        self.config = cfg
        for market in self._markets.values():
            market.partial_muted = True
        self._attach_arrival_probes(bool(cfg.trigger_symbol))
        if not cfg.trigger_symbol:
            self._detach_sent_probe()
        now = time.monotonic()
        if old is None or old.rate != cfg.rate:
            self._credit = 0.0
            self._rate_since = now
            self.frames_at_rate = 0
        self._next_trigger = now + cfg.trigger_interval_ms / 1000
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sim-firehose")

    async def aclose(self) -> None:
        """Switch off: stop the task, resume the periodic partial frames, detach the probes."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._off()

    def cancel(self) -> None:
        """Synchronous stop for shutdown paths (the task is cancelled, not awaited)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        self._off()

    def _off(self) -> None:
        self.config = None
        for market in self._markets.values():
            market.partial_muted = False
        self._attach_arrival_probes(False)
        self._detach_sent_probe()

    def _attach_arrival_probes(self, on: bool) -> None:
        """The probe sees orders arriving over the WS-APIs and REST (``on``), or neither."""
        for api in self._ws_api.values():
            api.arrival_probe = self.probe.on_request if on else None
        for rest in self._rest.values():
            rest.arrival_probe = self.probe.on_form if on else None

    def _detach_sent_probe(self) -> None:
        for conn in self._registry.select():
            conn.sent_probe = None

    def state(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._rate_since if self.config is not None else 0.0
        return {
            "running": self.running,
            "config": msgspec.to_builtins(self.config) if self.config is not None else None,
            "streams": [[p, *k] for p, k in self._keys()],
            "frames": self.frames,
            "frames_at_rate": self.frames_at_rate,
            "seconds_at_rate": round(elapsed, 3),
            "achieved_rate": round(self.frames_at_rate / elapsed, 1) if elapsed > 0 else 0.0,
            "triggers": self.triggers,
            "triggers_missed": self.triggers_missed,
            "shortfall": self.shortfall,
        }

    # -- the loop ---------------------------------------------------------------------------

    def _keys(self) -> list[tuple[Product, StreamKey]]:
        return [(p, k) for p in _PRODUCTS for k in self._markets[p].partial_keys()]

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.tick_s)
            cfg = self.config
            if cfg is None:
                return
            now = time.monotonic()
            elapsed, last = now - last, now
            try:
                self._tick(cfg, now, elapsed)
            except Exception:  # noqa: BLE001 - a bench knob must not take the venue down
                _log.exception("firehose tick failed; switching the firehose off")
                self._off()
                return

    def _tick(self, cfg: FirehoseConfig, now: float, elapsed: float) -> None:
        keys = self._keys()
        if cfg.rate and keys:
            self._credit += elapsed * cfg.rate
            n = int(self._credit)
            self._credit -= n
            cap = max(1, int(cfg.rate * cfg.max_burst_s))
            if n > cap:
                self.shortfall += n - cap
                n = cap
            if n:
                self._emit(keys, n)
        if cfg.trigger_symbol and now >= self._next_trigger:
            self._next_trigger = max(self._next_trigger + cfg.trigger_interval_ms / 1000, now)
            self._trigger(cfg)

    def _emit(self, keys: list[tuple[Product, StreamKey]], n: int) -> None:
        now_ms = self._core.now_ms()
        rendered: dict[tuple[Product, StreamKey], RenderedBook] = {}
        count = len(keys)
        queued = 0
        for i in range(n):
            product, key = entry = keys[(self._rr + i) % count]
            market = self._markets[product]
            book = rendered.get(entry)
            if book is None:
                book = rendered[entry] = market.render_book(key)
            data, _ = market.firehose_frame(key, book, now_ms)
            queued += market.publish(key, data)
        self._rr = (self._rr + n) % count
        self.frames += queued
        self.frames_at_rate += queued

    def _trigger(self, cfg: FirehoseConfig) -> None:
        market = self._markets[cfg.trigger_product]
        key = next((k for k in market.partial_keys() if k[1] == cfg.trigger_symbol), None)
        if key is None:
            self.triggers_missed += 1
            return
        scale = Decimal(1) - Decimal(str(cfg.trigger_pct)) / 100
        book = market.render_book(key, scale)
        data, update_id = market.firehose_frame(key, book, self._core.now_ms())
        self.probe.arm(data, update_id)
        for conn in market.listeners(key):
            conn.sent_probe = self.probe.on_sent
        market.publish(key, data)
        self.triggers += 1

    # -- routes -----------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        p = BENCH_PREFIX
        return [
            web.get(f"{p}/firehose", _guard(self._get)),
            web.post(f"{p}/firehose", _guard(self._post)),
            web.delete(f"{p}/firehose", _guard(self._delete)),
            web.get(f"{p}/probe", _guard(self._get_probe)),
            web.delete(f"{p}/probe", _guard(self._clear_probe)),
        ]

    async def _get(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.state())

    async def _post(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        cfg = msgspec.json.decode(raw or b"{}", type=FirehoseConfig)
        self.configure(cfg)
        return web.json_response(self.state())

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        await self.aclose()
        return web.json_response(self.state())

    async def _get_probe(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.probe.snapshot())

    async def _clear_probe(self, request: web.Request) -> web.StreamResponse:
        self.probe.clear()
        return web.json_response({"ok": True})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(handler: Handler) -> Handler:
    """A bad body or value is ``400 {"error": ...}`` and changes nothing."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return guarded
