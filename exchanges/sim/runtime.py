"""What every in-process venue shares, whatever protocol it speaks.

:class:`SimHost` holds one engine (``venue``), the fault switchboard (``faults``) and a dialect,
and serves the dialect's apps on real ports: ``start``/``stop``, ``async with``, ``steps``.
:class:`ThreadedSim` runs such a host on a background event loop for synchronous code.
``BinanceSim``, ``BybitSim`` and ``OkxSim`` specialise them with their ports, URLs and dialect.
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from aiohttp import web

from exchanges.sim.engine import SimClock, SimConfig, SimVenue
from exchanges.sim.faults import FaultRequest, Faults
from exchanges.sim.recording import Recording
from exchanges.sim.replay import ReplayClock, ReplayMarket, ReplayPacer, replay_routes
from exchanges.sim.server import BackgroundLoop, Periodic, SimServer
from exchanges.sim.tls import TlsFiles

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["HostedDialect", "SimCredentials", "Stoppable", "SimHost", "ThreadedSim", "client_host", "scheme_urls"]

T = TypeVar("T")
UrlsT = TypeVar("UrlsT", bound="DataclassInstance")


class Stoppable(Protocol):
    """Something that waits on the server's ``stopping`` event (e.g. a REST host's fault delay)."""

    stopping: asyncio.Event


class HostedDialect(Stoppable, Protocol):
    """What :class:`SimHost` needs of a venue dialect besides its apps."""

    def periodic(self) -> list[Periodic]: ...

    def close(self) -> None: ...


class SimCredentials(Protocol):
    """The test account's credentials, as every venue's options carry them."""

    @property
    def api_key(self) -> str: ...

    @property
    def api_secret(self) -> str: ...


DialectT = TypeVar("DialectT", bound=HostedDialect)
OptionsT = TypeVar("OptionsT", bound=SimCredentials)
SimT = TypeVar("SimT", bound="SimHost[Any, Any]")


class SimHost(ABC, Generic[DialectT, OptionsT]):
    """One engine and a dialect's apps on real ports.

    ``venue`` is the engine (call it from the server's event loop), ``faults`` the fault
    switchboard (safe from any thread). A venue builds its ``dialect`` after this constructor
    and says what it serves (:meth:`endpoints`), which apps listen where (:meth:`_apps`) and
    which REST hosts stop with the server (:meth:`_rest_hosts`).
    """

    dialect: DialectT

    def __init__(
        self,
        *,
        host: str,
        options: OptionsT,
        config: SimConfig,
        clock: SimClock | None,
        faults: FaultRequest | None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.host = host
        self.options = options
        self.config = config
        self.tls = tls
        self.faults = Faults()
        if faults is not None:
            self.faults.arm(faults)
        self.venue = SimVenue(config, clock=clock)
        self.replay: ReplayPacer | None = None
        self._server: SimServer | None = None

    @abstractmethod
    def endpoints(self) -> dict[str, str]:
        """Every URL served, for printing (name → URL)."""

    @abstractmethod
    def _apps(self) -> list[tuple[int, web.Application]]:
        """(port, app) for each listener."""

    @abstractmethod
    def _rest_hosts(self) -> Iterable[Stoppable]:
        """The REST hosts whose waits end when the server stops."""

    @property
    def api_key(self) -> str:
        return self.options.api_key

    @property
    def api_secret(self) -> str:
        return self.options.api_secret

    def use_tls(self, tls: TlsFiles | None) -> None:
        """Serve HTTPS/WSS with ``tls`` (None: plain) from the next :meth:`start` on; the
        venue's ``urls`` and :meth:`endpoints` follow."""
        if self._server is not None:
            raise RuntimeError("use_tls before start")
        self.tls = tls

    def use_replay(self, recording: Recording, *, speed: float | None, hold: bool = False) -> ReplayPacer:
        """Serve ``recording`` as the market from the next :meth:`start` on (exchanges/sim/replay.py):
        ``speed`` × real time, None = as fast as the consumer keeps up; ``hold``: step only when granted."""
        if self._server is not None:
            raise RuntimeError("use_replay before start")
        clock = ReplayClock(recording.start_ms)
        market = self.venue.use_market(lambda core, now: ReplayMarket(core, now, recording), clock)
        self.replay = ReplayPacer(self.venue, clock, market, step_ms=self.config.step_interval_ms, speed=speed)
        self.replay.hold = hold
        return self.replay

    async def start(self) -> None:
        if self._server is not None:
            return
        apps = self._apps()
        periodic = self.dialect.periodic()
        if self.replay is not None:
            for _, app in apps:
                replay_routes(app, self.replay)
            self.replay.add_jobs(periodic)  # stream pushes and sweeps in recorded time
            periodic = []
        server = SimServer(
            host=self.host,
            apps=apps,
            step=self.venue.step,
            step_interval_ms=self.config.step_interval_ms,
            periodic=periodic,
            ssl_context=self.tls.server_context() if self.tls is not None else None,
            step_loop=self.replay.run if self.replay is not None else None,
        )
        self.dialect.stopping = server.stopping
        for rest in self._rest_hosts():
            rest.stopping = server.stopping
        await server.start()
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        self.dialect.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def steps(self) -> int:
        if self.replay is not None:
            return self.replay.steps
        return self._server.steps if self._server is not None else 0


class ThreadedSim(Generic[SimT]):
    """A :class:`SimHost` built and started on its own event loop thread, for synchronous code.

    ``make`` builds the host (it runs on that thread); ``call`` runs a function of it there.
    """

    def __init__(self, make: Callable[[], SimT], *, thread_name: str) -> None:
        self._loop = BackgroundLoop(thread_name)
        try:
            self.sim: SimT = self._loop.call(make)
            self._loop.run(self.sim.start())
        except BaseException:
            self._loop.close()
            raise

    @property
    def faults(self) -> Faults:
        return self.sim.faults

    @property
    def api_key(self) -> str:
        return self.sim.api_key

    @property
    def api_secret(self) -> str:
        return self.sim.api_secret

    def call(self, fn: Callable[[SimT], T]) -> T:
        """Run ``fn(sim)`` on the simulator's thread (engine state is owned by that loop)."""
        return self._loop.call(lambda: fn(self.sim))

    def stop(self) -> None:
        try:
            self._loop.run(self.sim.stop())
        finally:
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def scheme_urls(urls: UrlsT, tls: bool) -> UrlsT:
    """``urls`` (a dataclass of URL strings) with ``http``/``ws`` made ``https``/``wss`` when ``tls``."""
    if not tls:
        return urls
    secure = {"http://": "https://", "ws://": "wss://"}
    changes: dict[str, str] = {}
    for field in dataclasses.fields(urls):
        value = getattr(urls, field.name)
        for plain, tls_scheme in secure.items():
            if isinstance(value, str) and value.startswith(plain):
                changes[field.name] = tls_scheme + value[len(plain) :]
    return dataclasses.replace(urls, **changes)


def client_host(host: str) -> str:
    """Where a local client connects when the server binds a wildcard address."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
