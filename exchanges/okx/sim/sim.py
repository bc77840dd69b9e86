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

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import TypeVar

import msgspec

from exchanges.okx.urls import OkxUrls
from exchanges.sim.engine import SimClock, SimConfig, SimVenue
from exchanges.sim.faults import FaultRequest, Faults
from exchanges.sim.server import BackgroundLoop, SimServer

from .dialect import OkxDialect
from .instruments import OKX_SYMBOLS
from .options import OkxSimOptions

__all__ = ["OkxSim", "ThreadedOkxSim", "build_config", "default_config", "VENUE_NOISE_BPS"]

T = TypeVar("T")
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


def build_config(
    config: SimConfig | None = None,
    *,
    seed: int | None = None,
    symbols: Sequence[str] | None = None,
    step_ms: int | None = None,
    funding_interval_ms: int | None = None,
    balances: Mapping[str, Decimal] | None = None,
    futures_balances: Mapping[str, Decimal] | None = None,
) -> SimConfig:
    """``config`` (default: :func:`default_config`) with the given overrides;
    ``symbols`` are canonical (``BTCUSDT``: both ``BTC-USDT`` and ``BTC-USDT-SWAP``).
    ValueError names a bad value."""
    cfg = config or default_config()
    changes: dict[str, object] = {}
    if seed is not None:
        changes["seed"] = seed
    if symbols:
        wanted = [s.upper() for s in symbols]
        known = {s.symbol for s in cfg.symbols}
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise ValueError(f"unknown symbol(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        changes["symbols"] = tuple(s for s in cfg.symbols if s.symbol in wanted)
    if step_ms is not None:
        if step_ms <= 0:
            raise ValueError(f"step interval must be positive, got {step_ms} ms")
        changes["step_interval_ms"] = step_ms
    if funding_interval_ms is not None:
        if funding_interval_ms <= 0:
            raise ValueError(f"funding interval must be positive, got {funding_interval_ms} ms")
        changes["funding_interval_ms"] = funding_interval_ms
    if balances is not None:
        changes["starting_balances"] = dict(balances)
    if futures_balances is not None:
        changes["futures_starting_balance"] = dict(futures_balances)
    return msgspec.structs.replace(cfg, **changes) if changes else cfg


class OkxSim:
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
        seed: int | None = None,
        config: SimConfig | None = None,
        options: OkxSimOptions | None = None,
        clock: SimClock | None = None,
        faults: FaultRequest | None = None,
        symbols: Sequence[str] | None = None,
        step_ms: int | None = None,
        funding_interval_ms: int | None = None,
        balances: Mapping[str, Decimal] | None = None,
        futures_balances: Mapping[str, Decimal] | None = None,
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self.host = host
        self.port = port
        self.options = options or OkxSimOptions()
        self.config = build_config(
            config,
            seed=seed,
            symbols=symbols,
            step_ms=step_ms,
            funding_interval_ms=funding_interval_ms,
            balances=balances,
            futures_balances=futures_balances,
        )
        self.faults = Faults()
        if faults is not None:
            self.faults.arm(faults)
        self.venue = SimVenue(self.config, clock=clock)
        self.dialect = OkxDialect(self.venue, self.options, self.faults)
        self.urls = OkxUrls.sim(port, host=_client_host(host))
        self._server: SimServer | None = None

    @property
    def api_key(self) -> str:
        return self.options.api_key

    @property
    def api_secret(self) -> str:
        return self.options.api_secret

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

    async def start(self) -> None:
        if self._server is not None:
            return
        server = SimServer(
            host=self.host,
            apps=[(self.port, self.dialect.app())],
            step=self.venue.step,
            step_interval_ms=self.config.step_interval_ms,
            periodic=self.dialect.periodic(),
        )
        self.dialect.stopping = server.stopping
        self.dialect.rest.stopping = server.stopping
        await server.start()
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        self.dialect.close()

    async def __aenter__(self) -> OkxSim:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def steps(self) -> int:
        return self._server.steps if self._server is not None else 0

    @classmethod
    def in_thread(cls, **kwargs: object) -> ThreadedOkxSim:
        """Start a sim on a background loop (same keyword arguments as the constructor)."""
        return ThreadedOkxSim(**kwargs)


class ThreadedOkxSim:
    """An :class:`OkxSim` on its own event loop thread, for synchronous tests::

    with OkxSim.in_thread(port=N, seed=1) as sim:
        requests.get(sim.urls.rest + "/api/v5/public/time")
        sim.call(lambda s: s.venue.move_index("BTC", 1.0))
    """

    def __init__(self, **kwargs: object) -> None:
        self._loop = BackgroundLoop("okx-sim")
        try:
            self.sim: OkxSim = self._loop.call(lambda: OkxSim(**kwargs))  # type: ignore[arg-type]
            self._loop.run(self.sim.start())
        except BaseException:
            self._loop.close()
            raise

    @property
    def urls(self) -> OkxUrls:
        return self.sim.urls

    @property
    def faults(self) -> Faults:
        return self.sim.faults

    @property
    def api_key(self) -> str:
        return self.sim.api_key

    @property
    def api_secret(self) -> str:
        return self.sim.api_secret

    @property
    def passphrase(self) -> str:
        return self.sim.passphrase

    def call(self, fn: Callable[[OkxSim], T]) -> T:
        """Run ``fn(sim)`` on the simulator's thread (engine state is owned by that loop)."""
        return self._loop.call(lambda: fn(self.sim))

    def stop(self) -> None:
        try:
            self._loop.run(self.sim.stop())
        finally:
            self._loop.close()

    def __enter__(self) -> ThreadedOkxSim:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _client_host(host: str) -> str:
    """Where a local client connects when the server binds a wildcard address."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
