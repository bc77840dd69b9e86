"""Subscription: events from several runners merged into one stream.

One :class:`ZmqEventSubscriber` per matching runner, all feeding one :class:`EventQueue`; the
router keeps it current — a runner that registers later is subscribed to, a restarted one
(new ports) is followed. Iterate it (``async for item in sub``) or :meth:`get` with a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

from .core_api import CoreApi
from .endpoints import Transport, pub_endpoint
from .events import EventFilter, EventItem, EventQueue
from .model import Exchange
from .subscriber import ZmqEventSubscriber
from .wire import RunnerRecord

if TYPE_CHECKING:
    from .security import CurveClient

__all__ = ["Subscription"]


class Subscription:
    def __init__(
        self,
        *,
        filter: EventFilter,
        api_for: Callable[[str], CoreApi],
        exchanges: frozenset[Exchange] | None = None,
        runners: frozenset[str] | None = None,
        snapshot: bool = True,
        queue_size: int = 10_000,
        context: zmq.Context[Any] | None = None,
        connect_timeout_s: float = 2.0,
        resync_timeout_s: float = 3.0,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> None:
        self.filter = filter
        self.exchanges = exchanges
        self.runner_names = runners
        self.snapshot = snapshot
        self.sink = EventQueue(queue_size)
        self.subscribers: dict[str, ZmqEventSubscriber] = {}
        self._api_for = api_for
        self._ctx = context
        self._connect_timeout_s = connect_timeout_s
        self._resync_timeout_s = resync_timeout_s
        self._on_close = on_close
        self._closed = False
        self.curve_for: Callable[[RunnerRecord], CurveClient | None] | None = None  # set by the router
        self.transport: Transport = "auto"  # set by the router (strategy_client/endpoints.py)

    def wants(self, rec: RunnerRecord) -> bool:
        if self.runner_names is not None and rec.name not in self.runner_names:
            return False
        if self.exchanges is not None and rec.exchange not in self.exchanges:
            return False
        wanted = self.filter.exchanges()
        return wanted is None or rec.exchange in wanted

    def on_record(self, rec: RunnerRecord) -> None:
        """A runner appeared or moved: subscribe to it, or follow it to its new endpoint."""
        if self._closed or not self.wants(rec):
            return
        sub = self.subscribers.get(rec.name)
        curve = self.curve_for(rec) if self.curve_for is not None else None
        endpoint = pub_endpoint(rec, self.transport)
        if sub is not None:
            sub.retarget(endpoint, curve)
            return
        sub = ZmqEventSubscriber(
            endpoint,
            runner=rec.name,
            exchange=rec.exchange,
            filter=self.filter,
            api=self._api_for(rec.name),
            sink=self.sink,
            snapshot=self.snapshot,
            context=self._ctx,
            connect_timeout_s=self._connect_timeout_s,
            resync_timeout_s=self._resync_timeout_s,
            curve=curve,
        )
        self.subscribers[rec.name] = sub
        sub.open()

    async def wait_ready(self, timeout_s: float | None = None) -> bool:
        """True once every current subscriber is connected and its initial snapshot queued."""
        subs = list(self.subscribers.values())
        if not subs:
            return True
        results = await asyncio.gather(*(s.wait_ready(timeout_s) for s in subs))
        return all(results)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        subs, self.subscribers = list(self.subscribers.values()), {}
        await asyncio.gather(*(s.close() for s in subs))
        self.sink.close()
        if self._on_close is not None:
            self._on_close(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> EventItem:
        item = await self.sink.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def get(self, timeout_s: float | None = None) -> EventItem | None:
        """The next item, or ``None`` after ``timeout_s`` (or once closed and drained)."""
        return await self.sink.get(timeout_s)

    def get_nowait(self) -> EventItem | None:
        return self.sink.get_nowait()

    def stats(self) -> dict[str, int]:
        out = {"queued": self.sink.depth, "dropped": self.sink.dropped, "runners": len(self.subscribers)}
        for name in ("received", "gaps", "resets", "stale", "snapshots", "resync_failures", "bad_frames"):
            out[name] = sum(getattr(s, name) for s in self.subscribers.values())
        return out
