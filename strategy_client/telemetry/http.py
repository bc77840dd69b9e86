"""One small HTTP server per process: ``/metrics`` (Prometheus), ``/healthz``, ``/readyz``.

* ``GET /metrics`` — the process's :class:`prometheus_client.CollectorRegistry` in the text
  exposition format (OpenMetrics when the scraper asks for it).
* ``GET /healthz`` — 200 ``{"status": "alive"}`` while the event loop runs (that it answers at
  all is the check).
* ``GET /readyz`` — 200 when every readiness check passes, else 503; the body names the checks
  and lists what is not ready (``{"ready": false, "checks": {...}, "not_ready": [...], ...}``).

aiohttp serves it on the process's own event loop, so a scrape sees the state between two
event-loop steps (consistent, no locks). The port is bound in :meth:`MetricsServer.start`; a
taken port raises ``OSError`` there, before the process reports itself started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client import CollectorRegistry

__all__ = ["MetricsServer", "ReadinessReport", "ReadinessFn"]


class ReadinessReport(msgspec.Struct, frozen=True, kw_only=True):
    """``checks``: name → passed; ``detail``: anything that helps explain (streams, status...)."""

    checks: dict[str, bool]
    detail: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(self.checks.values())

    def body(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checks": self.checks,
            "not_ready": sorted(k for k, ok in self.checks.items() if not ok),
            **self.detail,
        }


ReadinessFn = Callable[[], ReadinessReport]
_json = msgspec.json.Encoder(enc_hook=str)


class MetricsServer:
    """Serves the three routes for ``registry`` and ``readiness`` on ``host:port``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        readiness: ReadinessFn,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        alive: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.registry = registry
        self.readiness = readiness
        self.host = host
        self.port = port
        self._alive = alive
        self._runner: web.AppRunner | None = None
        self.scrapes = 0

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "*") else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        addresses = runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> MetricsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- routes ------------------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        from aiohttp import web
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        self.scrapes += 1
        body = encoder(self.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        body: dict[str, Any] = {"status": "alive"}
        if self._alive is not None:
            body.update(self._alive())
        return web.Response(body=_json.encode(body), content_type="application/json")

    async def _readyz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        report = self.readiness()
        return web.Response(
            body=_json.encode(report.body()), status=200 if report.ready else 503, content_type="application/json"
        )
