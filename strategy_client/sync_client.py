"""The synchronous facade for scripts and notebooks: ``strategy_client.connect()``.

A private event loop runs in a daemon thread; every method submits its coroutine there
(``asyncio.run_coroutine_threadsafe``) and waits for the result. That works the same from a
plain script and from Jupyter, whose own loop is already running in the caller's thread (no
``nest_asyncio``, no ``await`` needed). The methods are the CoreApi's, with the same names and
arguments, plus helpers for research:

* :meth:`Client.recent_events` — what the client has recorded since it connected (on by default:
  a ring buffer for market data and one for orders, positions, account and notices, so books
  never push fills out);
* :meth:`Client.order_events` — one order's events, waiting for the one that ends it;
* :meth:`Client.events` — wait for the next ``n`` matching events;
* :meth:`Client.subscribe` — a blocking iterator of events;
* ``.records()`` on any returned list — flat dicts for ``pandas.DataFrame`` (see
  :mod:`strategy_client.records` for the columns and the Decimal policy).

For asyncio code use :class:`~strategy_client.router.ZmqRouter` directly instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
import weakref
from collections import deque
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .aio import within
from .api_calls import CoreApiCalls
from .coerce import ExchangeLike, KeyLike, as_exchange
from .errors import CoreApiError, RequestTimeout, RunnerUnavailable
from .events import EventFilter, EventItem, KindLike, Received
from .model import (
    AccountSnapshot,
    FundingRate,
    Instrument,
    MarketKind,
    Order,
    OrderRequest,
    Position,
    TradingState,
)
from .records import EventList
from .router import ZmqRouter
from .security import ClientSecurity, redact_url
from .subscription import Subscription
from .wire import (
    BookSnapshotReply,
    OrderEvent,
    Pong,
    PriceSource,
    Query,
    ReferencePrice,
    RunnerRecord,
    TopicKind,
    TradingStateReply,
)
from .wire.risk import RiskStatus

__all__ = ["connect", "Client", "SyncApi", "SyncSubscription", "LoopThread"]

T = TypeVar("T")

_MARKET = (TopicKind.BOOK, TopicKind.FUNDING)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # noqa: PLC0415 - not on every platform
    except ImportError:  # pragma: no cover - uvloop is a dependency where it exists
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


MAIN_THREAD_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)


class LoopThread:
    """An event loop of our own in a daemon thread (it blocks :data:`MAIN_THREAD_SIGNALS`: they
    reach the caller's thread)."""

    def __init__(self, name: str = "strategy-client") -> None:
        self.loop = _new_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Ctrl-C and SIGTERM are the main thread's: a process-directed signal the kernel hands
            # to this thread would set Python's flag without waking the main thread out of a
            # blocking read (the manual REPL's prompt then ignores Ctrl-C until the next key)
            signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None) -> T:
        """Run ``coro`` on the loop and wait for it (at most ``timeout_s``)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("the synchronous client was called from its own event loop; use the async API there")
        if not self.alive:
            coro.close()
            raise RunnerUnavailable("this client is closed")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout_s)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise RequestTimeout(f"no result within {timeout_s:.1f}s") from None
        except BaseException:  # KeyboardInterrupt in a notebook: do not leave the call running
            fut.cancel()
            raise

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread.is_alive() and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout_s)


class SyncApi:
    """Blocking CoreApi over an async one living in a :class:`LoopThread`."""

    def __init__(self, thread: LoopThread, api: CoreApiCalls, *, default_timeout_s: float = 10.0) -> None:
        self._thread = thread
        self._api = api
        self.default_timeout_s = default_timeout_s

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None) -> T:
        # the call has its own timeout; this one only guards against a stuck loop
        return self._thread.run(coro, (self.default_timeout_s if timeout_s is None else timeout_s) + 5.0)

    def request(
        self, request: Query[T], route: ExchangeLike | KeyLike | None = None, *, timeout_s: float | None = None
    ) -> T:
        """Any command of the wire registry, answered with its declared reply (see
        :meth:`~strategy_client.api_calls.CoreApiCalls.request`)."""
        return self._run(self._api.request(request, route, timeout_s=timeout_s), timeout_s)

    def submit_order(self, order: OrderRequest, *, timeout_s: float | None = None) -> Order:
        return self._run(self._api.submit_order(order, timeout_s=timeout_s), timeout_s)

    def get_position(self, key: KeyLike, *, timeout_s: float | None = None) -> Position | None:
        return self._run(self._api.get_position(key, timeout_s=timeout_s), timeout_s)

    def get_instrument(self, key: KeyLike, *, timeout_s: float | None = None) -> Instrument:
        return self._run(self._api.get_instrument(key, timeout_s=timeout_s), timeout_s)

    def get_reference_price(
        self, key: KeyLike, source: PriceSource | str = PriceSource.MID, *, timeout_s: float | None = None
    ) -> ReferencePrice:
        return self._run(self._api.get_reference_price(key, source, timeout_s=timeout_s), timeout_s)

    def get_funding_rate(self, key: KeyLike, *, timeout_s: float | None = None) -> FundingRate:
        return self._run(self._api.get_funding_rate(key, timeout_s=timeout_s), timeout_s)

    def set_leverage(self, key: KeyLike, leverage: int, *, timeout_s: float | None = None) -> int:
        return self._run(self._api.set_leverage(key, leverage, timeout_s=timeout_s), timeout_s)

    def get_order(
        self, key: KeyLike, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order:
        return self._run(
            self._api.get_order(key, client_id=client_id, venue_id=venue_id, timeout_s=timeout_s), timeout_s
        )

    def cancel_order(
        self,
        key: KeyLike | Order,
        *,
        client_id: str = "",
        venue_id: str = "",
        timeout_s: float | None = None,
    ) -> Order:
        return self._run(
            self._api.cancel_order(key, client_id=client_id, venue_id=venue_id, timeout_s=timeout_s), timeout_s
        )

    def get_open_orders(
        self,
        target: ExchangeLike | KeyLike,
        *,
        kind: MarketKind | str | None = None,
        timeout_s: float | None = None,
    ) -> tuple[Order, ...]:
        return self._run(self._api.get_open_orders(target, kind=kind, timeout_s=timeout_s), timeout_s)

    def get_all_positions(self, exchange: ExchangeLike, *, timeout_s: float | None = None) -> tuple[Position, ...]:
        return self._run(self._api.get_all_positions(exchange, timeout_s=timeout_s), timeout_s)

    def get_account_snapshot(self, exchange: ExchangeLike, *, timeout_s: float | None = None) -> AccountSnapshot:
        return self._run(self._api.get_account_snapshot(exchange, timeout_s=timeout_s), timeout_s)

    def get_all_instruments(
        self, exchange: ExchangeLike, *, kind: MarketKind | str | None = None, timeout_s: float | None = None
    ) -> tuple[Instrument, ...]:
        return self._run(self._api.get_all_instruments(exchange, kind=kind, timeout_s=timeout_s), timeout_s)

    def get_book_snapshot(
        self, target: ExchangeLike | KeyLike | Sequence[KeyLike], *, timeout_s: float | None = None
    ) -> BookSnapshotReply:
        return self._run(self._api.get_book_snapshot(target, timeout_s=timeout_s), timeout_s)

    # -- the runner's risk gate (docs/risk.md) --------------------------------------------
    def get_risk_status(self, exchange: ExchangeLike, *, timeout_s: float | None = None) -> RiskStatus:
        return self._run(self._api.get_risk_status(exchange, timeout_s=timeout_s), timeout_s)

    def set_trading_state(
        self,
        exchange: ExchangeLike,
        state: TradingState | str,
        *,
        reason: str = "",
        force: bool = False,
        timeout_s: float | None = None,
    ) -> TradingStateReply:
        return self._run(
            self._api.set_trading_state(exchange, state, reason=reason, force=force, timeout_s=timeout_s), timeout_s
        )

    def set_risk_limit(
        self,
        exchange: ExchangeLike,
        field: str,
        value: str = "",
        *,
        instrument: str = "",
        timeout_s: float | None = None,
    ) -> RiskStatus:
        return self._run(
            self._api.set_risk_limit(exchange, field, value, instrument=instrument, timeout_s=timeout_s), timeout_s
        )


class SyncSubscription:
    """A blocking view of a :class:`Subscription`: iterate it, or :meth:`get`/:meth:`take`."""

    def __init__(self, thread: LoopThread, sub: Subscription) -> None:
        self._thread = thread
        self._sub = sub

    def get(self, timeout_s: float | None = 5.0) -> EventItem | None:
        """The next item, or ``None`` after ``timeout_s``."""
        guard = None if timeout_s is None else timeout_s + 5.0
        return self._thread.run(self._sub.get(timeout_s), guard)

    def take(self, n: int = 10, timeout_s: float = 5.0, *, events_only: bool = True) -> EventList:
        """Up to ``n`` items within ``timeout_s`` (fewer if the time runs out)."""
        return self._thread.run(_take(self._sub, n, timeout_s, events_only), timeout_s + 5.0)

    def __iter__(self) -> Iterator[EventItem]:
        while True:
            item = self._thread.run(self._sub.get(None), None)
            if item is None:
                return
            yield item

    def stats(self) -> dict[str, int]:
        return self._sub.stats()

    def close(self) -> None:
        if self._thread.alive:
            self._thread.run(self._sub.close(), 10.0)

    def __enter__(self) -> SyncSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _take(sub: Subscription, n: int, timeout_s: float, events_only: bool) -> EventList:
    out = EventList()
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(out) < n:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            break
        item = await sub.get(remaining)
        if item is None:
            break
        if events_only and not isinstance(item, Received):
            continue
        out.append(item)
    return out


class _Recorder:
    """Keeps the latest events of a subscription (runs on the client's loop)."""

    def __init__(self, sub: Subscription, maxlen: int) -> None:
        self.sub = sub
        self.market: deque[EventItem] = deque(maxlen=maxlen)
        self.other: deque[EventItem] = deque(maxlen=maxlen)
        self._appended = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(), name="client.recorder")

    async def _run(self) -> None:
        async for item in self.sub:
            if isinstance(item, Received) and item.kind in _MARKET:
                self.market.append(item)
            else:
                self.other.append(item)
                self._appended.set()
                self._appended = asyncio.Event()

    async def order_events(self, client_id: str, final: bool, timeout_s: float) -> EventList:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            appended = self._appended
            found = EventList(
                i
                for i in self.other
                if isinstance(i, Received) and isinstance(i.event, OrderEvent) and i.event.order.client_id == client_id
            )
            done = any(
                isinstance(i, Received) and isinstance(i.event, OrderEvent) and i.event.order.is_final for i in found
            )
            remaining = deadline - loop.time()
            if done or not final or remaining <= 0:
                return found
            try:
                await within(appended.wait(), remaining)
            except TimeoutError:
                pass

    async def recent(self, flt: EventFilter, event: str | None, n: int | None, notices: bool) -> EventList:
        items: list[EventItem] = []
        for item in (*self.market, *self.other):
            if isinstance(item, Received):
                if not flt.wants(item.kind, item.key):
                    continue
                if event is not None and item.event.__struct_config__.tag != event:
                    continue
            elif not notices:
                continue
            items.append(item)
        items.sort(key=_when)
        return EventList(items[-n:] if n else items)

    async def close(self) -> None:
        await self.sub.close()
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def _when(item: EventItem) -> int:
    return item.recv_ns if isinstance(item, Received) else item.ts_ns


class Client(SyncApi):
    """What :func:`connect` returns: the CoreApi routed over every runner, blocking."""

    def __init__(self, thread: LoopThread, router: ZmqRouter, recorder: _Recorder | None) -> None:
        super().__init__(thread, router, default_timeout_s=router.default_timeout_s)
        self.router = router
        self._recorder = recorder
        self._finalizer = weakref.finalize(self, thread.stop)

    # -- runners --------------------------------------------------------------------------
    def runners(self) -> dict[str, RunnerRecord]:
        """The runners registered now, by name."""
        return self.router.runners()

    def runner(self, name: str) -> SyncApi:
        """The CoreApi of one runner by name (when one exchange has several runners)."""
        return SyncApi(self._thread, self.router.runner(name), default_timeout_s=self.default_timeout_s)

    def bind(self, exchange: ExchangeLike, runner: str) -> None:
        """Route calls for ``exchange`` to the runner named ``runner``."""
        ex = as_exchange(exchange)  # a bad name raises here, in the caller's thread
        self._thread.loop.call_soon_threadsafe(self.router.bind, ex, runner)  # ordered before later calls

    def ping(self, target: str | ExchangeLike, *, timeout_s: float | None = None) -> Pong:
        return self._run(self.router.ping(target, timeout_s=timeout_s), timeout_s)

    def wait_for(self, target: str | ExchangeLike, *, timeout_s: float = 10.0) -> RunnerRecord:
        """Wait until a runner (name or exchange) is registered and connected."""
        return self._thread.run(self.router.wait_for(target, timeout_s=timeout_s), timeout_s + 5.0)

    # -- events ---------------------------------------------------------------------------
    def subscribe(
        self,
        *,
        kinds: KindLike | Iterable[KindLike] | None = None,
        keys: KeyLike | Iterable[KeyLike] | None = None,
        exchange: ExchangeLike | None = None,
        runners: str | Iterable[str] | None = None,
        snapshot: bool = False,
        queue_size: int = 10_000,
    ) -> SyncSubscription:
        """A blocking stream of events (close it, or use ``with``)."""
        sub = self._thread.run(
            self.router.subscribe(
                kinds=kinds,
                keys=keys,
                exchange=exchange,
                runners=runners,
                snapshot=snapshot,
                queue_size=queue_size,
            ),
            30.0,
        )
        return SyncSubscription(self._thread, sub)

    def events(
        self,
        n: int = 10,
        *,
        kinds: KindLike | Iterable[KindLike] | None = None,
        keys: KeyLike | Iterable[KeyLike] | None = None,
        exchange: ExchangeLike | None = None,
        runners: str | Iterable[str] | None = None,
        timeout_s: float = 5.0,
    ) -> EventList:
        """The next ``n`` matching events (fewer if ``timeout_s`` runs out)."""
        with self.subscribe(kinds=kinds, keys=keys, exchange=exchange, runners=runners) as sub:
            return sub.take(n, timeout_s)

    def recent_events(
        self,
        n: int | None = 100,
        *,
        kinds: KindLike | Iterable[KindLike] | None = None,
        keys: KeyLike | Iterable[KeyLike] | None = None,
        event: str | None = None,
        notices: bool = False,
    ) -> EventList:
        """The last ``n`` recorded events (all with ``n=None``), oldest first. Filters:
        ``kinds`` (``"book"``, ``"exec"``, ...), ``keys``, ``event`` tag (``"order"``, ...);
        ``notices=True`` adds gap and snapshot notices."""
        if self._recorder is None:
            raise RuntimeError("recording is off for this client: connect(record=N) with N > 0")
        flt = EventFilter.of(kinds, keys)
        return self._thread.run(self._recorder.recent(flt, event, n, notices), 10.0)

    def order_events(self, order: Order | str, *, timeout_s: float = 5.0, final: bool = True) -> EventList:
        """The recorded events of one order (an :class:`Order` or its client id), oldest first.
        With ``final`` (the default), waits up to ``timeout_s`` for the one that ends it
        (filled, canceled, rejected or expired)."""
        if self._recorder is None:
            raise RuntimeError("recording is off for this client: connect(record=N) with N > 0")
        client_id = order.client_id if isinstance(order, Order) else order
        return self._thread.run(self._recorder.order_events(client_id, final, timeout_s), timeout_s + 10.0)

    # -- the kill switch ------------------------------------------------------------------
    def kill_switch(
        self, reason: str = "kill switch", *, timeout_s: float | None = None
    ) -> dict[str, TradingStateReply | CoreApiError]:
        """Halt every runner this client knows at once and cancel their open orders
        (:meth:`ZmqRouter.kill_switch`); each runner's answer or error by name."""
        guard = None if timeout_s is None else timeout_s + 5.0
        return self._thread.run(self.router.kill_switch(reason, timeout_s=timeout_s), guard)

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        if not self._thread.alive:
            return
        try:
            if self._recorder is not None:
                self._thread.run(self._recorder.close(), 10.0)
            self._thread.run(self.router.close(), 10.0)
        finally:
            self._thread.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._thread.alive else "closed"
        names = ", ".join(f"{n} ({r.exchange.value})" for n, r in sorted(self.router.records.items()))
        return f"<strategy_client.Client {state} {redact_url(self.router.redis_url)}: {names or 'no runners'}>"


async def _open(
    redis_url: str | None,
    wait_for: Sequence[str],
    timeout_s: float,
    record: int,
    bindings: Mapping[ExchangeLike, str] | None,
    default_timeout_s: float,
    poll_s: float,
    security: ClientSecurity | None = None,
) -> tuple[ZmqRouter, _Recorder | None]:
    router = ZmqRouter(
        redis_url, bindings=bindings, default_timeout_s=default_timeout_s, poll_s=poll_s, security=security
    )
    try:
        await router.start(wait_for=wait_for, timeout_s=timeout_s)
        if not wait_for:
            await router.wait_for_any(timeout_s=timeout_s)
        recorder = None
        if record > 0:
            sub = await router.subscribe(snapshot=False, queue_size=max(record, 1000))
            recorder = _Recorder(sub, record)
    except BaseException:
        await router.close()
        raise
    return router, recorder


def connect(
    redis_url: str | None = None,
    *,
    wait_for: str | Iterable[str] = (),
    timeout_s: float = 10.0,
    record: int = 10_000,
    bindings: Mapping[ExchangeLike, str] | None = None,
    default_timeout_s: float = 10.0,
    poll_s: float = 1.0,
    client_key: str | Path | None = None,
    trusted_runners: str | Path | None = None,
) -> Client:
    """Connect to every runner registered in Redis and return a blocking :class:`Client`.

    ``redis_url``: else ``$REDIS_URL``, else ``redis://127.0.0.1:6379/0``. Waits up to
    ``timeout_s`` for the runners named (or exchanges listed) in ``wait_for``, or for at least
    one runner. ``record``: how many recent events of each class to keep for
    :meth:`Client.recent_events` (0 = off). ``bindings``: exchange → runner name, when one
    exchange has several runners. ``client_key``: this client's CURVE secret key file (else
    ``$TRADEBUS_CLIENT_KEY_FILE`` / ``$TRADEBUS_CLIENT_SECRET``); ``trusted_runners``: a runner's
    public ``<name>.key`` file or a directory of them (else ``$TRADEBUS_TRUSTED_RUNNERS``) — see
    docs/security.md. With none of these, runners registered without CURVE are used as before.
    """
    security = ClientSecurity.from_env(client_key=client_key, trusted=trusted_runners)
    targets = [wait_for] if isinstance(wait_for, str) else list(wait_for)
    thread = LoopThread()
    try:
        router, recorder = thread.run(
            _open(redis_url, targets, timeout_s, record, bindings, default_timeout_s, poll_s, security),
            timeout_s * (len(targets) + 1) + 10.0,
        )
    except BaseException:
        thread.stop()
        raise
    return Client(thread, router, recorder)
