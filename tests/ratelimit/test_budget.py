"""SharedBudget against a real private redis-server, on a fake clock (no waiting)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from loguru import logger

from exchange_runner.localredis import LocalRedisServer
from exchanges.binance.weights import request_cost
from exchanges.errors import IpBanned, RateLimited
from exchanges.transport.ratelimit import BudgetOptions, SharedBudget, Window, binance_windows

WEIGHT = Window("weight_1m", "weight", 60_000, 100)
ORDERS = Window("orders_10s", "orders", 10_000, 10)
T0 = 1_700_000_040_000  # a minute boundary


class Clock:
    def __init__(self) -> None:
        self.ms = T0
        self.slept: list[float] = []

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.ms / 1000.0

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.ms += int(s * 1000) + 1


@pytest.fixture()
async def client(private_redis: LocalRedisServer) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    yield c
    await c.aclose()


def _budget(client: aioredis.Redis | None, clock: Clock, **opts: float) -> SharedBudget:
    return SharedBudget(
        "binance-spot",
        [WEIGHT, ORDERS],
        client,
        # exact counts of round trips and units: nothing reserved ahead unless a test asks (keep_ahead)
        options=BudgetOptions(**{"lease_fraction": 0.05, "edge_guard_s": 0.0, "keep_ahead": False, **opts}),  # type: ignore[arg-type]
        now_ms=clock.now_ms,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )


async def _take_until_refused(budget: SharedBudget, *, order: bool = False, urgent: bool = False) -> int:
    taken = 0
    while True:
        try:
            await budget.acquire(1, order=order, urgent=urgent)
        except RateLimited:
            return taken
        taken += 1


async def test_two_processes_share_one_window_and_orders_keep_their_reserve(client: aioredis.Redis) -> None:
    clock = Clock()
    a, b = _budget(client, clock, max_wait_s=0), _budget(client, clock, max_wait_s=0)
    reads = await _take_until_refused(a) + await _take_until_refused(b)
    # reads stop at 80% of the limit for both processes together (not 80 each)
    assert 70 <= reads <= 80
    urgent = await _take_until_refused(a, urgent=True) + await _take_until_refused(b, urgent=True)
    assert reads + urgent <= 100 and urgent >= 10
    raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0}")
    assert raw is not None and int(raw) <= 100


async def test_each_venue_host_has_a_budget_of_its_own(client: aioredis.Redis) -> None:
    """Production and a testnet (or two offline venues) are different quotas: spending one leaves
    the other whole; processes sending to one host still share it."""
    clock = Clock()

    def at(endpoint: str) -> SharedBudget:
        return SharedBudget(
            "binance-spot",
            [WEIGHT, ORDERS],
            client,
            options=BudgetOptions(lease_fraction=0.05, edge_guard_s=0.0, max_wait_s=0),
            endpoint=endpoint,
            now_ms=clock.now_ms,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )

    spent = await _take_until_refused(at("api.binance.com")) + await _take_until_refused(at("api.binance.com"))
    assert 70 <= spent <= 80  # two processes, one host: one budget
    assert 70 <= await _take_until_refused(at("testnet.binance.vision")) <= 80
    raw = await client.get(f"tradebus:rl:binance-spot@api.binance.com:ip:weight_1m:{T0}")
    assert raw is not None and int(raw) <= 100


async def test_the_lease_saves_round_trips(client: aioredis.Redis) -> None:
    clock = Clock()
    reads = _budget(client, clock)
    for _ in range(38):
        await reads.acquire(1)
    assert reads.reservations == 8  # one Redis call per 5 units (2 left)
    clock.ms += 1_001  # past lease_ttl_s: the lease is checked (ban) and topped up, not doubled
    await reads.acquire(1)
    assert reads.reservations == 9
    raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0}")
    assert raw is not None and int(raw) == 43  # reserved = used (39) + what is left of one lease (4)


async def test_an_order_over_the_order_window_is_refused_with_the_wait(client: aioredis.Redis) -> None:
    clock = Clock()
    budget = _budget(client, clock)
    for _ in range(10):
        await budget.acquire(1, order=True, urgent=True)
    clock.ms += 2_500
    with pytest.raises(RateLimited) as info:
        await budget.acquire(1, order=True, urgent=True)
    assert info.value.retry_after_s == pytest.approx(7.5)
    assert clock.slept == []  # an order is never parked


async def test_a_read_waits_for_the_next_window_then_goes(client: aioredis.Redis) -> None:
    clock = Clock()
    budget = _budget(client, clock)
    for _ in range(80):
        await budget.acquire(1)
    clock.ms += 30_000
    await budget.acquire(1)
    assert clock.slept == [pytest.approx(30.0)]
    assert budget.headroom()["weight_1m"] >= 90  # a fresh window


async def test_a_read_never_waits_longer_than_max_wait(client: aioredis.Redis) -> None:
    clock = Clock()
    budget = _budget(client, clock, max_wait_s=5)
    for _ in range(80):
        await budget.acquire(1)
    with pytest.raises(RateLimited):
        await budget.acquire(1)
    assert clock.slept == []


async def test_the_venue_headers_raise_the_shared_count(client: aioredis.Redis) -> None:
    clock = Clock()
    a, b = _budget(client, clock, max_wait_s=0), _budget(client, clock, max_wait_s=0)
    await a.acquire(1)
    a.observe("weight_1m", 78)  # another client of the IP used most of the window
    a.observe("weight_1m", 60)  # an older header never lowers it
    await a.acquire(5)
    with pytest.raises(RateLimited):
        await b.acquire(5)
    assert b.headroom()["weight_1m"] <= 100 - 78


async def test_a_ban_seen_by_one_process_stops_the_other(client: aioredis.Redis) -> None:
    clock = Clock()
    a, b = _budget(client, clock), _budget(client, clock)
    await b.acquire(1)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    try:
        await a.ban(30.0, status=418)
        await a.ban(30.0, status=418)  # the same ban again: no second line
    finally:
        logger.remove(sink)
    assert len([x for x in lines if "HTTP 418" in x]) == 1
    clock.ms += 1_001  # b's lease is older than lease_ttl_s: it asks Redis
    with pytest.raises(IpBanned) as info:
        await b.acquire(1, order=True, urgent=True)
    assert 28.0 <= (info.value.retry_after_s or 0) <= 29.0
    await b.acquire(1)  # a read waits the ban out
    assert clock.slept and clock.slept[0] == pytest.approx(29.0, abs=0.01)
    assert b.banned_for_s() == 0.0


async def test_a_request_counted_in_no_window_still_learns_of_a_ban(client: aioredis.Redis) -> None:
    """Binance's weight-0 endpoints (a futures order's IP weight, fundingInfo), an OKX endpoint on
    no rule: nothing to reserve, but a ban another process saw stops them too (within 1 s)."""
    clock = Clock()
    a, b = _budget(client, clock), _budget(client, clock)
    await b.acquire(0)
    await b.acquire(0)  # asked Redis a moment ago: no round trip
    assert b.reservations == 1
    await a.ban(30.0, status=418)
    clock.ms += 1_001
    with pytest.raises(IpBanned):
        await b.acquire(0, urgent=True)


async def test_redis_down_falls_back_to_a_local_share_said_once(private_redis: LocalRedisServer) -> None:
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        budget = _budget(client, clock, max_wait_s=0, fallback_share=0.25)
        await budget.acquire(1)
        private_redis.stop()
        clock.ms += 60_000  # next window
        lines: list[str] = []
        sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
        try:
            taken = await _take_until_refused(budget)
        finally:
            logger.remove(sink)
        assert not budget.shared
        assert taken == 20  # 25% of 100, minus the order reserve (20%)
        assert len([x for x in lines if "falls back" in x]) == 1
        private_redis.start()
        clock.ms += 60_000 + 5_000
        await budget.acquire(1)
        assert budget.shared
    finally:
        await client.aclose()


async def test_no_redis_at_all_uses_the_local_share() -> None:
    clock = Clock()
    budget = _budget(None, clock, max_wait_s=0, fallback_share=0.5)
    assert await _take_until_refused(budget) == 40


def test_binance_windows_from_exchange_info() -> None:
    ws = binance_windows(
        [
            ("REQUEST_WEIGHT", "MINUTE", 1, 6000),
            ("ORDERS", "SECOND", 10, 100),
            ("ORDERS", "DAY", 1, 200000),
            ("RAW_REQUESTS", "MINUTE", 5, 61000),
        ]
    )
    assert [(w.name, w.kind, w.interval_ms, w.limit) for w in ws] == [
        ("weight_1m", "weight", 60_000, 6000),
        ("orders_10s", "orders", 10_000, 100),
        ("orders_1d", "orders", 86_400_000, 200000),
    ]


@pytest.mark.parametrize(
    ("product", "method", "path", "params", "expected"),
    [
        ("spot", "POST", "/api/v3/order", "symbol=BTCUSDT", (1, True, True)),
        ("spot", "DELETE", "/api/v3/order", "symbol=BTCUSDT", (1, False, True)),
        ("spot", "GET", "/api/v3/openOrders", "", (80, False, False)),
        ("spot", "GET", "/api/v3/openOrders", "symbol=BTCUSDT", (6, False, False)),
        ("spot", "GET", "/api/v3/depth", "symbol=BTCUSDT&limit=1000", (50, False, False)),
        ("futures", "POST", "/fapi/v1/order", "symbol=BTCUSDT", (0, True, True)),
        ("futures", "GET", "/fapi/v1/depth", "symbol=BTCUSDT&limit=20", (2, False, False)),
        ("futures", "GET", "/fapi/v1/time", "", (1, False, False)),
        # the user-data key is as urgent as an order (issue 12's recovery bound held only so)
        ("futures", "POST", "/fapi/v1/listenKey", "", (1, False, True)),
        ("futures", "PUT", "/fapi/v1/listenKey", "", (1, False, True)),
        ("spot", "POST", "/api/v3/userDataStream", "", (1, False, True)),
        ("spot", "DELETE", "/api/v3/userDataStream", "", (1, False, False)),
    ],
)
def test_request_cost(product: str, method: str, path: str, params: str, expected: tuple[int, bool, bool]) -> None:
    cost = request_cost(product, method, path, params)  # type: ignore[arg-type]
    assert (cost.weight, cost.order, cost.urgent) == expected
    # only the user-data key's create and keep-alive may pass a spent share (Redis away)
    assert cost.stream_key == (method in ("POST", "PUT") and path in ("/fapi/v1/listenKey", "/api/v3/userDataStream"))


async def test_near_a_window_edge_a_request_counts_in_both_windows(client: aioredis.Redis) -> None:
    """Our clock and the venue's differ by up to ``edge_guard_s``: a request sent just after our
    boundary may land in the venue's previous window (and just before it, in its next one)."""
    clock = Clock()
    budget = _budget(client, clock, edge_guard_s=0.5, max_wait_s=120)
    clock.ms = T0 - 30_000
    for _ in range(80):
        await budget.acquire(1)  # the previous window's read share is spent
    clock.ms = T0 + 200  # our new window, but within the guard: the venue may still be in the old one
    await budget.acquire(1)
    assert clock.slept == [pytest.approx(0.3, abs=0.002)]  # parked until the guard has passed
    before_edge = T0 + 60_000 - 100
    clock.ms = before_edge
    await budget.acquire(3)
    nxt = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0 + 60_000}")
    assert nxt is not None and int(nxt) == 3  # charged to the next window too, exactly (no lease)
    assert not budget.try_take(1, order=False)  # no lease spending near an edge


async def test_once_a_read_is_refused_other_reads_wait_without_asking_redis(client: aioredis.Redis) -> None:
    """Parked reads of a process must not all hit Redis when they wake (a herd delays the
    requests that were granted, past the window they were counted in)."""
    clock = Clock()
    budget = _budget(client, clock, max_wait_s=0)
    for _ in range(80):
        await budget.acquire(1)
    calls = budget.reservations
    for _ in range(5):
        with pytest.raises(RateLimited):
            await budget.acquire(1)
    assert budget.reservations == calls + 1
    await budget.acquire(1, order=True, urgent=True)  # orders still ask (and get the reserve)


async def test_redis_back_empty_counts_what_each_process_took_alone(private_redis: LocalRedisServer) -> None:
    """Three processes on their local shares while Redis is away, then Redis back with nothing in
    it: what each took alone is added to the shared count as it comes back, and a process keeps to
    its own share until the others are back — the window never holds more than the limit
    (without that, the first one back would see an empty window and take all of it again)."""
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        a, b, c = (_budget(client, clock, max_wait_s=0, fallback_share=0.25) for _ in range(3))
        for budget in (a, b, c):
            await budget.acquire(1)
        private_redis.stop()
        clock.ms += 60_000  # the next window, all three on their local shares
        alone = [await _take_until_refused(p) for p in (a, b, c)]
        assert alone == [20, 20, 20]
        private_redis.start()
        clock.ms += 5_001  # past redis_retry_s
        for budget in (a, b, c):
            await budget.acquire(1, urgent=True)  # back (an order: reads wait for the next window)
            assert budget.shared
        window = T0 + 60_000
        raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{window}")
        assert raw is not None and int(raw) == 63  # each added what it took alone
        # until the others are back, its own share (25 for orders): 4 more, though Redis has room
        assert await _take_until_refused(a, urgent=True) == 4
        clock.ms += 6_001
        after = await _take_until_refused(a, urgent=True)
        assert sum(alone) + 3 + 4 + after == 100  # the whole limit, never more
    finally:
        await client.aclose()


async def test_the_first_request_back_from_an_outage_keeps_to_the_local_share(
    private_redis: LocalRedisServer,
) -> None:
    """A process that spent its local share while Redis was away does not take more from the
    shared count the moment Redis answers again (the others may still be counting alone)."""
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        budget = _budget(client, clock, max_wait_s=0, fallback_share=0.25)
        await budget.acquire(1)
        private_redis.stop()
        clock.ms += 60_000
        assert await _take_until_refused(budget, urgent=True) == 25  # the whole local share
        private_redis.start()
        clock.ms += 5_001
        with pytest.raises(RateLimited):
            await budget.acquire(1, urgent=True)
        # what it took alone is in the shared count for the others to see, and nothing more
        raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0 + 60_000}")
        assert raw is not None and int(raw) == 25
    finally:
        await client.aclose()


async def test_alone_a_request_near_a_windows_end_counts_in_the_next_one_too() -> None:
    """On the local share (no Redis) a request just before a boundary may arrive in the next
    window: it counts in that window's share too."""
    clock = Clock()
    budget = SharedBudget(
        "binance-spot",
        [WEIGHT],
        None,
        options=BudgetOptions(max_wait_s=0, fallback_share=0.25, edge_guard_s=1.0),
        now_ms=clock.now_ms,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    clock.ms += 59_500  # half a second before the minute
    assert await _take_until_refused(budget) == 20
    clock.ms += 1_600  # the next minute, past its edge guard
    assert await _take_until_refused(budget) == 0  # those 20 may have landed here


async def _back_from_an_outage(
    server: LocalRedisServer, client: aioredis.Redis, clock: Clock, alone: tuple[int, int, int]
) -> list[SharedBudget]:
    """Three processes, Redis away for a window in which each takes ``alone`` orders on its local
    share, then Redis back (empty) and past ``redis_retry_s``: none of them has asked it yet."""
    budgets = [_budget(client, clock, max_wait_s=0, fallback_share=0.25) for _ in alone]
    for budget in budgets:
        await budget.acquire(1)
    server.stop()
    clock.ms += 60_000  # the next window, all three on their local shares
    for budget, n in zip(budgets, alone, strict=True):
        for _ in range(n):
            await budget.acquire(1, urgent=True)
    server.start()
    clock.ms += 5_001
    return budgets


async def _burst(budget: SharedBudget, n: int) -> int:
    """``n`` orders at once (one event loop, as a runner's concurrent requests): how many got through."""
    results = await asyncio.gather(*(budget.acquire(1, urgent=True) for _ in range(n)), return_exceptions=True)
    assert all(r is None or isinstance(r, RateLimited) for r in results), results
    return sum(1 for r in results if r is None)


async def test_a_burst_back_from_an_outage_keeps_to_the_process_s_own_share(private_redis: LocalRedisServer) -> None:
    """Just back from an outage, a process keeps to its own share even when many of its requests
    ask Redis at once: each counts what the others are still asking for. Before, all of them
    passed the own-share check before any grant was counted and together took the whole shared
    window, from a count that lacked what the other processes took alone — three runners'
    reconciles did that on a loaded box, and the venue answered 418."""
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        a, _, _ = await _back_from_an_outage(private_redis, client, clock, (1, 25, 25))
        granted = await _burst(a, 40)
        assert a.shared
        assert granted == 24  # the rest of its own share for orders, though the shared count has room
        assert 1 + granted + 50 <= 100  # what the venue sees in the window, the others' 50 included
    finally:
        await client.aclose()


async def test_a_burst_back_from_an_outage_adds_what_the_process_took_alone_once(
    private_redis: LocalRedisServer,
) -> None:
    """What a process took alone is added to the shared count once, however many of its requests
    reach Redis together (before, each of them added it: 15 taken alone counted 30 times)."""
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        a, _, _ = await _back_from_an_outage(private_redis, client, clock, (15, 0, 0))
        granted = await _burst(a, 30)
        assert granted == 10  # the rest of its own share
        raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0 + 60_000}")
        assert raw is not None and int(raw) == 15 + 10
    finally:
        await client.aclose()


async def test_a_process_idle_through_an_outage_keeps_to_its_own_share_after_it(
    private_redis: LocalRedisServer,
) -> None:
    """A process that sent nothing while Redis was away never saw it go, but Redis came back
    empty: its first reservation finds the restart (the store's epoch changed) and it keeps to its
    own share like the others, instead of taking the whole window the others are still spending
    alone."""
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        a, b, c = await _back_from_an_outage(private_redis, client, clock, (0, 25, 25))
        assert a.shared  # as far as it knows
        assert await _burst(a, 40) == 25
        assert await _take_until_refused(a, urgent=True) == 0
        for other in (b, c):  # their next request: refused (their own share is spent), yet counted
            assert await _take_until_refused(other, urgent=True) == 0
            assert other.shared
        raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0 + 60_000}")
        assert raw is not None and int(raw) == 75
        clock.ms += 6_001  # every process is back: the shared count again
        assert await _take_until_refused(a, urgent=True) == 25
    finally:
        await client.aclose()


async def test_concurrent_requests_reserve_one_lease_not_one_each(client: aioredis.Redis) -> None:
    """A runner's start sends its requests at once: each used to reserve a whole lease of its
    own (N requests, N leases the venue never saw), filling the shared window for every other
    process. While a refill is in flight, the others ask for what they need only."""
    clock = Clock()
    budget = _budget(client, clock)
    lease = max(1, int(WEIGHT.limit * 0.05))
    await asyncio.gather(*(budget.acquire(1) for _ in range(10)))
    raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0}")
    assert raw is not None and int(raw) <= lease + 9  # one lease, then one unit per other request
    for _ in range(lease - 1):  # what the one lease left is spent locally, no more reserved
        await budget.acquire(1)
    raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0}")
    assert raw is not None and int(raw) <= lease + 9 + lease


async def test_the_user_data_key_passes_a_spent_share_while_redis_is_away(private_redis: LocalRedisServer) -> None:
    """Redis gone mid-window after this process took half of it: its local share is spent, so
    reads and orders are refused until the next window — but the user-data stream's key (the
    stream the orders' fates arrive on) still goes, within ``stream_key_allowance``. Before, it
    was refused too, and a chaos run's Binance user stream stayed down 26 s, until the minute's
    window turned."""
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        budget = _budget(client, clock, max_wait_s=0, fallback_share=0.25, stream_key_allowance=3)
        for _ in range(50):
            await budget.acquire(1)
        private_redis.stop()
        clock.ms += 10_000  # the same window: 50 of 100 used, more than this process's share
        assert await _take_until_refused(budget) == 0
        assert await _take_until_refused(budget, urgent=True) == 0
        assert not budget.shared
        for _ in range(3):
            await budget.acquire(1, urgent=True, stream_key=True)
        with pytest.raises(RateLimited):  # the allowance is bounded
            await budget.acquire(1, urgent=True, stream_key=True)
        assert await _take_until_refused(budget, urgent=True) == 0  # orders are not let through by it
        clock.ms += 60_000  # the next window: the share and the allowance again
        await budget.acquire(1, urgent=True, stream_key=True)
    finally:
        await client.aclose()


async def test_the_user_data_key_passes_a_spent_own_share_just_back_from_an_outage(
    private_redis: LocalRedisServer,
) -> None:
    """Redis back (restarted empty) while this process keeps to its own share, which it spent:
    orders wait for the others to be back, the user-data key goes through Redis (counted there)
    within ``stream_key_allowance``."""
    clock = Clock()
    client = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        budget = _budget(client, clock, max_wait_s=0, fallback_share=0.25, stream_key_allowance=2)
        await budget.acquire(1)
        private_redis.stop()
        clock.ms += 60_000
        assert await _take_until_refused(budget, urgent=True) == 25  # its whole local share
        private_redis.start()
        clock.ms += 5_001  # Redis asked again: back, the own share still holds
        assert await _take_until_refused(budget, urgent=True) == 0
        assert budget.shared
        await budget.acquire(1, urgent=True, stream_key=True)
        await budget.acquire(1, urgent=True, stream_key=True)
        with pytest.raises(RateLimited):
            await budget.acquire(1, urgent=True, stream_key=True)
        raw = await client.get(f"tradebus:rl:binance-spot:ip:weight_1m:{T0 + 60_000}")
        assert raw is not None and int(raw) == 25 + 2  # what it took alone, and the key's two
    finally:
        await client.aclose()


# -- reserving ahead (keep_ahead): the order path does not wait for Redis ----------------------------

ORDERS_100 = Window("orders_10s", "orders", 10_000, 100)  # lease: 5 orders


async def _settled(budget: SharedBudget) -> None:
    """Let a reservation made ahead finish (it runs when the loop gets a turn, as between orders)."""
    await budget.reserved_ahead()


async def test_orders_across_a_window_edge_never_wait_for_redis_with_leases_kept_ahead(
    client: aioredis.Redis,
) -> None:
    """One order every 100 ms across a window's edge, guard 1 s: without reserving ahead every order
    within 1 s of the edge, and every fifth one elsewhere (the lease of 5 spent), waits for a Redis
    round trip; with it only the first does — each lease is topped up, and the next window's one
    reserved, in the background between orders. Every order is still counted in Redis, in both
    windows near the edge."""
    sync: dict[bool, int] = {}
    for ahead in (False, True):
        clock = Clock()
        clock.ms = T0 + (20_000 if ahead else 0) + 7_000  # each run on its own windows
        budget = SharedBudget(
            f"binance-futures-{ahead}",
            [ORDERS_100],
            client,
            options=BudgetOptions(lease_fraction=0.05, edge_guard_s=1.0, keep_ahead=ahead),
            now_ms=clock.now_ms,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        )
        for _ in range(60):  # 7.0 s → 13.0 s of the window: the edge at 10 s
            await budget.acquire(1, order=True, urgent=True)
            await _settled(budget)
            clock.ms += 100
        sync[ahead] = budget.reservations - budget.kept
        base = clock.ms - 60 * 100
        first = f"tradebus:rl:binance-futures-{ahead}:default:orders_10s:{base - base % 10_000}"
        second = f"tradebus:rl:binance-futures-{ahead}:default:orders_10s:{base - base % 10_000 + 10_000}"
        counted = [int(await client.get(k) or 0) for k in (first, second)]
        # orders 7.0–10.9 s count in the first window (those from 10.0 s as edge charges), 9.0–12.9 s
        # in the second: at least 40 + 30, and the leases reserved ahead and not yet spent on top
        assert counted[0] >= 40 and counted[1] >= 30, counted
        assert counted[0] <= 40 + 2 * 5 and counted[1] <= 40 + 2 * 5, counted
    assert sync[False] >= 20, sync  # the 20 near the edge, and refills elsewhere
    assert sync[True] == 1, sync  # the first order (no lease yet); none after


async def test_a_ban_another_process_saw_stops_orders_within_the_lease_ttl_while_reserving_ahead(
    client: aioredis.Redis,
) -> None:
    clock = Clock()
    opts = BudgetOptions(lease_fraction=0.05, edge_guard_s=0.0, keep_ahead=True)
    a = SharedBudget("binance-spot", [ORDERS_100], client, options=opts, now_ms=clock.now_ms, monotonic=clock.monotonic)
    b = SharedBudget("binance-spot", [ORDERS_100], client, options=opts, now_ms=clock.now_ms, monotonic=clock.monotonic)
    await a.acquire(1, order=True, urgent=True)
    await b.ban(30.0, status=418)
    refused_at = None
    for step in range(20):  # an order every 100 ms, the lease renewed ahead
        try:
            await a.acquire(1, order=True, urgent=True)
        except IpBanned:
            refused_at = step * 100
            break
        await _settled(a)
        clock.ms += 100
    assert refused_at is not None and refused_at <= 1_000  # lease_ttl_s


async def test_nothing_is_reserved_ahead_in_a_weight_window_past_half_full(client: aioredis.Redis) -> None:
    """Reserving ahead in a busy weight window would hold units idle that other processes' parked
    reads wait for, and take the next window before a waiting process wakes at its turn: past half
    of the reads' cap, requests reserve for themselves as before. (Order windows are never parked
    on: orders are refused, not queued.)"""
    clock = Clock()
    clock.ms = T0 + 2_000
    opts = BudgetOptions(lease_fraction=0.05, edge_guard_s=0.0, keep_ahead=True)
    a = SharedBudget("binance-spot", [WEIGHT], client, options=opts, now_ms=clock.now_ms, monotonic=clock.monotonic)
    b = SharedBudget("binance-spot", [WEIGHT], client, options=opts, now_ms=clock.now_ms, monotonic=clock.monotonic)
    for _ in range(4):  # a's lease (5) runs low while the window is quiet: reserved ahead
        await a.acquire(1)
    await _settled(a)
    assert a.kept == 1
    for _ in range(40):  # another process fills the window past half the reads' cap (80)
        await b.acquire(1)
    for _ in range(12):
        await a.acquire(1)
        await _settled(a)
    assert a.kept <= 2, a.kept  # at most the reservation that saw the window past half
