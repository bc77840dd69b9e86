"""The offline Bybit venue, in process: ``async with BybitSim(port=N) as sim: ...``.

REST, the public streams (spot, linear), the private stream and the ``/_sim/`` admin API all
listen on one port (Bybit's paths never collide); ``sim.urls`` gives every URL a client needs.
For synchronous code, :meth:`BybitSim.in_thread` runs the same server on a background loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Unpack

from aiohttp import web

from exchanges.bybit.urls import BybitUrls
from exchanges.sim.engine import SimClock, SimConfig
from exchanges.sim.faults import FaultRequest
from exchanges.sim.overrides import ConfigOverrides, override_config
from exchanges.sim.runtime import SimHost, Stoppable, ThreadedSim, client_host, scheme_urls
from exchanges.sim.tls import TlsFiles

from .dialect import BybitDialect
from .options import BybitSimOptions
from .specs import BYBIT_SYMBOLS, bybit_config

__all__ = ["BybitSim", "ThreadedBybitSim", "build_config"]


def build_config(config: SimConfig | None = None, **overrides: Unpack[ConfigOverrides]) -> SimConfig:
    """``config`` (default: Bybit's, ``specs.bybit_config()``) with the given overrides (``seed``,
    ``symbols``, ``step_ms``, ``funding_interval_ms``, ``balances``, ``futures_balances``);
    ValueError names a bad one."""
    return override_config(config or bybit_config(), known_symbols=BYBIT_SYMBOLS, **overrides)


class BybitSim(SimHost[BybitDialect, BybitSimOptions]):
    """The Bybit venue over one engine, on one port.

    ``sim.venue`` is the engine (call it from the server's event loop), ``sim.faults`` the
    fault switchboard (safe from any thread), ``sim.urls`` the URLs, ``sim.api_key`` /
    ``sim.api_secret`` the test account's credentials.
    """

    def __init__(
        self,
        *,
        port: int,
        host: str = "127.0.0.1",
        config: SimConfig | None = None,
        options: BybitSimOptions | None = None,
        clock: SimClock | None = None,
        faults: FaultRequest | None = None,
        tls: TlsFiles | None = None,
        **overrides: Unpack[ConfigOverrides],
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self.port = port
        options = options or BybitSimOptions()
        super().__init__(
            host=host, options=options, config=build_config(config, **overrides), clock=clock, faults=faults, tls=tls
        )
        self.dialect = BybitDialect(self.venue, self.options, self.faults, self.config.seed)
        self._plain_urls = BybitUrls.sim(port, host=client_host(host))

    @property
    def urls(self) -> BybitUrls:
        """The base URLs (``https``/``wss`` when serving TLS)."""
        return scheme_urls(self._plain_urls, self.tls is not None)

    def endpoints(self) -> dict[str, str]:
        """Every URL served, for printing."""
        u = self.urls
        return {
            "REST": f"{u.rest}/v5/...",
            "public spot": u.public_spot,
            "public linear": u.public_linear,
            "private": u.private,
            "admin": f"{u.rest}/_sim/",
        }

    def _apps(self) -> list[tuple[int, web.Application]]:
        return [(self.port, self.dialect.app())]

    def _rest_hosts(self) -> Iterable[Stoppable]:
        return (self.dialect.rest,)

    @classmethod
    def in_thread(cls, **kwargs: object) -> ThreadedBybitSim:
        """Start a sim on a background loop (same keyword arguments as the constructor)."""
        return ThreadedBybitSim(**kwargs)


class ThreadedBybitSim(ThreadedSim[BybitSim]):
    """A :class:`BybitSim` on its own event loop thread, for synchronous tests::

    with BybitSim.in_thread(port=N, seed=1) as sim:
        requests.get(sim.urls.rest + "/v5/market/time")
        sim.call(lambda s: s.venue.move_index("BTC", 1.0))
    """

    def __init__(self, **kwargs: Any) -> None:  # the simulator's own keyword arguments, passed through
        super().__init__(lambda: BybitSim(**kwargs), thread_name="bybit-sim")

    @property
    def urls(self) -> BybitUrls:
        return self.sim.urls
