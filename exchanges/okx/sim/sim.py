"""The offline OKX venue, in process: ``async with OkxSim(port=N) as sim: ...``.

REST (``/api/v5``), the WebSocket endpoints (``/ws/v5/public|private|business``) and the admin
API (``/_sim/``) share one port on ``host``; ``sim.urls`` gives the base URLs a client needs.
For synchronous code, :meth:`OkxSim.in_thread` runs the same server on a background loop.

The market model is the shared engine's (``SimConfig``) with OKX's instruments and fee tier;
started with the same seed as a Binance or Bybit venue it follows the same index and basis
paths, plus OKX's own small mean-reverting premium (``venue_tag="okx"``,
``venue_noise_bps`` = :data:`VENUE_NOISE_BPS`), so cross-venue spreads are realistic: small,
wandering, never identically zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Unpack

from aiohttp import web

from exchanges.okx.urls import OkxUrls
from exchanges.sim.engine import SimClock, SimConfig
from exchanges.sim.faults import FaultRequest
from exchanges.sim.overrides import ConfigOverrides, override_config
from exchanges.sim.runtime import SimHost, Stoppable, ThreadedSim, client_host, scheme_urls
from exchanges.sim.tls import TlsFiles

from .dialect import OkxDialect
from .instruments import OKX_SYMBOLS
from .options import OkxSimOptions

__all__ = ["OkxSim", "ThreadedOkxSim", "build_config", "default_config", "VENUE_NOISE_BPS"]

VENUE_NOISE_BPS = 2.0


def default_config() -> SimConfig:
    """``SimConfig()`` with OKX's instruments, its regular-tier fees (spot 0.08 % / 0.10 %,
    swaps 0.02 % / 0.05 %) and its venue premium."""
    return SimConfig(
        symbols=OKX_SYMBOLS,
        maker_fee_spot=Decimal("0.0008"),
        taker_fee_spot=Decimal("0.001"),
        maker_fee_perp=Decimal("0.0002"),
        taker_fee_perp=Decimal("0.0005"),
        max_leverage=100,
        venue_tag="okx",
        venue_noise_bps=VENUE_NOISE_BPS,
    )


def build_config(config: SimConfig | None = None, **overrides: Unpack[ConfigOverrides]) -> SimConfig:
    """``config`` (default: :func:`default_config`) with the given overrides (``seed``, ``symbols``,
    ``step_ms``, ``funding_interval_ms``, ``balances``, ``futures_balances``);
    ``symbols`` are canonical (``BTCUSDT``: both ``BTC-USDT`` and ``BTC-USDT-SWAP``).
    ValueError names a bad value."""
    return override_config(config or default_config(), **overrides)


class OkxSim(SimHost[OkxDialect, OkxSimOptions]):
    """The OKX venue over one engine.

    ``sim.venue`` is the engine (call it from the server's event loop), ``sim.faults`` the
    fault switchboard (safe from any thread), ``sim.urls`` the base URLs, ``sim.api_key`` /
    ``sim.api_secret`` / ``sim.passphrase`` the test account's credentials.
    """

    def __init__(
        self,
        *,
        port: int,
        host: str = "127.0.0.1",
        config: SimConfig | None = None,
        options: OkxSimOptions | None = None,
        clock: SimClock | None = None,
        faults: FaultRequest | None = None,
        tls: TlsFiles | None = None,
        **overrides: Unpack[ConfigOverrides],
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self.port = port
        options = options or OkxSimOptions()
        super().__init__(
            host=host, options=options, config=build_config(config, **overrides), clock=clock, faults=faults, tls=tls
        )
        self.dialect = OkxDialect(self.venue, self.options, self.faults)
        self._plain_urls = OkxUrls.sim(port, host=client_host(host))

    @property
    def urls(self) -> OkxUrls:
        """The base URLs (``https``/``wss`` when serving TLS)."""
        return scheme_urls(self._plain_urls, self.tls is not None)

    @property
    def passphrase(self) -> str:
        return self.options.passphrase

    def endpoints(self) -> dict[str, str]:
        """Every base URL served, for printing."""
        u = self.urls
        return {
            "REST": f"{u.rest}/api/v5",
            "public WS": u.ws_public,
            "private WS": u.ws_private,
            "business WS": u.ws_business,
            "admin": f"{u.rest}/_sim/",
        }

    def _apps(self) -> list[tuple[int, web.Application]]:
        return [(self.port, self.dialect.app())]

    def _rest_hosts(self) -> Iterable[Stoppable]:
        return (self.dialect.rest,)

    @classmethod
    def in_thread(cls, **kwargs: object) -> ThreadedOkxSim:
        """Start a sim on a background loop (same keyword arguments as the constructor)."""
        return ThreadedOkxSim(**kwargs)


class ThreadedOkxSim(ThreadedSim[OkxSim]):
    """An :class:`OkxSim` on its own event loop thread, for synchronous tests::

    with OkxSim.in_thread(port=N, seed=1) as sim:
        requests.get(sim.urls.rest + "/api/v5/public/time")
        sim.call(lambda s: s.venue.move_index("BTC", 1.0))
    """

    def __init__(self, **kwargs: Any) -> None:  # the simulator's own keyword arguments, passed through
        super().__init__(lambda: OkxSim(**kwargs), thread_name="okx-sim")

    @property
    def urls(self) -> OkxUrls:
        return self.sim.urls

    @property
    def passphrase(self) -> str:
        return self.sim.passphrase
