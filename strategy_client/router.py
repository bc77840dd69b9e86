"""ZmqRouter: CoreApi over every runner found in Redis, routed by exchange.

* Routing: a call goes to the runner serving ``key.exchange`` (or the exchange argument). With
  several runners for one exchange (two Binance simulators for perp-perp), either bind one
  (``router.bind("binance", "bn-a")``) or take a CoreApi bound to a runner by name
  (``router.runner("bn-b")``), which follows that runner across restarts.
* Discovery: a :class:`RunnerWatch` polls every ``poll_s``; runners that appear are connected,
  restarted ones (new pid/ports) followed, vanished ones (clean stop, or TTL expiry after a
  crash) dropped — no restart of the strategy. A runner whose record vanishes while it still
  answers (a Redis that restarted empty, before the runner's next heartbeat) is *kept*: the
  router remembers the last record for ``REGISTRATION_TTL_S`` after it was last listed and
  pings the runner on every poll; it is dropped when a ping fails (a clean stop or a crash) or
  when that time runs out without the record coming back. ``spin_us`` is passed to every command client
  (see :class:`ZmqCommandClient`). A runner with another protocol version is kept
  out, and calls routed to it raise :class:`ProtocolMismatch` naming both versions.
* Transport: a runner on this host is reached over its ``ipc://`` endpoints, others over
  ``tcp://`` (``transport="tcp"`` or ``$TRADEBUS_TRANSPORT=tcp`` forces ``tcp://``; see
  :mod:`strategy_client.endpoints`).
* Events: :meth:`subscribe` merges the matching runners' PUB streams into one
  :class:`Subscription` that the discovery keeps current.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import zmq

from .aio import within
from .api_calls import CoreApiCalls, Route, expect
from .coerce import ExchangeLike, KeyLike, as_exchange
from .command_client import ZmqCommandClient
from .discovery import RunnerChanges, RunnerWatch, check_version, select_runner
from .endpoints import resolve_transport, router_endpoint
from .errors import AmbiguousRoute, CoreApiError, ProtocolMismatch, RunnerUnavailable
from .events import EventFilter, KindLike
from .model import Exchange, InstrumentKey, TradingState
from .security import ClientSecurity
from .subscription import Subscription
from .wire import REGISTRATION_TTL_S, Pong, Reply, Request, RunnerRecord, SetTradingState, TradingStateReply

__all__ = ["ZmqRouter", "RunnerApi"]

log = logging.getLogger("strategy_client.router")

_EXCHANGES = frozenset(e.value for e in Exchange)


class RunnerApi(CoreApiCalls):
    """A CoreApi bound to one runner by name (whatever its exchange), across its restarts."""

    def __init__(self, router: ZmqRouter, name: str) -> None:
        self.router = router
        self.name = name

    async def _request(
        self, request: Request, route: Route, timeout_s: float | None, traceparent: str, tracestate: str
    ) -> Reply:
        return await self.router.client(self.name).call(
            request, timeout_s=timeout_s, traceparent=traceparent, tracestate=tracestate
        )

    async def ping(self, *, timeout_s: float | None = None) -> Pong:
        return await self.router.client(self.name).ping(timeout_s=timeout_s)

    @property
    def record(self) -> RunnerRecord | None:
        return self.router.records.get(self.name)

    def __repr__(self) -> str:
        return f"RunnerApi({self.name!r})"


class ZmqRouter(CoreApiCalls):
    def __init__(
        self,
        redis_url: str | None = None,
        *,
        poll_s: float = 1.0,
        default_timeout_s: float = 10.0,
        connect_timeout_s: float = 2.0,
        bindings: Mapping[ExchangeLike, str] | None = None,
        context: zmq.Context[Any] | None = None,
        spin_us: int = 0,
        keep_unlisted_s: float = REGISTRATION_TTL_S,
        verify_timeout_s: float = 0.5,
        security: ClientSecurity | None = None,
        transport: str | None = None,
    ) -> None:
        # this client's CURVE key and the runner keys it trusts (default: the environment);
        # records it cannot trust are skipped by the watch (docs/security.md)
        self.security = security if security is not None else ClientSecurity.from_env()
        self._watch = RunnerWatch(redis_url, keep_unlisted_s=keep_unlisted_s, accept=self.security.check)
        self.verify_timeout_s = verify_timeout_s
        self.spin_us = spin_us
        self.transport = resolve_transport(transport)  # "auto": ipc:// to a runner on this host
        self.redis_url = self._watch.redis_url
        self.poll_s = poll_s
        self.default_timeout_s = default_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._ctx: zmq.Context[Any] = context or zmq.Context.instance()
        self.records: dict[str, RunnerRecord] = {}
        self._clients: dict[str, ZmqCommandClient] = {}
        self._incompatible: dict[str, RunnerRecord] = {}
        self._by_exchange: dict[Exchange, list[str]] = {}
        self._bindings: dict[Exchange, str] = {as_exchange(ex): name for ex, name in (bindings or {}).items()}
        self._apis: dict[str, RunnerApi] = {}
        self._subs: set[Subscription] = set()
        self._poll_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.watch_errors = 0

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self, *, wait_for: Iterable[str | Exchange] = (), timeout_s: float = 10.0) -> ZmqRouter:
        """Read the directory (Redis must answer: :class:`DiscoveryError`), connect to every
        runner, start watching; then wait for each of ``wait_for`` (names or exchanges) to be
        registered, connected and speaking our protocol version."""
        if self._task is None:
            async with self._poll_lock:
                self._apply(await self._watch.poll(strict=True))
            self._task = asyncio.get_running_loop().create_task(self._watch_loop(), name="router.watch")
        for target in wait_for:
            await self.wait_for(target, timeout_s=timeout_s)
        return self

    async def close(self) -> None:
        task, self._task = self._task, None
        # Python 3.11's wait_for can swallow a cancellation that arrives as the awaited future
        # completes (a ping answered in that instant); the watch would then sleep on, cancelled
        # once and never again, and ``await task`` would hang: cancel until it is done
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.warning("router: the watch ended with %r", task.exception())
        await asyncio.gather(*(s.close() for s in list(self._subs)))
        for client in self._clients.values():
            client.close_now()
        self._clients.clear()
        await self._watch.close()

    async def __aenter__(self) -> ZmqRouter:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # the watch must outlive any one bad poll (logged with its traceback)
                self.watch_errors += 1
                log.exception("router: discovery poll failed; retrying")

    async def refresh(self) -> RunnerChanges:
        """Poll the directory now (the watch does it every ``poll_s``)."""
        async with self._poll_lock:
            changes = await self._watch.poll()
            if self._watch.unlisted:
                changes = await self._verify_unlisted(changes)
            self._apply(changes)
            return changes

    async def _verify_unlisted(self, changes: RunnerChanges) -> RunnerChanges:
        """Ping every runner kept though not listed; forget those that do not answer."""
        names = sorted(self._watch.unlisted)
        results = await asyncio.gather(*(self._answers(name) for name in names))
        gone = [self._watch.forget(name) for name, ok in zip(names, results, strict=True) if not ok]
        removed = tuple(rec for rec in gone if rec is not None)
        if not removed:
            return changes
        return RunnerChanges(added=changes.added, changed=changes.changed, removed=changes.removed + removed)

    async def _answers(self, name: str) -> bool:
        client = self._clients.get(name)
        if client is None:
            return False
        try:
            await client.ping(timeout_s=self.verify_timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure means: not verified
            log.info("router: unlisted runner %s did not answer a ping (%s); dropping it", name, exc)
            return False
        return True

    # -- directory ----------------------------------------------------------------------
    def _apply(self, changes: RunnerChanges) -> None:
        for rec in changes.removed:
            self._drop(rec.name, f"runner {rec.name} left the directory (stopped, or its registration expired)")
        for old, new in changes.changed:
            if old.protocol_version != new.protocol_version or new.name in self._incompatible:
                self._drop(new.name, f"runner {new.name} restarted with protocol v{new.protocol_version}")
                self._add(new)
            else:
                log.info("router: runner %s restarted (pid %d → %d)", new.name, old.pid, new.pid)
                client = self._clients.get(new.name)
                if client is not None:
                    client.retarget(router_endpoint(new, self.transport), self.security.curve_for(new))
        for rec in changes.added:
            self._add(rec)
        self.records = dict(self._watch.records)
        by_ex: dict[Exchange, list[str]] = {}
        for name, rec in sorted(self.records.items()):
            by_ex.setdefault(rec.exchange, []).append(name)
        self._by_exchange = by_ex
        for rec in (*changes.added, *(new for _, new in changes.changed)):
            if rec.name not in self._incompatible:
                for sub in self._subs:
                    sub.on_record(rec)
        if changes:
            self._changed.set()
            self._changed = asyncio.Event()

    def _add(self, rec: RunnerRecord) -> None:
        try:
            check_version(rec)
        except ProtocolMismatch as exc:
            self._incompatible[rec.name] = rec
            log.warning("router: %s; not using it", exc)
            return
        endpoint = router_endpoint(rec, self.transport)
        log.info("router: runner %s (%s) at %s", rec.name, rec.exchange.value, endpoint)
        client = ZmqCommandClient(
            endpoint,
            name=rec.name,
            context=self._ctx,
            default_timeout_s=self.default_timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            spin_us=self.spin_us,
            curve=self.security.curve_for(rec),
        )
        client.open()
        self._clients[rec.name] = client

    def _drop(self, name: str, why: str) -> None:
        self._incompatible.pop(name, None)
        client = self._clients.pop(name, None)
        if client is not None:
            log.info("router: %s", why)
            client.close_now()

    # -- routing ------------------------------------------------------------------------
    def bind(self, exchange: ExchangeLike, runner: str) -> None:
        """Route ``exchange`` to the runner named ``runner`` (it may register later)."""
        self._bindings[as_exchange(exchange)] = runner

    def unbind(self, exchange: ExchangeLike) -> None:
        self._bindings.pop(as_exchange(exchange), None)

    def runner(self, name: str) -> RunnerApi:
        """A CoreApi bound to the runner named ``name``: the way to address one of several
        runners of one exchange. It follows the runner across restarts."""
        api = self._apis.get(name)
        if api is None:
            api = self._apis[name] = RunnerApi(self, name)
        return api

    def runner_for(self, exchange: ExchangeLike) -> str:
        """The name of the runner that calls for ``exchange`` go to."""
        ex = as_exchange(exchange)
        bound = self._bindings.get(ex)
        if bound is not None:
            return bound
        names = self._by_exchange.get(ex)
        if not names:
            raise RunnerUnavailable(
                f"no {ex.value} runner registered in {self._watch.where}; start one with `runner {ex.value}`"
            )
        if len(names) > 1:
            raise AmbiguousRoute(
                f"{len(names)} {ex.value} runners are registered ({', '.join(names)}): "
                f"router.bind({ex.value!r}, NAME) or use router.runner(NAME)"
            )
        return names[0]

    def client(self, name: str) -> ZmqCommandClient:
        """The command client of the runner named ``name`` (raises when there is none)."""
        client = self._clients.get(name)
        if client is not None:
            return client
        rec = self._incompatible.get(name)
        if rec is not None:
            check_version(rec)  # raises ProtocolMismatch naming both versions
        known = ", ".join(sorted(self._clients)) or "none"
        raise RunnerUnavailable(f"no runner named {name!r} is registered in {self._watch.where} (registered: {known})")

    async def _request(
        self, request: Request, route: Route, timeout_s: float | None, traceparent: str, tracestate: str
    ) -> Reply:
        exchange = route.exchange if isinstance(route, InstrumentKey) else route
        bound = self._bindings.get(exchange)
        if bound is None:
            names = self._by_exchange.get(exchange)
            bound = names[0] if names is not None and len(names) == 1 else self.runner_for(exchange)
        client = self._clients.get(bound)
        if client is None:
            client = self.client(bound)
        return await client.call(request, timeout_s=timeout_s, traceparent=traceparent, tracestate=tracestate)

    def resolve(self, target: str | ExchangeLike) -> str:
        """The name of the runner ``target`` means: a registered runner name, else an exchange
        (its bound or only runner). Raises :class:`RunnerUnavailable` when there is none yet."""
        if isinstance(target, str) and target in self.records:
            return target
        if isinstance(target, Exchange) or target.lower() in _EXCHANGES:
            name = self.runner_for(target)
            if name not in self.records:
                raise RunnerUnavailable(f"runner {name!r}, bound to {target}, is not registered in {self._watch.where}")
            return name
        known = ", ".join(sorted(self.records)) or "none"
        raise RunnerUnavailable(
            f"no runner named {target!r} is registered in {self._watch.where} (registered: {known})"
        )

    async def wait_for(self, target: str | ExchangeLike, *, timeout_s: float = 10.0) -> RunnerRecord:
        """Wait until a runner named ``target`` (or the runner of exchange ``target``) is
        registered and connected, and check its protocol version (at connect, naming both)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            try:
                name = self.resolve(target)
                rec = self.records[name]
                check_version(rec)
                break
            except RunnerUnavailable:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise
                changed = self._changed
                try:
                    await within(changed.wait(), min(remaining, 0.2))
                except TimeoutError:
                    await self.refresh()
        client = self.client(name)
        await client.connect(check_version=True, timeout_s=max(0.1, deadline - loop.time()))
        return rec

    async def wait_for_any(self, *, timeout_s: float = 10.0) -> dict[str, RunnerRecord]:
        """Wait until at least one runner is registered; :class:`RunnerUnavailable` if none."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.records:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RunnerUnavailable(
                    f"no runner is registered in {self._watch.where} (waited {timeout_s:.0f}s); "
                    "start one with `runner binance`, or check the Redis URL ($REDIS_URL)"
                )
            try:
                await within(self._changed.wait(), min(remaining, 0.2))
            except TimeoutError:
                await self.refresh()
        return dict(self.records)

    async def ping(self, target: str | ExchangeLike, *, timeout_s: float | None = None) -> Pong:
        """Ping a runner by name or exchange; checks its protocol version."""
        return await self.client(self.resolve(target)).ping(timeout_s=timeout_s)

    # -- events -------------------------------------------------------------------------
    async def subscribe(
        self,
        *,
        kinds: KindLike | Iterable[KindLike] | None = None,
        keys: KeyLike | Iterable[KeyLike] | None = None,
        exchange: ExchangeLike | Iterable[ExchangeLike] | None = None,
        runners: str | Iterable[str] | None = None,
        snapshot: bool = True,
        queue_size: int = 10_000,
        wait: bool = True,
    ) -> Subscription:
        """Events of the matching runners as one stream. ``kinds``: ``"book"``, ``"exec"``,
        ``"pos"``, ``"funding"``, ``"account"``, ``"status"`` (or :class:`TopicKind`; None = all);
        ``keys``: instruments (None = all); ``exchange`` / ``runners``: which runners (None =
        all, including those that register later). With ``wait``, returns once the current
        runners are connected and their initial snapshots queued."""
        exchanges: frozenset[Exchange] | None = None
        if exchange is not None:
            items = [exchange] if isinstance(exchange, str | Exchange) else list(exchange)
            exchanges = frozenset(as_exchange(e) for e in items)
        names = None if runners is None else frozenset([runners] if isinstance(runners, str) else runners)
        sub = Subscription(
            filter=EventFilter.of(kinds, keys),
            api_for=self.runner,
            exchanges=exchanges,
            runners=names,
            snapshot=snapshot,
            queue_size=queue_size,
            context=self._ctx,
            connect_timeout_s=self.connect_timeout_s,
            on_close=self._subs.discard,
        )
        sub.curve_for = self.security.curve_for
        sub.transport = self.transport
        self._subs.add(sub)
        for rec in self.records.values():
            if rec.name not in self._incompatible:
                sub.on_record(rec)
        if wait:
            await sub.wait_ready()
        return sub

    # -- the kill switch ----------------------------------------------------------------
    async def kill_switch(
        self, reason: str = "kill switch", *, timeout_s: float | None = None
    ) -> dict[str, TradingStateReply | CoreApiError]:
        """Halt every runner this router knows, all at once (admin role): each is sent
        ``SetTradingState(HALTED)``, refuses every new order from then on and cancels its open
        orders before it answers. Returns each runner's answer (``canceled`` = orders cancelled)
        or the error its call raised, by name — one runner failing never stops the others; check
        every value. :class:`RunnerUnavailable` if no runner is registered at all."""
        await self.refresh()
        names = sorted(self._clients)
        if not names:
            raise RunnerUnavailable(f"kill switch: no runner is registered in {self._watch.where}; nothing halted")
        req = SetTradingState(state=TradingState.HALTED, reason=reason)

        async def halt(name: str) -> TradingStateReply | CoreApiError:
            try:
                reply = await self._clients[name].call(req, timeout_s=timeout_s)
                return expect(reply, TradingStateReply, req)
            except CoreApiError as exc:
                return exc

        results = await asyncio.gather(*(halt(n) for n in names))
        out = dict(zip(names, results, strict=True))
        failed = {n: r for n, r in out.items() if isinstance(r, CoreApiError)}
        if failed:
            log.error("router: kill switch did not halt %s", ", ".join(f"{n} ({e})" for n, e in failed.items()))
        else:
            log.warning("router: kill switch halted %s", ", ".join(names))
        return out

    # -- introspection ------------------------------------------------------------------
    def runners(self) -> dict[str, RunnerRecord]:
        """The runners registered now (as of the last poll), by name."""
        return dict(self.records)

    def unlisted(self) -> frozenset[str]:
        """Runners kept though their record is gone from Redis (verified by ping on every poll)."""
        return frozenset(self._watch.unlisted)

    def incompatible(self) -> dict[str, RunnerRecord]:
        return dict(self._incompatible)

    def select(self, target: str | Exchange) -> RunnerRecord:
        return select_runner(self.records, target, self._watch.where)
