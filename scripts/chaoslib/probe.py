"""The harness' own client: watches the runners' events and times recovery after each fault.

It runs on its own event loop in a background thread (the harness' main loop is blocking) with
one :class:`~strategy_client.router.ZmqRouter` and three subscriptions: ``account`` (user
stream), ``book`` of every traded and probe instrument (market data), ``exec`` (every order
event, for the audit). A recovery check is a task on that loop that polls every
``POLL_S`` until its condition holds or ``deadline_s`` passes:

* ``user:<venue>:<product>`` — user-stream events flow: the probe deposits a dust amount of a
  probe asset nothing else touches (spot ``ETH``; on Binance futures ``USDC`` margin) through
  the venue's admin API every ``DEPOSIT_EVERY_S``; recovered when an ``account`` event that
  did not come from a REST reconcile shows the wallet including a deposit made *after* the
  injection (the venue's own user-stream push reached the runner and went out on PUB);
* ``market:<venue>:<product>`` — a non-stale ``book`` event of every watched instrument of
  that product, published after the injection;
* ``cmd:<venue>`` — a CoreApi call (``get_reference_price``) through discovery succeeds;
* ``registry:<venue>`` — the runner's record is back in Redis as ready.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
import redis.asyncio as aioredis

from strategy_client import Received, ZmqRouter
from strategy_client.model import Exchange, InstrumentKey, MarketKind
from strategy_client.wire import AccountEvent, BookEvent, OrderEvent, decode_record, runner_key

from .cluster import PROBE_SYMBOL, VENUES

__all__ = ["Probe", "ExecSeen", "POLL_S"]

T = TypeVar("T")
POLL_S = 0.02
DEPOSIT_EVERY_S = 0.25
DUST = Decimal("0.001")
TRADED = "BTCUSDT"


def user_products(venue: str) -> tuple[str, ...]:
    """User streams a venue has: Binance spot (WS-API) and futures (listenKey); one elsewhere."""
    return ("spot", "futures") if venue == "binance" else ("spot",)


def _probe_asset(venue: str, product: str) -> tuple[str, str]:
    """(deposit kind, asset) of the user-stream probe."""
    return ("perp", "USDC") if (venue, product) == ("binance", "futures") else ("spot", "ETH")


def _probe_value(event: AccountEvent, venue: str, product: str) -> Decimal | None:
    kind, asset = _probe_asset(venue, product)
    snap = event.account
    if kind == "perp":
        for m in snap.margin:
            if m.asset == asset:
                return Decimal(m.wallet_balance)
        return None
    bal = snap.balance(asset)
    return bal.total if bal is not None else None


@dataclass
class ExecSeen:
    """What the runners' ``exec`` events said about one client id."""

    max_filled: Decimal = Decimal(0)
    statuses: list[str] = field(default_factory=list)
    trade_ids: set[str] = field(default_factory=set)


class Probe:
    def __init__(self, redis_url: str, venue_ports: dict[str, int], deadline_s: float = 30.0) -> None:
        self.redis_url = redis_url
        self.venue_ports = venue_ports
        self.deadline_s = deadline_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-probe", daemon=True)
        self._router: ZmqRouter | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # state, owned by the probe loop
        self.user_last: dict[tuple[str, str], tuple[Decimal, float]] = {}  # value, harness time seen
        self.book_last: dict[tuple[str, str, str], float] = {}  # (venue, product, symbol) → harness time
        self.deposited: dict[tuple[str, str], Decimal] = {}
        self.base: dict[tuple[str, str], Decimal] = {}
        self.execs: dict[tuple[str, str], ExecSeen] = {}  # (venue, client id)
        self.gaps = 0
        self.deposit_errors = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> None:
        self._thread.start()
        self.run(self._start(), timeout_s)

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the probe loop; the returned future is thread-safe to poll."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def stop(self) -> None:
        try:
            self.run(self._stop(), 15.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        router = self._router = ZmqRouter(self.redis_url)
        await router.__aenter__()
        for venue in VENUES:
            await router.wait_for(venue, timeout_s=30)
        keys = [InstrumentKey(Exchange(v), s, k) for v in VENUES for s in (TRADED, PROBE_SYMBOL) for k in MarketKind]
        subs = [
            await router.subscribe(kinds=("account",)),
            await router.subscribe(kinds=("book",), keys=keys),
            await router.subscribe(kinds=("exec",)),
        ]
        for sub in subs:
            self._tasks.append(asyncio.get_running_loop().create_task(self._consume(sub)))
        for venue in VENUES:
            snap = await router.get_account_snapshot(Exchange(venue), timeout_s=10)
            for product in user_products(venue):
                kind, asset = _probe_asset(venue, product)
                if kind == "perp":
                    value = next((m.wallet_balance for m in snap.margin if m.asset == asset), Decimal(0))
                else:
                    bal = snap.balance(asset)
                    value = bal.total if bal is not None else Decimal(0)
                self.base[(venue, product)] = value
                self.deposited[(venue, product)] = Decimal(0)

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._router is not None:
            await self._router.__aexit__(None, None, None)
        if self._http is not None:
            await self._http.close()

    # -- events ----------------------------------------------------------------------------

    async def _consume(self, sub: Any) -> None:
        async with sub:
            async for item in sub:
                if not isinstance(item, Received):
                    if type(item).__name__ == "Gap":
                        self.gaps += 1
                    continue
                venue = item.exchange.value
                event = item.event
                now = time.time()
                if isinstance(event, AccountEvent):
                    if event.reason == "reconcile":
                        continue
                    for product in user_products(venue):
                        value = _probe_value(event, venue, product)
                        if value is not None:
                            self.user_last[(venue, product)] = (value, now)
                elif isinstance(event, BookEvent):
                    if event.stale or item.key is None:
                        continue
                    product = "spot" if item.key.kind is MarketKind.SPOT else "futures"
                    self.book_last[(venue, product, item.key.symbol)] = now
                elif isinstance(event, OrderEvent):
                    order = event.order
                    seen = self.execs.setdefault((venue, order.client_id), ExecSeen())
                    seen.max_filled = max(seen.max_filled, order.filled_qty)
                    seen.statuses.append(order.status.value)
                    if event.fill is not None:
                        seen.trade_ids.add(event.fill.trade_id)

    # -- recovery checks -------------------------------------------------------------------

    async def _deposit(self, venue: str, product: str) -> Decimal:
        """One dust deposit; returns the probe asset's total the venue now holds."""
        kind, asset = _probe_asset(venue, product)
        port = self.venue_ports[venue]
        assert self._http is not None
        url = f"http://127.0.0.1:{port}/_sim/engine/deposit"
        async with self._http.post(url, json={"kind": kind, "asset": asset, "amount": str(DUST)}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"deposit {venue} {kind} {asset}: HTTP {resp.status}")
        self.deposited[(venue, product)] += DUST
        return self.base[(venue, product)] + self.deposited[(venue, product)]

    async def recover(self, checks: list[str], t0: float) -> dict[str, float | None]:
        """Seconds from ``t0`` (harness ``time.time()``) until each check held; None = deadline."""
        results = await asyncio.gather(*(self._check(c, t0) for c in checks))
        return dict(zip(checks, results, strict=True))

    async def _check(self, check: str, t0: float) -> float | None:
        deadline = t0 + self.deadline_s
        parts = check.split(":")
        if parts[0] == "user":
            return await self._user(parts[1], parts[2], t0, deadline)
        while time.time() < deadline:
            if await self._holds(parts, t0):
                return time.time() - t0
            await asyncio.sleep(POLL_S)
        return None

    async def _user(self, venue: str, product: str, t0: float, deadline: float) -> float | None:
        target: Decimal | None = None
        next_deposit = 0.0
        while time.time() < deadline:
            now = time.time()
            if now >= next_deposit:
                next_deposit = now + DEPOSIT_EVERY_S
                try:
                    total = await self._deposit(venue, product)
                except (TimeoutError, aiohttp.ClientError, RuntimeError):
                    self.deposit_errors += 1
                else:
                    if target is None:
                        target = total
            seen = self.user_last.get((venue, product))
            if target is not None and seen is not None and seen[0] >= target and seen[1] >= t0:
                return seen[1] - t0
            await asyncio.sleep(POLL_S)
        return None

    async def _holds(self, parts: list[str], t0: float) -> bool:
        if parts[0] == "market":
            venue, product = parts[1], parts[2]
            return all(self.book_last.get((venue, product, s), 0.0) > t0 for s in (TRADED, PROBE_SYMBOL))
        if parts[0] == "cmd":
            assert self._router is not None
            key = InstrumentKey(Exchange(parts[1]), TRADED, MarketKind.PERP)
            try:
                await self._router.get_reference_price(key, timeout_s=1.0)
            except Exception:  # noqa: BLE001 - any failure means "not yet"
                return False
            return True
        if parts[0] == "registry":
            client = aioredis.Redis.from_url(self.redis_url, socket_timeout=0.5)
            try:
                raw = await client.get(runner_key(parts[1]))
                if not isinstance(raw, bytes) or decode_record(raw).status != "ready":
                    return False
            except Exception:  # noqa: BLE001 - Redis down is "not yet"
                return False
            finally:
                await client.aclose()
            return True
        raise ValueError(f"unknown check {parts[0]!r}")

    # -- audit helpers ---------------------------------------------------------------------

    def router(self) -> ZmqRouter:
        assert self._router is not None
        return self._router
