"""A local HTTP receiver for alert tests: a real aiohttp server on a free loopback port, in a
thread of its own, recording every POST (path and JSON body) and answering a set status."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Posted:
    path: str
    body: dict[str, Any]


@dataclass
class Receiver:
    status: int = 200
    posts: list[Posted] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.posts.append(Posted(request.path, await request.json()))
        return web.json_response({"ok": self.status < 400}, status=self.status)

    def start(self) -> Receiver:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="alert-receiver", daemon=True)
        self._thread.start()
        assert ready.wait(10), "receiver did not start"
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def texts(self) -> list[str]:
        return [str(p.body.get("text", p.body.get("content", ""))) for p in list(self.posts)]

    def wait_for(self, needle: str, timeout: float = 30.0) -> Posted:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for post in list(self.posts):
                if needle in str(post.body.get("text", "")):
                    return post
            time.sleep(0.05)
        raise AssertionError(f"no alert with {needle!r} in {timeout}s: {self.texts()}")
