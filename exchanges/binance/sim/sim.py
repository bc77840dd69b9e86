"""The offline Binance venue, in process: ``async with BinanceSim(port_base=N) as sim: ...``.

Spot (REST, streams, WS-API) listens on ``port_base``, USD-M futures on ``port_base + 1``,
both on ``host``; ``sim.urls`` gives every base URL a client needs. For synchronous code,
:meth:`BinanceSim.in_thread` runs the same server on a background event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import TypeVar

import msgspec

from exchanges.binance.urls import BinanceUrls
from exchanges.sim.engine import DEFAULT_SYMBOLS, SimClock, SimConfig, SimVenue
from exchanges.sim.faults import FaultRequest, Faults
from exchanges.sim.server import BackgroundLoop, SimServer

from .dialect import BinanceDialect
from .options import BinanceSimOptions

__all__ = ["BinanceSim", "ThreadedBinanceSim", "build_config"]

T = TypeVar("T")


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
    """``config`` (default ``SimConfig()``) with the given overrides; ValueError names a bad one."""
    cfg = config or SimConfig()
    changes: dict[str, object] = {}
    if seed is not None:
        changes["seed"] = seed
    if symbols:
        wanted = [s.upper() for s in symbols]
        known = {s.symbol for s in cfg.symbols} or {s.symbol for s in DEFAULT_SYMBOLS}
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


class BinanceSim:
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
        seed: int | None = None,
        config: SimConfig | None = None,
        options: BinanceSimOptions | None = None,
        clock: SimClock | None = None,
        faults: FaultRequest | None = None,
        symbols: Sequence[str] | None = None,
        step_ms: int | None = None,
        funding_interval_ms: int | None = None,
        balances: Mapping[str, Decimal] | None = None,
        futures_balances: Mapping[str, Decimal] | None = None,
    ) -> None:
        if not 0 < port_base < 65535:
            raise ValueError(f"port_base must be in 1..65534 (two ports are used), got {port_base}")
        self.host = host
        self.port_base = port_base
        self.options = options or BinanceSimOptions()
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
        self.dialect = BinanceDialect(self.venue, self.options, self.faults, self.config.seed)
        self.urls = BinanceUrls.sim(port_base, host=_client_host(host))
        self._server: SimServer | None = None

    @property
    def api_key(self) -> str:
        return self.options.api_key

    @property
    def api_secret(self) -> str:
        return self.options.api_secret

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

    async def start(self) -> None:
        if self._server is not None:
            return
        server = SimServer(
            host=self.host,
            apps=[
                (self.spot_port, self.dialect.app("spot")),
                (self.futures_port, self.dialect.app("futures")),
            ],
            step=self.venue.step,
            step_interval_ms=self.config.step_interval_ms,
            periodic=self.dialect.periodic(),
        )
        self.dialect.stopping = server.stopping
        for rest in self.dialect.rest.values():
            rest.stopping = server.stopping
        await server.start()
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        self.dialect.close()

    async def __aenter__(self) -> BinanceSim:
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
    def in_thread(cls, **kwargs: object) -> ThreadedBinanceSim:
        """Start a sim on a background loop (same keyword arguments as the constructor)."""
        return ThreadedBinanceSim(**kwargs)


class ThreadedBinanceSim:
    """A :class:`BinanceSim` on its own event loop thread, for synchronous tests::

    with BinanceSim.in_thread(port_base=N, seed=1) as sim:
        requests.get(sim.urls.spot_rest + "/api/v3/time")
        sim.call(lambda s: s.venue.move_index("BTC", 1.0))
    """

    def __init__(self, **kwargs: object) -> None:
        self._loop = BackgroundLoop("binance-sim")
        try:
            self.sim: BinanceSim = self._loop.call(lambda: BinanceSim(**kwargs))  # type: ignore[arg-type]
            self._loop.run(self.sim.start())
        except BaseException:
            self._loop.close()
            raise

    @property
    def urls(self) -> BinanceUrls:
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

    def call(self, fn: Callable[[BinanceSim], T]) -> T:
        """Run ``fn(sim)`` on the simulator's thread (engine state is owned by that loop)."""
        return self._loop.call(lambda: fn(self.sim))

    def stop(self) -> None:
        try:
            self._loop.run(self.sim.stop())
        finally:
            self._loop.close()

    def __enter__(self) -> ThreadedBinanceSim:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _client_host(host: str) -> str:
    """Where a local client connects when the server binds a wildcard address."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
