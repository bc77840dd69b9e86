"""One rate-limit budget per venue scope, shared by every process through Redis.

A venue counts requests per IP or per account, not per process: several runners on one machine
share one quota. :class:`SharedBudget` is that quota for one *scope* (Binance: ``binance-spot``,
``binance-futures`` — request weight per IP and order count per account, each product apart):

* **windows** (:class:`Window`) are the venue's own — clock-aligned fixed windows on the server
  clock, loaded from its exchange info where it publishes them (Binance ``rateLimits``,
  :func:`binance_windows`); documented defaults only until then;
* **reservation**: before a request, the weight (and for an order, one order count) is taken
  from every window it counts in, atomically for all of them in one Lua script (``_RESERVE``);
* **local lease**: a process reserves a small chunk (``lease``) and spends it locally, so most
  requests — the order path included — pay no Redis round trip; a lease lives for its window and
  at most ``lease_ttl_s`` (so a ban another process saw is noticed within that time);
* **reconciliation**: the venue's usage headers are fed to :meth:`observe`; the next reservation
  raises the shared counter to what the venue reported (never lowers it), so drift from other
  clients of the IP is corrected;
* **priority**: requests other than orders and cancels may fill a weight window only up to
  ``1 − order_reserve`` of its limit; the rest is kept for orders and cancels;
* **bans are global**: :meth:`ban` (a 429 with ``Retry-After`` or a 418) writes ``banned until``
  to Redis; every process's next reservation of the scope is refused until then;
* **refusal**: an order (``urgent``) that does not fit gets :class:`~exchanges.errors.RateLimited`
  with the time to wait (the ``rate_limited`` refusal of the runner); other requests wait for the
  window to reset, at most ``max_wait_s``, then get the same error — nothing blocks forever;
* **Redis down**: each process falls back to ``fallback_share`` of every limit, counted locally
  (said once in the log), and tries Redis again every ``redis_retry_s``;
* **Redis back**: each process adds what it took alone to the shared count (once, however many of
  its requests reach Redis together, and even when its own share is spent) and keeps to its own
  share for ``redis_retry_s + lease_ttl_s``, counting what its requests are still asking Redis
  for as taken. A process that sent nothing during the outage learns of it from the store's
  *epoch* (a token the script sets when Redis has none: another one than it knew means Redis
  restarted empty) and keeps to its own share the same way;
* **the user-data stream's key** (``stream_key``: Binance's listenKey create and keep-alive)
  may pass the process's own share while Redis is away or just back, up to
  ``stream_key_allowance`` units per window: the orders' fates arrive on that stream, and a
  process whose share went on reconcile reads otherwise left it down until the next window —
  26 s in a chaos run with three Redis restarts in ten seconds (docs/chaos.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Literal

import redis.asyncio as aioredis
from loguru import logger as log
from redis.exceptions import RedisError

from exchanges.credentials import Credentials
from exchanges.errors import IpBanned, RateLimited
from exchanges.telemetry import rate_limit_used

from .ratelimit_keys import DEFAULT_PREFIX, WINDOWS_REFRESH_S, ScopeHeadroom, read_headroom, windows_key

__all__ = [
    "BudgetOptions",
    "SharedBudget",
    "Window",
    "binance_windows",
    "binance_window_name",
    "BINANCE_DEFAULT_WINDOWS",
    "BudgetRegistry",
    "HeadroomWatch",
    "Route",
    "account_key",
    "pause_scope",
    "ScopeHeadroom",
    "active_budgets",
    "read_headroom",
]

Kind = Literal["weight", "orders", "calls"]

_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
_UNIT = {"SECOND": "s", "MINUTE": "m", "HOUR": "h", "DAY": "d"}


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Window:
    """One of the venue's counting windows: ``limit`` units per clock-aligned ``interval_ms``."""

    name: str  # "weight_1m", "orders_10s", "orders_1d": the suffix of the venue's usage header
    kind: Kind  # weight: every request, its weight; orders: one per new order; calls: one per call of ``group``
    interval_ms: int
    limit: int
    group: str = ""  # kind "calls": the venue's limit group of the endpoints it counts
    per: Literal["", "ip", "account"] = ""  # who the venue counts it for ("": weight per IP, the rest per account)

    def start(self, now_ms: int) -> int:
        return now_ms - now_ms % self.interval_ms

    def units(self, weight: int, order: bool, group: str) -> int:
        """What a request (its weight, a new order or not, its limit group) costs in this window."""
        if self.kind == "weight":
            return weight
        if self.kind == "orders":
            return 1 if order else 0
        return 1 if group == self.group else 0

    @property
    def per_account(self) -> bool:
        return self.per == "account" or (not self.per and self.kind != "weight")


@dataclass(frozen=True, slots=True)
class Route:
    """An endpoint's place in a venue's limits (the venues' tables map their endpoints to these)."""

    weight: int = 1
    group: str = ""  # the per-endpoint limit group it counts in ("": none)
    order: bool = False  # a new order (counts in the "orders" windows)
    urgent: bool = False  # placement, cancel, amend: may use the order reserve; refused, never parked


_BINANCE_KINDS: dict[str, Kind] = {"REQUEST_WEIGHT": "weight", "ORDERS": "orders"}


def binance_window_name(rate_limit_type: str, interval: str, num: int) -> str | None:
    """The window a Binance ``rateLimits`` entry (exchangeInfo, a WS-API reply) names —
    ``weight_1m``, ``orders_10s`` — or None for one the budget does not track."""
    kind = _BINANCE_KINDS.get(rate_limit_type)
    if kind is None or interval not in _UNIT or num <= 0:
        return None
    return f"{kind}_{num}{_UNIT[interval]}"


def binance_windows(rate_limits: Iterable[tuple[str, str, int, int]]) -> list[Window]:
    """Windows from Binance ``rateLimits`` entries ``(rateLimitType, interval, intervalNum,
    limit)``: ``REQUEST_WEIGHT`` and ``ORDERS``; ``RAW_REQUESTS`` is not tracked."""
    out: list[Window] = []
    for kind, interval, num, limit in rate_limits:
        name = binance_window_name(kind, interval, num)
        if name is not None and limit > 0:
            out.append(Window(name, _BINANCE_KINDS[kind], num * _INTERVAL_MS[interval], limit))
    return out


BINANCE_DEFAULT_WINDOWS: dict[str, list[Window]] = {
    # documented limits, used only until exchangeInfo has been read
    "spot": binance_windows([("REQUEST_WEIGHT", "MINUTE", 1, 6000), ("ORDERS", "SECOND", 10, 100)]),
    "futures": binance_windows([("REQUEST_WEIGHT", "MINUTE", 1, 2400), ("ORDERS", "SECOND", 10, 300)]),
}


@dataclass(frozen=True, slots=True)
class BudgetOptions:
    """The runner's ``[rate_limit]`` knobs (see docs/runner.md)."""

    prefix: str = DEFAULT_PREFIX
    order_reserve: float = 0.2  # share of each weight window only orders/cancels may use
    fallback_share: float = 0.25  # share of each limit a process uses alone while Redis is down
    lease_fraction: float = 0.05  # a lease is this share of a window's limit (at least 1 unit)
    lease_ttl_s: float = 1.0
    max_wait_s: float = 65.0
    redis_retry_s: float = 5.0
    redis_timeout_s: float = 0.25
    warn_below: float = 0.25  # HeadroomWatch: a window with less of its limit left is "low"
    edge_guard_s: float = 1.0  # our clock vs the venue's: a request this close to a boundary counts in both windows
    stream_key_allowance: int = 10  # units per window the user-data key may take past the own share (Redis away)
    keep_ahead: bool = True  # reserve leases (and the next window's, before its edge) off the request path

    def __post_init__(self) -> None:
        for name in ("order_reserve", "fallback_share", "lease_fraction", "warn_below"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0 or (name in ("fallback_share", "warn_below") and value == 0.0):
                raise ValueError(f"rate_limit.{name} must be in (0, 1), got {value}")
        if (
            min(self.lease_ttl_s, self.redis_retry_s, self.redis_timeout_s) <= 0
            or min(self.max_wait_s, self.edge_guard_s, self.stream_key_allowance) < 0
        ):
            raise ValueError(
                "rate_limit: lease_ttl_s, redis_retry_s, redis_timeout_s > 0; "
                "max_wait_s, edge_guard_s, stream_key_allowance >= 0"
            )


# KEYS[1] = ban key, KEYS[2..n+1] = one counter per window (its current window start in the name),
#         KEYS[n+2] = the store's epoch (a token set when missing: Redis restarted or never used)
# ARGV[1] = now_ms, then per window: need, want, cap, ttl_ms, observed (-1: none), spent (units this
#           process took on its local share while Redis was away: added first, whatever the outcome),
#           then the epoch this process knows ("": none yet) and a token to set if there is none
# returns {1, g1, u1, g2, u2..., epoch}  granted per window (need <= g <= want), count after
#         {0, i, used, epoch}      window i cannot give ``need`` (nothing taken)
#         {-1, until_ms * 1000 + http_status, epoch}    the scope is banned
#         {2, epoch}      not the epoch this process knew: Redis lost its counts since (nothing taken)
_RESERVE = """
local now = tonumber(ARGV[1])
local n = #KEYS - 2
for i = 1, n do
  local b = 1 + (i - 1) * 6
  local spent = tonumber(ARGV[b + 6])
  if spent > 0 then
    redis.call('INCRBY', KEYS[i + 1], spent)
    redis.call('PEXPIRE', KEYS[i + 1], tonumber(ARGV[b + 4]))
  end
end
local epoch = redis.call('GET', KEYS[n + 2])
if not epoch then
  epoch = ARGV[#ARGV]
  redis.call('SET', KEYS[n + 2], epoch)
end
local known = ARGV[#ARGV - 1]
if known ~= '' and known ~= epoch then return {2, epoch} end
local ban = tonumber(redis.call('GET', KEYS[1]) or '0')
if math.floor(ban / 1000) > now then return {-1, ban, epoch} end
local grants = {}
for i = 1, n do
  local b = 1 + (i - 1) * 6
  local need, want, cap = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local ttl, obs = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local used = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  if obs > used then
    redis.call('SET', KEYS[i + 1], obs, 'PX', ttl)
    used = obs
  end
  if used + need > cap then return {0, i, used, epoch} end
  grants[i] = math.min(want, cap - used)
end
local out = {1}
for i = 1, n do
  local b = 1 + (i - 1) * 6
  redis.call('INCRBY', KEYS[i + 1], grants[i])
  redis.call('PEXPIRE', KEYS[i + 1], tonumber(ARGV[b + 4]))
  out[2 * i] = grants[i]
  out[2 * i + 1] = tonumber(redis.call('GET', KEYS[i + 1]))
end
out[2 * n + 2] = epoch
return out
"""

# KEYS[1] = ban key; ARGV = until_ms * 1000 + http_status, now_ms: extend a ban, never shorten it
_BAN = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local untl = tonumber(ARGV[1])
if untl > cur then
  redis.call('SET', KEYS[1], untl, 'PX', math.max(1, math.floor(untl / 1000) - tonumber(ARGV[2])))
  return 1
end
return 0
"""


@dataclass(slots=True)
class _Lease:
    start: int = -1  # window start the lease belongs to
    left: int = 0
    taken_at: float = 0.0
    observed: int = -1  # the venue's latest count for this window (usage header)
    observed_start: int = -1
    used: int = 0  # shared count after the last reservation (for headroom)
    own: int = 0  # units this process took in the window (shared grants and local share)
    unshared: int = 0  # of ``own``, taken on the local share while Redis was away: not yet in Redis
    asking: int = 0  # just back from an outage: units this process's requests are asking Redis for now
    refilling: int = 0  # this process's reservations for the window in flight to Redis now
    carried: int = 0  # taken alone near the end of the window before: may count in this one too
    carried_to: int = -1  # the window start ``carried`` is for
    keys: int = 0  # units the user-data key took past this process's own share (Redis away or just back)


@dataclass(slots=True)
class _Need:
    """One counter a reservation touches: the request's own window (``lease`` set: the grant
    tops up its lease) or, within ``edge_guard_s`` of a boundary, the adjacent window too
    (``lease`` None: charged ``need`` exactly)."""

    window: Window
    start: int
    lease: _Lease | None
    need: int
    want: int
    cap: int
    observed: int = -1


@dataclass(slots=True)
class _State:
    leases: dict[str, _Lease] = field(default_factory=dict)
    # per window, the lease next to the current one (``keep_ahead``): the next window's, reserved
    # before that edge, or — after the turn — the previous window's with what it had left
    edge: dict[str, _Lease] = field(default_factory=dict)
    banned_until_ms: int = 0
    ban_was_418: bool = False
    redis_down_since: float | None = None
    reads_full_until_ms: int = 0  # a read was refused: other reads wait here without asking Redis
    windows_written_at: float | None = None  # the windows' limits written to Redis for `runner ls`
    settle_until: float = 0.0  # Redis just came back: own share still capped until then (monotonic)
    asked_at: float = 0.0  # the last reservation Redis answered (monotonic): bans seen up to then
    epoch: str = ""  # the Redis store's epoch last seen: another one means it restarted (empty) since


class SharedBudget:
    """The rate-limit budget of one venue scope (see the module doc)."""

    def __init__(
        self,
        scope: str,
        windows: Sequence[Window],
        redis_client: aioredis.Redis | None,
        *,
        options: BudgetOptions | None = None,
        account: str = "default",
        endpoint: str = "",
        now_ms: Callable[[], int] = _wall_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scope = scope
        self.options = options or BudgetOptions()
        self.account = account
        # ``endpoint``: the host the requests go to (``api.binance.com``; a testnet or an offline
        # venue on another port has quotas of its own, so its counters are not the production's)
        self._ns = f"{self.options.prefix}:{scope}@{endpoint}" if endpoint else f"{self.options.prefix}:{scope}"
        self._redis = redis_client
        self._now_ms = now_ms
        self._sleep = sleep
        self._monotonic = monotonic
        self._st = _State()
        self._guard_ms = int(self.options.edge_guard_s * 1000)
        self.windows: list[Window] = []
        self._plan: list[tuple[str, int, int, int, int]] = []
        self.refused = 0
        self.reservations = 0  # Redis round trips (or local fallback refills)
        self.kept = 0  # of those, reservations made ahead, off any request's path (keep_ahead)
        self._keeper: asyncio.Task[None] | None = None
        self._ahead_soon = False  # a reservation ahead is to start after this turn
        self._reserve = redis_client.register_script(_RESERVE) if redis_client is not None else None
        self._ban_script = redis_client.register_script(_BAN) if redis_client is not None else None
        self.set_windows(windows)

    # ------------------------------------------------------------------ configuration

    def set_windows(self, windows: Sequence[Window]) -> None:
        """Use the venue's windows (from its exchange info); current leases are dropped."""
        self.windows = list(windows)
        self._st.leases = {w.name: _Lease() for w in self.windows}
        self._st.edge = {}
        self._st.windows_written_at = None
        self._planned()

    def _planned(self) -> None:
        """Per window, what :meth:`_ahead_due` reads: name, interval, lease size, edge guard, and
        the shared count from which it is too busy to reserve ahead in (:meth:`_busy_at`)."""
        self._plan = [
            (w.name, w.interval_ms, self._lease_size(w), self._guard(w), self._busy_at(w)) for w in self.windows
        ]

    def add_window(self, window: Window) -> None:
        """A window met on the way (OKX's per-instrument limits); nothing if it is known."""
        if window.name not in self._st.leases:
            self.windows.append(window)
            self._st.leases[window.name] = _Lease()
            self._st.windows_written_at = None
            self._planned()

    def learn_limit(self, name: str, limit: int) -> None:
        """The venue says window ``name`` allows ``limit`` (Bybit's ``X-Bapi-Limit``): use it."""
        for i, w in enumerate(self.windows):
            if w.name == name and w.limit != limit and limit > 0:
                self.windows[i] = Window(w.name, w.kind, w.interval_ms, limit, w.group, w.per)
                self._st.windows_written_at = None
                self._planned()
                return

    def window(self, name: str) -> Window | None:
        return next((w for w in self.windows if w.name == name), None)

    @property
    def namespace(self) -> str:
        """The budget's Redis name without the prefix: ``binance-spot@api.binance.com``."""
        return self._ns[len(self.options.prefix) + 1 :]

    @property
    def shared(self) -> bool:
        """True while the budget is counted in Redis (False: local fallback share)."""
        return self._redis is not None and self._st.redis_down_since is None

    def _counter(self, w: Window) -> str:
        who = self.account if w.per_account else "ip"
        return f"{self._ns}:{who}:{w.name}"

    def _key(self, w: Window, start: int) -> str:
        return f"{self._counter(w)}:{start}"

    def _ban_key(self) -> str:
        return f"{self._ns}:ban"

    def _epoch_key(self) -> str:
        return f"{self._ns}:epoch"

    def _cap(self, w: Window, urgent: bool, *, local: bool = False) -> int:
        share = self.options.fallback_share if local else 1.0  # the shared cap, even while asking Redis again
        cap = w.limit * share
        if w.kind == "weight" and not urgent:
            cap *= 1.0 - self.options.order_reserve
        return max(1, int(cap))

    def _guard(self, w: Window) -> int:
        """A window's edge guard: ``edge_guard_s``, at most half the window — with half, a request
        counted in its own and the nearer neighbouring window can never let a rolling window of the
        same length (Bybit's per-UID second) hold more than the limit."""
        return min(self._guard_ms, w.interval_ms // 2)

    def _lease_size(self, w: Window) -> int:
        return max(1, int(w.limit * self.options.lease_fraction))

    # ------------------------------------------------------------------ the hot path

    def try_take(self, weight: int, *, order: bool, granted: bool = False, group: str = "") -> bool:
        """Take ``weight`` (and one order count if ``order``) from the local leases; False when a
        lease is missing, stale or short, or the time is near a window's edge (then
        :meth:`acquire` goes to Redis). ``granted``: spend what a reservation just granted."""
        now = self._now_ms()
        if now < self._st.banned_until_ms:
            return False
        fresh = -1.0 if granted else self._monotonic() - self.options.lease_ttl_s
        if self._st.asked_at < fresh and not any(w.units(weight, order, group) for w in self.windows):
            return False  # a request counted nowhere still learns of a ban at least every lease_ttl_s
        edges: list[tuple[_Lease, int]] = []
        for w in self.windows:
            n = w.units(weight, order, group)
            if not n:
                continue
            start = w.start(now)
            lease = self._current(w, start)
            if lease.start != start or lease.left < n or lease.taken_at < fresh:
                return False
            near = -1 if granted else self._neighbour(now, w.interval_ms, self._guard(w))
            if near < 0:
                continue
            # near an edge a request counts in both windows: the neighbour's lease pays its share
            # (reserved ahead, keep_ahead), else it goes through Redis (charged twice)
            edge = self._st.edge.get(w.name)
            if edge is None or edge.start != near or edge.left < n:
                return False
            edges.append((edge, n))
        for w in self.windows:
            self._st.leases[w.name].left -= w.units(weight, order, group)
        for edge, n in edges:
            edge.left -= n
        if self.options.keep_ahead and not self._ahead_soon and self._keeper is None and self._ahead_due(now):
            # after this turn (the request this serves goes first), not in it
            self._ahead_soon = True
            asyncio.get_running_loop().call_soon(self._keep_ahead)
        return True

    def _ahead_due(self, now: int) -> bool:
        """Whether a reservation ahead is due (:meth:`_keep_ahead`); checked after every request
        served locally, so it only reads: a lease under half its size or past half its age, or a
        neighbouring window's lease missing or low near an edge."""
        if now < self._st.reads_full_until_ms:
            return False  # a window is full: requests take their turns through Redis (_busy_at)
        leases, edges = self._st.leases, self._st.edge
        old = self._monotonic() - self.options.lease_ttl_s / 2
        lead = int(self.options.redis_timeout_s * 1000)
        for name, interval, size, guard, busy in self._plan:
            lease = leases[name]
            if lease.start != now - now % interval:
                continue
            if lease.used >= busy:
                return False  # a weight window past half full (:meth:`_busy_at`)
            if 2 * lease.left < size or lease.taken_at < old:
                return True
            near = self._neighbour(now, interval, guard, lead)
            if near < 0:
                continue
            edge = edges.get(name)
            if edge is None or edge.start != near:
                if near > now:
                    return True  # the next window's lease is not reserved yet
            elif 2 * edge.left < size:
                return True
        return False

    # ------------------------------------------------------------------ reserving ahead

    @staticmethod
    def _neighbour(now: int, interval: int, guard: int, lead: int = 0) -> int:
        """The start of the window next to ``now``'s when ``now`` is near their common edge — the
        next one within ``guard + lead`` of the end (the venue may already count a request there),
        the previous one within ``guard`` of the start (it may still) — else -1."""
        if guard <= 0:
            return -1
        into = now % interval
        if interval - into <= guard + lead:
            return now - into + interval
        if into < guard:
            return now - into - interval
        return -1

    def _busy_at(self, w: Window) -> int:
        """The shared count from which window ``w`` is too busy to reserve ahead in: half its
        reads' cap for a weight window; never for the others (orders and per-endpoint calls are
        urgent or few: refused, not parked). Reserving ahead in a busy weight window would hold
        units idle that other processes' parked reads wait for — and the next window's lease,
        taken before the turn, left a process that sleeps until the turn a full window again and
        again (a runner of three whose reads overfill every window waited 64 s for its first
        request this way)."""
        return (self._cap(w, False) + 1) // 2 if w.kind == "weight" else 1 << 62

    def _current(self, w: Window, start: int) -> _Lease:
        """Window ``w``'s lease for ``start``: at the turn, the next window's lease reserved ahead
        becomes the current one, and the one before is kept for the new window's start edge."""
        lease = self._st.leases[w.name]
        if lease.start == start:
            return lease
        ahead = self._st.edge.get(w.name)
        if ahead is None or ahead.start != start:
            return lease
        if lease.carried_to == start and lease.carried:  # taken alone before: counts in this window too
            ahead.used += lease.carried
            ahead.own += lease.carried
            ahead.unshared += lease.carried
        self._st.leases[w.name] = ahead
        self._st.edge[w.name] = lease
        return ahead

    def _keep_ahead(self) -> None:
        """After a request was served locally: when a lease runs low or gets old (half its
        ``lease_ttl_s``), or the time is near a window's edge (its edge guard, plus
        ``redis_timeout_s`` before the end), reserve — in the background, one reservation at a
        time — what the next requests will take: the current lease topped up (and its age
        renewed: a ban another process saw is still learnt within ``lease_ttl_s``), and the
        neighbouring window's lease that pays the requests' edge charges (the next window's before
        the turn; after it, the previous one's, which the turn kept with what it had left).
        Only while Redis is shared normally: just back from an outage, or banned, requests ask
        Redis themselves as before."""
        self._ahead_soon = False
        now = self._now_ms()
        if self._reserve is None or self._st.redis_down_since is not None or self._rejoining():
            return
        if now < self._st.banned_until_ms or self._keeper is not None or not self._ahead_due(now):
            return  # (time passed since the request: asked again)
        lead = int(self.options.redis_timeout_s * 1000)
        needs: list[_Need] = []
        for w, (_, interval, size, guard, _) in zip(self.windows, self._plan, strict=True):
            start = now - now % interval
            lease = self._st.leases[w.name]
            if lease.start != start:
                continue  # the window turned: the next request reserves (and resets) it
            cap = self._cap(w, False)
            # every current lease goes with the reservation (topped up, its age renewed), so one
            # reservation serves them all until the next is due
            obs = lease.observed if lease.observed_start == start else -1
            needs.append(_Need(w, start, lease, 0, max(0, size - lease.left), cap, obs))
            near = self._neighbour(now, interval, guard, lead)
            if near < 0:
                continue
            edge = self._st.edge.get(w.name)
            if edge is None or edge.start != near:
                if near < start:
                    continue  # nothing kept of the previous window: requests charge it through Redis
                edge = self._st.edge[w.name] = _Lease(start=near)
            if 2 * edge.left < size:
                needs.append(_Need(w, near, edge, 0, size - edge.left, cap))
        self._keeper = asyncio.get_running_loop().create_task(self._reserve_ahead(needs, now))
        self._keeper.add_done_callback(self._kept)

    async def _reserve_ahead(self, needs: list[_Need], now: int) -> None:
        self.reservations += 1
        self.kept += 1
        for nd in needs:
            assert nd.lease is not None
            nd.lease.refilling += 1
        try:
            await self._refill_shared(needs, now)  # a refusal or a ban: the next request asks itself
        except RedisError as exc:
            self._redis_lost(exc)
        finally:
            for nd in needs:
                assert nd.lease is not None
                nd.lease.refilling -= 1

    async def reserved_ahead(self) -> None:
        """Return once no reservation made ahead is in flight (tests, benchmarks, shutdown)."""
        while self._ahead_soon or self._keeper is not None:
            if self._keeper is None:
                await asyncio.sleep(0)  # the reservation starts after this turn
            else:
                await asyncio.wait({self._keeper})

    def _kept(self, task: asyncio.Task[None]) -> None:
        self._keeper = None
        if not task.cancelled() and task.exception() is not None:
            log.opt(exception=task.exception()).error("{}: reserving ahead failed", self.scope)

    async def acquire(
        self, weight: int, *, order: bool = False, urgent: bool = False, group: str = "", stream_key: bool = False
    ) -> None:
        """Reserve ``weight`` (one order count if ``order``, one call of ``group``) before a
        request; ``urgent`` (orders and cancels) may use the order reserve and is refused at once
        rather than wait; ``stream_key`` (the user-data stream's key, urgent too) may pass this
        process's own share while Redis is away or just back, up to ``stream_key_allowance``."""
        if self.try_take(weight, order=order, group=group):
            return
        waited = 0.0
        while True:
            wait_s = await self._refill(weight, order=order, urgent=urgent or stream_key, group=group, key=stream_key)
            if wait_s is None:
                if self.try_take(weight, order=order, granted=True, group=group):
                    return
                continue  # the window turned while Redis answered: ask again for the new one
            if urgent or waited + wait_s > self.options.max_wait_s:
                self.refused += 1
                raise self._refusal(wait_s)
            await self._sleep(wait_s)
            waited += wait_s

    async def take(self, route: Route) -> None:
        """:meth:`acquire` for one endpoint of a venue's table."""
        await self.acquire(route.weight, order=route.order, urgent=route.urgent, group=route.group)

    def _refusal(self, wait_s: float) -> RateLimited:
        now = self._now_ms()
        if now < self._st.banned_until_ms:
            cls = IpBanned if self._st.ban_was_418 else RateLimited
            return cls(
                f"{self.scope}: every process paused by the venue for {wait_s:.1f}s",
                retry_after_s=wait_s,
                venue=self.scope,
            )
        return RateLimited(
            f"{self.scope}: rate-limit budget spent, next window in {wait_s:.1f}s",
            retry_after_s=wait_s,
            venue=self.scope,
        )

    # ------------------------------------------------------------------ reservation

    def _needs(self, weight: int, order: bool, urgent: bool, now: int, group: str = "") -> list[_Need]:
        out: list[_Need] = []
        # just back from an outage (or about to find out): no lease beyond the request
        settling = self._rejoining()
        for w in self.windows:
            n = w.units(weight, order, group)
            if not n:
                continue
            start = w.start(now)
            lease = self._current(w, start)
            if lease.start != start:
                if lease.start == start - w.interval_ms:  # what it had left pays the start edge's charges
                    self._st.edge[w.name] = _Lease(start=lease.start, left=lease.left)
                carried = lease.carried if lease.carried_to == start else 0
                lease.start, lease.left, lease.used, lease.own, lease.unshared = start, 0, carried, carried, carried
                lease.asking = lease.keys = 0
            guard = self._guard(w)
            cap = self._cap(w, urgent)
            need = max(0, n - lease.left)
            obs = lease.observed if lease.observed_start == start else -1
            # one lease at a time: while a refill is in flight, a concurrent request asks for what it
            # needs only (N requests at once — a runner's start — reserved N leases the venue never
            # saw: ~55 % of a Binance futures weight window per start, and the next start waited)
            want = need if settling or lease.refilling else max(need, self._lease_size(w) - lease.left)
            out.append(_Need(w, start, lease, need, want, cap, obs))
            if now - start < guard:  # the venue may still be in the previous window
                out.append(_Need(w, start - w.interval_ms, None, n, n, cap))
            elif start + w.interval_ms - now <= guard:  # ... or already in the next one
                out.append(_Need(w, start + w.interval_ms, None, n, n, cap))
        return out

    async def _refill(
        self, weight: int, *, order: bool, urgent: bool, group: str = "", key: bool = False
    ) -> float | None:
        """Top up the leases this request needs; None when done, else seconds to wait. ``key``:
        the user-data key, which may pass the own share (:meth:`_key_fits`)."""
        now = self._now_ms()
        if now < self._st.banned_until_ms:
            return (self._st.banned_until_ms - now) / 1000.0
        if not urgent and now < self._st.reads_full_until_ms:
            return (self._st.reads_full_until_ms - now) / 1000.0  # no herd of parked reads on Redis
        needs = self._needs(weight, order, urgent, now, group)
        self.reservations += 1
        wait_s: float | None = None
        if not self._redis_usable():
            wait_s = self._refill_local(needs, now, urgent, key)
        elif self._rejoining() and (wait_s := self._own_share_wait(needs, now, urgent)):
            if key and self._key_fits(needs):
                # the user-data key past the own share: through Redis (counted there), and here
                wait_s = await self._refill_redis(needs, now, urgent, key)
                if wait_s is None:
                    self._count_key(needs)
            else:
                # coming back: this process keeps to its own share until every process is back, and
                # what it took alone reaches the shared count even when it may take no more
                await self._hand_over(needs, now)
        else:
            wait_s = await self._refill_redis(needs, now, urgent, key)
        if wait_s is not None and not urgent:
            self._st.reads_full_until_ms = max(self._st.reads_full_until_ms, now + int(wait_s * 1000))
        return wait_s

    async def _refill_redis(self, needs: list[_Need], now: int, urgent: bool, key: bool = False) -> float | None:
        """:meth:`_refill_shared`, falling back to the local share when Redis does not answer.
        Coming back from an outage, what this request asks for counts as this process's own
        (``asking``) until Redis answers: the process's other requests, checked meanwhile against
        its own share, see it (without it, a burst of requests all passed that check before any
        grant was counted, and together took the whole shared window)."""
        asking = self._rejoining()
        if asking:
            self._count_asking(needs, 1)
        leases = [nd.lease for nd in needs if nd.lease is not None]
        for lease in leases:
            lease.refilling += 1
        try:
            return await self._refill_shared(needs, now)
        except RedisError as exc:
            self._redis_lost(exc)
            return self._refill_local(needs, now, urgent, key)
        finally:
            for lease in leases:
                lease.refilling -= 1
            if asking:
                self._count_asking(needs, -1)

    async def _hand_over(self, needs: list[_Need], now: int) -> None:
        """Add what this process took alone to the shared count, taking nothing (its own share is
        spent): the others, once they stop keeping to theirs, must see it."""
        if not any(nd.lease is not None and nd.lease.unshared for nd in needs):
            return
        try:
            await self._refill_shared([replace(nd, need=0, want=0) for nd in needs], now)
        except RedisError as exc:
            self._redis_lost(exc)

    @staticmethod
    def _count_asking(needs: list[_Need], sign: int) -> None:
        for nd in needs:
            if nd.lease is not None and nd.lease.start == nd.start:  # else the window turned: reset
                nd.lease.asking += sign * nd.need

    def _redis_usable(self) -> bool:
        if self._reserve is None:
            return False
        down = self._st.redis_down_since
        if down is None:
            return True
        return self._monotonic() - down >= self.options.redis_retry_s

    def _redis_lost(self, exc: RedisError) -> None:
        if self._st.redis_down_since is None:
            log.warning(
                "{}: Redis unreachable ({}); rate-limit budget falls back to this process's local share of {:.0%}",
                self.scope,
                exc,
                self.options.fallback_share,
            )
        self._st.redis_down_since = self._monotonic()
        self._st.windows_written_at = None  # a restarted Redis is empty

    async def _ask_redis(self, needs: list[_Need], now: int) -> list[int | bytes | str]:
        """One reservation script call (what this process took alone goes with it, once)."""
        assert self._reserve is not None
        keys = [self._ban_key()]
        args: list[int | str] = [now]
        spent = self._take_unshared(needs)  # sent once: concurrent requests must not add it again
        for nd, units in zip(needs, spent, strict=True):
            keys.append(self._key(nd.window, nd.start))
            args += [nd.need, nd.want, nd.cap, 2 * nd.window.interval_ms + 5_000, nd.observed, units]
        keys.append(self._epoch_key())
        args += [self._st.epoch, secrets.token_hex(8)]  # a new token each time: never one known before
        try:
            reply: list[int | bytes | str] = await self._reserve(keys=keys, args=args)
        except RedisError:
            self._give_back_unshared(needs, spent)
            raise
        self._st.asked_at = self._monotonic()
        return reply

    def _answered(self, status: int, epoch: int | bytes | str) -> None:
        """Redis answered: back from an outage this process saw, or one it learns of only now
        (the store's epoch changed: Redis restarted empty while this process sent nothing)."""
        epoch = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
        restart_news = status == 2 and epoch != self._st.epoch
        self._st.epoch = epoch
        if self._st.redis_down_since is None and not restart_news:
            return
        # Other processes may still count on their local shares (each retries Redis within
        # redis_retry_s): until all are back, this one keeps to its own share too.
        settle = self.options.redis_retry_s + self.options.lease_ttl_s
        self._st.settle_until = self._monotonic() + settle
        self._st.windows_written_at = None  # a restarted Redis is empty
        if self._st.redis_down_since is not None:
            log.info(
                "{}: Redis back; rate-limit budget shared again (this process's own share until the others are "
                "back, {:.0f}s)",
                self.scope,
                settle,
            )
        else:
            log.info(
                "{}: Redis restarted empty; rate-limit budget: this process's own share until the others are "
                "back, {:.0f}s",
                self.scope,
                settle,
            )
        self._st.redis_down_since = None

    async def _refill_shared(self, needs: list[_Need], now: int) -> float | None:
        reply = await self._ask_redis(needs, now)
        status = int(reply[0])
        self._answered(status, reply[-1])
        written = self._st.windows_written_at
        if written is None or self._monotonic() - written >= WINDOWS_REFRESH_S:
            await self._write_windows()
        if status == 2:
            return None  # nothing taken: asked again, as one back from an outage
        if status == -1:
            until, http_status = divmod(int(reply[1]), 1000)
            self._note_ban(until, http_status)
            return (until - now) / 1000.0
        if status == 0:
            nd = needs[int(reply[1]) - 1]
            if nd.lease is not None and nd.lease.start == nd.start:
                nd.lease.used = int(reply[2])
                self._report_current(nd.window, nd.lease)
            return self._wait_s(nd, now)
        taken_at = self._monotonic()
        for i, nd in enumerate(needs):
            lease = nd.lease
            if lease is None or lease.start != nd.start:
                continue  # an edge charge, or the window turned while Redis answered: dropped
            lease.left += int(reply[1 + 2 * i])
            lease.own += int(reply[1 + 2 * i])
            lease.used = int(reply[2 + 2 * i])
            lease.taken_at = taken_at
            self._report_current(nd.window, lease)
        return None

    @staticmethod
    def _take_unshared(needs: list[_Need]) -> list[int]:
        """What each counter's lease took alone (``unshared``), handed to one reservation."""
        out: list[int] = []
        for nd in needs:
            out.append(nd.lease.unshared if nd.lease is not None else 0)
            if nd.lease is not None:
                nd.lease.unshared = 0
        return out

    @staticmethod
    def _give_back_unshared(needs: list[_Need], spent: list[int]) -> None:
        """Redis did not answer: the takings are still to be added (unless the window turned)."""
        for nd, units in zip(needs, spent, strict=True):
            if nd.lease is not None and nd.lease.start == nd.start:
                nd.lease.unshared += units

    async def _write_windows(self) -> None:
        """The windows' limits and counter names, for readers of the shared count (``runner ls``,
        :func:`read_headroom`); rewritten every minute and after Redis came back empty."""
        assert self._redis is not None
        fields = {w.name: f"{w.interval_ms} {w.limit} {self._counter(w)}" for w in self.windows}
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(windows_key(self._ns))
        pipe.hset(windows_key(self._ns), mapping=fields)  # type: ignore[arg-type]
        pipe.pexpire(windows_key(self._ns), int(WINDOWS_REFRESH_S * 3000))
        await pipe.execute()
        self._st.windows_written_at = self._monotonic()

    def _wait_s(self, nd: _Need, now: int) -> float:
        """Until the refused window has ended and the next is past the edge guard."""
        return max(0.001, (nd.start + nd.window.interval_ms + self._guard(nd.window) - now) / 1000.0)

    def _rejoining(self) -> bool:
        """Asking Redis again after an outage, or just back: the others may still count alone."""
        return self._st.redis_down_since is not None or self._monotonic() < self._st.settle_until

    def _own_share_wait(self, needs: list[_Need], now: int, urgent: bool) -> float | None:
        """Just back from an outage: the wait when this process's own takings of a window (``own``)
        would pass its local share; None when they fit."""
        for nd in needs:
            lease = nd.lease
            if lease is not None and lease.own + lease.asking + nd.need > self._cap(nd.window, urgent, local=True):
                return self._wait_s(nd, now)
        return None

    def _key_fits(self, needs: list[_Need]) -> bool:
        """The user-data key may pass the own share: what it took so above stays within
        ``stream_key_allowance`` in every window it counts in."""
        allowance = self.options.stream_key_allowance
        return all(nd.lease is None or nd.lease.keys + nd.need <= allowance for nd in needs)

    @staticmethod
    def _count_key(needs: list[_Need]) -> None:
        for nd in needs:
            if nd.lease is not None and nd.lease.start == nd.start:
                nd.lease.keys += nd.need

    def _refill_local(self, needs: list[_Need], now: int, urgent: bool, key: bool = False) -> float | None:
        """The fallback: this process's share of each window, counted here only; a request near
        the end of a window counts in the next one's share too (it may arrive there). What it
        takes is added to the shared count when Redis answers again (``unshared``). The
        user-data key (``key``) may pass the share within ``stream_key_allowance``."""
        own = [nd for nd in needs if nd.lease is not None]
        for nd in own:
            assert nd.lease is not None
            if nd.lease.used + nd.need > self._cap(nd.window, urgent, local=True):
                if not (key and self._key_fits(needs)):
                    return self._wait_s(nd, now)
                self._count_key(needs)
                break
        for nd in needs:
            if nd.lease is None and nd.start > now:  # the next window's edge charge
                lease = self._st.leases[nd.window.name]
                if lease.carried_to != nd.start:
                    lease.carried, lease.carried_to = 0, nd.start
                lease.carried += nd.need
        taken_at = self._monotonic()
        for nd in own:
            assert nd.lease is not None
            nd.lease.used += nd.need
            nd.lease.own += nd.need
            nd.lease.unshared += nd.need
            nd.lease.left += nd.need
            nd.lease.taken_at = taken_at
            self._report(nd.window, nd.lease)
        return None

    # ------------------------------------------------------------------ venue feedback

    def observe(self, name: str, count: int) -> None:
        """The venue's usage header for window ``name`` (``weight_1m``, ``orders_10s``...): the
        next reservation raises the shared counter to it."""
        lease = self._st.leases.get(name)
        if lease is None:
            return
        for w in self.windows:
            if w.name == name:
                start = w.start(self._now_ms())
                if lease.observed_start != start or count > lease.observed:
                    lease.observed, lease.observed_start = count, start
                if not self.shared and lease.start == start:
                    lease.used = max(lease.used, count)
                return

    async def ban(self, retry_after_s: float, *, status: int) -> None:
        """A 429 (``Retry-After``) or 418 seen by this process: every process of the scope stops
        until then (written to Redis; locally in any case)."""
        until = self._now_ms() + int(retry_after_s * 1000)
        first = self._note_ban(until, status, seen_here=True)
        if self._ban_script is not None and self.shared:
            try:
                await self._ban_script(keys=[self._ban_key()], args=[until * 1000 + status, self._now_ms()])
            except RedisError as exc:
                self._redis_lost(exc)
        if first:
            log.warning(
                "{}: venue answered HTTP {}; every process of this scope paused for {:.1f}s",
                self.scope,
                status,
                retry_after_s,
            )
            rate_limit_used(self.scope, "ban_s", retry_after_s)

    def _note_ban(self, until_ms: int, status: int, *, seen_here: bool = False) -> bool:
        """Record a ban locally; True when it is news to this process."""
        if until_ms <= self._st.banned_until_ms:
            return False
        news = self._st.banned_until_ms < self._now_ms()
        self._st.banned_until_ms = until_ms
        self._st.ban_was_418 = status in _BAN_STATUSES or (not news and self._st.ban_was_418)
        for lease in self._st.leases.values():
            lease.left = 0
        if not seen_here and news:
            rate_limit_used(self.scope, "ban_s", (until_ms - self._now_ms()) / 1000.0)
        return news

    # ------------------------------------------------------------------ visibility

    def _report_current(self, w: Window, lease: _Lease) -> None:
        """:meth:`_report` unless ``lease`` is a neighbouring window's (reserved ahead)."""
        if lease is self._st.leases.get(w.name):
            self._report(w, lease)

    def _report(self, w: Window, lease: _Lease) -> None:
        rate_limit_used(self.scope, f"headroom_{w.name}", float(w.limit - lease.used))

    def headroom(self) -> dict[str, int]:
        """Units left per window as last seen (shared count, else the local fallback count)."""
        now = self._now_ms()
        out: dict[str, int] = {}
        for w in self.windows:
            lease = self._st.leases[w.name]
            used = max(lease.used, lease.observed if lease.observed_start == w.start(now) else 0)
            out[w.name] = w.limit - (used if lease.start == w.start(now) else 0)
        return out

    def shares(self) -> dict[str, float]:
        """The share of each window's limit left (0..1), as :meth:`headroom`."""
        limits = {w.name: w.limit for w in self.windows}
        return {name: max(0.0, left / limits[name]) for name, left in self.headroom().items()}

    def banned_for_s(self) -> float:
        return max(0.0, (self._st.banned_until_ms - self._now_ms()) / 1000.0)


def account_key(credentials: Credentials | None) -> str:
    """Who a venue's per-account windows count for: a digest of the API key (never the key)."""
    if credentials is None:
        return "anonymous"
    return hashlib.sha256(credentials.api_key.encode()).hexdigest()[:12]


_BAN_STATUSES = (418, 403)  # an IP ban (Binance 418, Bybit 403), not a window's back-pressure


async def pause_scope(budget: SharedBudget | None, exc: RateLimited, statuses: Sequence[int] = (418, 429)) -> None:
    """A venue's refusal of the whole scope seen here (Binance 429/418 with ``Retry-After``,
    Bybit's 403): every process of the scope pauses until it ends."""
    status = exc.http_status
    if budget is not None and status is not None and status in statuses and exc.retry_after_s:
        await budget.ban(exc.retry_after_s, status=status)


class BudgetRegistry:
    """The budgets of one process, one per scope and account, over one Redis client (None:
    local shares only). A venue's REST host takes its budget from :data:`active_budgets`."""

    def __init__(self, redis_client: aioredis.Redis | None, options: BudgetOptions | None = None) -> None:
        self.redis = redis_client
        self.options = options or BudgetOptions()
        self.budgets: dict[tuple[str, str, str], SharedBudget] = {}

    def get(
        self,
        scope: str,
        windows: Sequence[Window],
        *,
        account: str = "default",
        endpoint: str = "",
        now_ms: Callable[[], int] = _wall_ms,
    ) -> SharedBudget:
        key = (scope, account, endpoint)
        budget = self.budgets.get(key)
        if budget is None:
            budget = SharedBudget(
                scope, windows, self.redis, options=self.options, account=account, endpoint=endpoint, now_ms=now_ms
            )
            self.budgets[key] = budget
        return budget

    def headroom(self) -> dict[str, dict[str, int]]:
        return {scope: b.headroom() for (scope, _, _), b in self.budgets.items()}

    def namespaces(self) -> tuple[str, ...]:
        """Every budget's Redis name (``binance-spot@host``), for the runner's record."""
        return tuple(sorted({b.namespace for b in self.budgets.values()}))


active_budgets: ContextVar[BudgetRegistry | None] = ContextVar("tradebus_rate_budgets", default=None)
"""Set by the runner (``[rate_limit]``) before it opens the venue; None: no shared budget."""


class HeadroomWatch:
    """One log line per crossing of low headroom, with hysteresis: a window of a scope is *low*
    when less than ``warn_below`` of its limit is left; it is *back* once more than
    ``clear_above`` has been left for a whole window interval (a burst that fills every window
    is one warning, not two lines a window)."""

    def __init__(
        self, warn_below: float, clear_above: float | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if not 0.0 < warn_below < 1.0:
            raise ValueError(f"rate_limit.warn_below must be in (0, 1), got {warn_below}")
        self.warn_below = warn_below
        self.clear_above = min(0.99, 2 * warn_below) if clear_above is None else clear_above
        self._monotonic = monotonic
        self._low: dict[tuple[str, str], float | None] = {}  # low (scope, window) -> above clear since
        self.warnings = 0

    @property
    def low(self) -> list[tuple[str, str]]:
        return sorted(self._low)

    def check(self, budgets: Iterable[SharedBudget]) -> None:
        now = self._monotonic()
        for budget in budgets:
            intervals = {w.name: w.interval_ms / 1000.0 for w in budget.windows}
            for name, share in budget.shares().items():
                self._one(budget, name, share, intervals.get(name, 0.0), now)

    def _one(self, budget: SharedBudget, name: str, share: float, interval_s: float, now: float) -> None:
        key = (budget.scope, name)
        if key not in self._low:
            if share < self.warn_below:
                self._low[key] = None
                self.warnings += 1
                log.warning(
                    "{}: rate-limit headroom low — {} has {:.0%} of its limit left (warns below {:.0%}); "
                    "reads wait, orders use the reserve",
                    budget.scope,
                    name,
                    share,
                    self.warn_below,
                )
            return
        if share <= self.clear_above:
            self._low[key] = None
            return
        since = self._low[key]
        if since is None:
            self._low[key] = now
        elif now - since >= interval_s:
            del self._low[key]
            log.info("{}: rate-limit headroom back — {} has {:.0%} of its limit left", budget.scope, name, share)
