"""The latest-state cache in Redis: for dashboards and services that must not subscribe to streams.

Per runner, one Redis hash per instrument (or asset) and kind, each field a string (decimals
exact), ``updated_ms`` the bridge's write time, and a TTL (docs/bus.md, "Latest-state cache"):

| key | fields |
|---|---|
| ``tradebus:cache:<runner>:book:<key>`` | bid, bid_qty, ask, ask_qty, mid, seq, venue_ts_ms, local_ts_ns, stale |
| ``tradebus:cache:<runner>:price:<key>`` | mid, bid, ask (from the book), mark, index (from funding), ts_ms |
| ``tradebus:cache:<runner>:funding:<key>`` | rate, interval_ms, next_funding_ts_ms, mark_price, index_price, ts_ms |
| ``tradebus:cache:<runner>:position:<key>`` | size, entry_price, mark_price, unrealized_pnl, leverage, |
|  | liquidation_price, margin_mode, updated_ts_ms, closed |
| ``tradebus:cache:<runner>:balance:<asset>`` | free, locked, total, ts_ms |
| ``tradebus:cache:<runner>:status`` | status, detail, redis_ok, streams (JSON) |

Writes are coalesced: the newest value of each hash is kept in memory (bounded by the number of
hashes) and written every ``interval_s`` in one pipeline, so a book firehose costs one write per
instrument per interval. Market data (book, price, funding, status) expires after ``ttl_md_s``;
positions and balances after ``ttl_state_s`` (refreshed by every account snapshot).
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import msgspec
import redis.asyncio as aioredis
import redis.exceptions

from strategy_client.events import Received, Snapshot
from strategy_client.model import AccountSnapshot, FundingRate, OrderBook, Position
from strategy_client.wire import AccountEvent, BookEvent, FundingEvent, PositionEvent, RunnerStatusEvent

__all__ = ["CACHE_PREFIX", "StateCache", "cache_key"]

log = logging.getLogger("bridge.cache")

CACHE_PREFIX = "tradebus:cache"

_MD_KINDS = frozenset({"book", "price", "funding", "status"})


def cache_key(runner: str, kind: str, name: str = "") -> str:
    return f"{CACHE_PREFIX}:{runner}:{kind}:{name}" if name else f"{CACHE_PREFIX}:{runner}:{kind}"


def _s(value: Decimal | int | bool | str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class StateCache:
    def __init__(
        self, redis_url: str, *, ttl_md_s: float = 60.0, ttl_state_s: float = 86_400.0, interval_s: float = 0.1
    ) -> None:
        self.redis_url = redis_url
        self.ttl_md_s = ttl_md_s
        self.ttl_state_s = ttl_state_s
        self.interval_s = interval_s
        self._pending: dict[str, dict[str, str]] = {}
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self.writes = 0
        self.errors = 0
        self.up = True
        self.last_error = ""

    # -- intake (synchronous: called for every item the bridge takes) ------------------------
    def take(self, item: Received | Snapshot) -> None:
        if isinstance(item, Snapshot):
            self._snapshot(item)
            return
        ev = item.event
        runner = item.runner
        if isinstance(ev, BookEvent):
            self._book(runner, ev.book, item.seq, ev.stale)
        elif isinstance(ev, FundingEvent):
            self._funding(runner, ev.funding)
        elif isinstance(ev, PositionEvent):
            self._position(runner, ev.position, ev.closed)
        elif isinstance(ev, AccountEvent):
            self._account(runner, ev.account)
        elif isinstance(ev, RunnerStatusEvent):
            self._put(
                cache_key(runner, "status"),
                {
                    "status": ev.status,
                    "detail": ev.detail,
                    "redis_ok": _s(ev.redis_ok),
                    "streams": msgspec.json.encode(ev.streams).decode(),
                },
            )

    def _snapshot(self, snap: Snapshot) -> None:
        for book in snap.books or ():
            self._book(snap.runner, book, 0, False)
        for rate in snap.funding or ():
            self._funding(snap.runner, rate)
        for pos in snap.positions or ():
            self._position(snap.runner, pos, pos.is_flat)
        if snap.account is not None:
            self._account(snap.runner, snap.account)

    def _put(self, key: str, fields: dict[str, str]) -> None:
        fields["updated_ms"] = str(time.time_ns() // 1_000_000)
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = fields
        else:
            pending.update(fields)

    def _book(self, runner: str, book: OrderBook, seq: int, stale: bool) -> None:
        key = str(book.key)
        fields = {"seq": _s(seq), "venue_ts_ms": _s(book.venue_ts_ms), "local_ts_ns": _s(book.local_ts_ns)}
        fields["stale"] = _s(stale)
        price: dict[str, str] = {"ts_ms": _s(book.venue_ts_ms)}
        if book.bids:
            fields["bid"], fields["bid_qty"] = _s(book.bids[0].price), _s(book.bids[0].qty)
            price["bid"] = fields["bid"]
        if book.asks:
            fields["ask"], fields["ask_qty"] = _s(book.asks[0].price), _s(book.asks[0].qty)
            price["ask"] = fields["ask"]
        if book.bids and book.asks:
            fields["mid"] = price["mid"] = _s((book.bids[0].price + book.asks[0].price) / 2)
        self._put(cache_key(runner, "book", key), fields)
        self._put(cache_key(runner, "price", key), price)

    def _funding(self, runner: str, rate: FundingRate) -> None:
        key = str(rate.key)
        self._put(
            cache_key(runner, "funding", key),
            {
                "rate": _s(rate.rate),
                "interval_ms": _s(rate.interval_ms),
                "next_funding_ts_ms": _s(rate.next_funding_ts_ms),
                "mark_price": _s(rate.mark_price),
                "index_price": _s(rate.index_price),
                "ts_ms": _s(rate.ts_ms),
            },
        )
        self._put(cache_key(runner, "price", key), {"mark": _s(rate.mark_price), "index": _s(rate.index_price)})

    def _position(self, runner: str, pos: Position, closed: bool) -> None:
        self._put(
            cache_key(runner, "position", str(pos.key)),
            {
                "size": _s(pos.size),
                "entry_price": _s(pos.entry_price),
                "mark_price": _s(pos.mark_price),
                "unrealized_pnl": _s(pos.unrealized_pnl),
                "leverage": _s(pos.leverage),
                "liquidation_price": _s(pos.liquidation_price),
                "margin_mode": pos.margin_mode,
                "updated_ts_ms": _s(pos.updated_ts_ms),
                "closed": _s(closed),
            },
        )

    def _account(self, runner: str, account: AccountSnapshot) -> None:
        for bal in account.balances:
            self._put(
                cache_key(runner, "balance", bal.asset),
                {"free": _s(bal.free), "locked": _s(bal.locked), "total": _s(bal.total), "ts_ms": _s(account.ts_ms)},
            )
        for pos in account.positions:
            self._position(runner, pos, pos.is_flat)

    # -- the writer (an owned task) -----------------------------------------------------------
    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                await self.flush()
        finally:
            await self._client.aclose()

    async def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        pipe = self._client.pipeline(transaction=False)
        for key, fields in pending.items():
            kind = key[len(CACHE_PREFIX) + 1 :].split(":", 2)[1]
            ttl = self.ttl_md_s if kind in _MD_KINDS else self.ttl_state_s
            pipe.hset(key, items=[part for pair in fields.items() for part in pair])
            pipe.pexpire(key, int(ttl * 1000))
        try:
            await pipe.execute()
        except (redis.exceptions.RedisError, OSError) as exc:
            for key, fields in pending.items():  # keep the newest values for the next try
                self._pending[key] = {**fields, **self._pending.get(key, {})}
            self.errors += 1
            if self.up:
                self.up = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "cache: Redis %s unreachable (%s); keeping the newest values, retrying", self.redis_url, exc
                )
            return
        if not self.up:
            log.info("cache: Redis %s reachable again", self.redis_url)
            self.up = True
        self.writes += len(pending)
