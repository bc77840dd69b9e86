"""The offline Binance venue, in process: ``async with BinanceSim(port_base=N) as sim: ...``.

Spot (REST, streams, WS-API) listens on ``port_base``, USD-M futures on ``port_base + 1``,
both on ``host``; ``sim.urls`` gives every base URL a client needs. For synchronous code,
:meth:`BinanceSim.in_thread` runs the same server on a background event loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Unpack

from aiohttp import web

from exchanges.binance.urls import BinanceUrls
from exchanges.sim.engine import DEFAULT_SYMBOLS, SimClock, SimConfig
from exchanges.sim.faults import FaultRequest
from exchanges.sim.overrides import ConfigOverrides, override_config
from exchanges.sim.runtime import SimHost, Stoppable, ThreadedSim, client_host, scheme_urls
from exchanges.sim.tls import TlsFiles

from .dialect import BinanceDialect
from .options import BinanceSimOptions

__all__ = ["BinanceSim", "ThreadedBinanceSim", "build_config"]


def build_config(config: SimConfig | None = None, **overrides: Unpack[ConfigOverrides]) -> SimConfig:
    """``config`` (default ``SimConfig()``) with the given overrides (``seed``, ``symbols``,
    ``step_ms``, ``funding_interval_ms``, ``balances``, ``futures_balances``); ValueError names a bad one."""
    return override_config(config or SimConfig(), known_symbols=DEFAULT_SYMBOLS, **overrides)


class BinanceSim(SimHost[BinanceDialect, BinanceSimOptions]):
    """Both Binance hosts over one engine.

    ``sim.venue`` is the engine (call it from the server's event loop), ``sim.faults`` the
    fault switchboard (safe from any thread), ``sim.urls`` the base URLs, ``sim.api_key`` /
    ``sim.api_secret`` the test account's credentials.
    """

    def __init__(
        self,
        *,
        port_base: int,
        host: str = "127.0.0.1",
        config: SimConfig | None = None,
        options: BinanceSimOptions | None = None,
        clock: SimClock | None = None,
        faults: FaultRequest | None = None,
        tls: TlsFiles | None = None,
        **overrides: Unpack[ConfigOverrides],
    ) -> None:
        if not 0 < port_base < 65535:
            raise ValueError(f"port_base must be in 1..65534 (two ports are used), got {port_base}")
        self.port_base = port_base
        options = options or BinanceSimOptions()
        super().__init__(
            host=host, options=options, config=build_config(config, **overrides), clock=clock, faults=faults, tls=tls
        )
        self.dialect = BinanceDialect(self.venue, self.options, self.faults, self.config.seed)
        self._plain_urls = BinanceUrls.sim(port_base, host=client_host(host))

    @property
    def urls(self) -> BinanceUrls:
        """The base URLs (``https``/``wss`` when serving TLS)."""
        return scheme_urls(self._plain_urls, self.tls is not None)

    @property
    def spot_port(self) -> int:
        return self.port_base

    @property
    def futures_port(self) -> int:
        return self.port_base + 1

    def endpoints(self) -> dict[str, str]:
        """Every base URL served, for printing."""
        u = self.urls
        return {
            "spot REST": f"{u.spot_rest}/api/v3",
            "spot streams": f"{u.spot_ws}/ws/<stream>  {u.spot_ws}/stream?streams=a/b",
            "spot WS-API": u.spot_ws_api,
            "futures REST": f"{u.futures_rest}/fapi/v1 (v2, v3)",
            "futures streams": f"{u.futures_ws}/public|/market|/private/ws|stream  (legacy /ws, /stream)",
            "futures WS-API": u.futures_ws_api,
            "admin": f"{u.spot_rest}/_sim/  {u.futures_rest}/_sim/",
        }

    def _apps(self) -> list[tuple[int, web.Application]]:
        return [(self.spot_port, self.dialect.app("spot")), (self.futures_port, self.dialect.app("futures"))]

    def _rest_hosts(self) -> Iterable[Stoppable]:
        return self.dialect.rest.values()

    @classmethod
    def in_thread(cls, **kwargs: object) -> ThreadedBinanceSim:
        """Start a sim on a background loop (same keyword arguments as the constructor)."""
        return ThreadedBinanceSim(**kwargs)


class ThreadedBinanceSim(ThreadedSim[BinanceSim]):
    """A :class:`BinanceSim` on its own event loop thread, for synchronous tests::

    with BinanceSim.in_thread(port_base=N, seed=1) as sim:
        requests.get(sim.urls.spot_rest + "/api/v3/time")
        sim.call(lambda s: s.venue.move_index("BTC", 1.0))
    """

    def __init__(self, **kwargs: Any) -> None:  # the simulator's own keyword arguments, passed through
        super().__init__(lambda: BinanceSim(**kwargs), thread_name="binance-sim")

    @property
    def urls(self) -> BinanceUrls:
        return self.sim.urls
