"""Serve a simulated venue: aiohttp apps on ports, the engine step loop, periodic jobs.

Venue-neutral. A dialect (e.g. ``exchanges.binance.sim``) builds one ``web.Application`` per
host and hands them here with the engine's ``step`` and its own periodic jobs; every
background task is owned by one ``asyncio.TaskGroup`` and stopped with a timeout.

:class:`BackgroundLoop` runs any such server in a thread for synchronous tests and notebooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

__all__ = ["PortInUse", "Periodic", "SimServer", "BackgroundLoop", "run_job"]

_log = logging.getLogger("exchanges.sim.server")
T = TypeVar("T")


class PortInUse(OSError):
    """A port the simulator must listen on is taken."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} on {host} is already in use")
        self.host = host
        self.port = port


@dataclass(frozen=True, slots=True)
class Periodic:
    """``fn`` called every ``interval_s`` on the server's loop (exceptions are logged, counted)."""

    name: str
    interval_s: float
    fn: Callable[[], None]


class SimServer:
    """One listener per (port, app) on ``host``, plus the step loop and periodic jobs.

    With ``ssl_context`` every listener speaks TLS (HTTPS and WSS on the same ports)."""

    def __init__(
        self,
        *,
        host: str,
        apps: list[tuple[int, web.Application]],
        step: Callable[[], None],
        step_interval_ms: int,
        periodic: list[Periodic] | None = None,
        shutdown_timeout_s: float = 2.0,
        ssl_context: ssl.SSLContext | None = None,
        step_loop: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.host = host
        self._step_loop = step_loop  # runs instead of the step timer (a replay's pacer)
        self._ssl_context = ssl_context
        self._apps = apps
        self._step = step
        self._step_interval_s = step_interval_ms / 1000
        self._periodic = list(periodic or [])
        self._shutdown_timeout_s = shutdown_timeout_s
        self._runners: list[web.AppRunner] = []
        self._task: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()
        self.steps = 0
        self.job_errors: dict[str, int] = {}

    async def start(self) -> None:
        try:
            for port, app in self._apps:
                runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._shutdown_timeout_s)
                await runner.setup()
                self._runners.append(runner)
                site = web.TCPSite(runner, self.host, port, reuse_address=True, ssl_context=self._ssl_context)
                try:
                    await site.start()
                except OSError as exc:
                    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                        raise PortInUse(self.host, port) from exc
                    raise
        except BaseException:
            await self._cleanup_runners()
            raise
        self._task = asyncio.create_task(self._run(), name="sim-server")

    async def stop(self) -> None:
        self.stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(self._shutdown_timeout_s):  # not wait_for (strategy_client/aio.py)
                    await self._task
            self._task = None
        await self._cleanup_runners()

    async def _cleanup_runners(self) -> None:
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            try:
                await runner.cleanup()
            except Exception:  # noqa: BLE001 - stopping: every listener gets its cleanup
                _log.exception("error while stopping a listener")

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self._step_loop is not None:
                tg.create_task(self._step_loop(), name="sim-step")
            else:
                tg.create_task(self._every("step", self._step_interval_s, self._do_step), name="sim-step")
            for job in self._periodic:
                tg.create_task(self._every(job.name, job.interval_s, job.fn), name=f"sim-{job.name}")

    def _do_step(self) -> None:
        self._step()
        self.steps += 1

    async def _every(self, name: str, interval_s: float, fn: Callable[[], None]) -> None:
        next_at = time.monotonic()
        while True:
            next_at += interval_s
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind: do not burst to catch up
                next_at = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)
            run_job(name, fn, self.job_errors)


def run_job(name: str, fn: Callable[[], None], errors: dict[str, int]) -> None:
    """Call a periodic job; a failure is counted in ``errors[name]`` and logged once."""
    try:
        fn()
    except Exception:  # noqa: BLE001 - a periodic job's failure is counted, the server runs on
        count = errors.get(name, 0) + 1
        errors[name] = count
        if count == 1:
            _log.exception("periodic job %s failed (logged once)", name)


class BackgroundLoop:
    """An event loop in a daemon thread: run coroutines on it from synchronous code."""

    def __init__(self, name: str = "sim-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        self._loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def call(self, fn: Callable[[], T], timeout: float | None = 30.0) -> T:
        """Call ``fn`` on the loop's thread (for state owned by the loop, e.g. the engine)."""

        async def _call() -> T:
            return fn()

        return self.run(_call(), timeout)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
