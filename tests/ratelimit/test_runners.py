"""Several real runner processes on one offline Binance venue with its limits on, sharing one
rate-limit budget through a private Redis (docs/runner.md, "The venue's rate limits").

The runners reconcile every second, so together they ask for far more spot weight than the
venue allows: each reconcile costs about 100 weight (open orders 80, account 20), three runners
about 300 a second against a limit of 600 a minute — each alone would stay under it for 6 s."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from exchange_runner.localredis import LocalRedisServer
from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from tests.helpers import eventually_sync, free_port_pair
from tests.integration.conftest import RunnerProc, start_runner

LIMIT = 600
BUSY = {"TRADEBUS_RECONCILE_INTERVAL_S": "1", "TRADEBUS_SYMBOLS": "BTCUSDT", "TRADEBUS_KINDS": "spot"}


def _state(admin: httpx.Client) -> dict[str, Any]:
    state: dict[str, Any] = admin.get("/_sim/state").json()
    return state


def _spot_requests(admin: httpx.Client) -> int:
    return int(_state(admin)["rest"]["spot"]["requests"])


def _refusals(admin: httpx.Client) -> int:
    refusals = _state(admin)["rate_limit_refusals"]
    return int(refusals["spot"]) + int(refusals["futures"])


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _venue_and_runners(
    redis_url: str, tmp: Path, count: int, options: BinanceSimOptions
) -> Iterator[tuple[BinanceSim, httpx.Client, list[RunnerProc]]]:
    port_base = free_port_pair()
    with ExitStack() as stack:
        sim = stack.enter_context(BinanceSim.in_thread(port_base=port_base, seed=3, options=options))
        admin = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port_base}", timeout=10))
        runners: list[RunnerProc] = []
        try:
            with _env(BUSY):
                for i in range(count):
                    name = f"rl-{os.getpid()}-{i}"
                    runners.append(start_runner(redis_url, tmp, name, "--sim-connect", f"127.0.0.1:{port_base}"))
            for rp in runners:
                rp.record(timeout=90)
            yield sim.sim, admin, runners
        finally:
            for rp in runners:
                rp.stop()


def _logs(runners: list[RunnerProc]) -> str:
    return "\n".join(rp.log.read_text(errors="replace") for rp in runners)


@pytest.mark.timeout(300)
def test_a_burst_of_three_runners_is_spread_over_windows_without_a_429(
    private_redis: LocalRedisServer, tmp_path: Path
) -> None:
    options = BinanceSimOptions(spot_weight_per_min=LIMIT, ban_after_violations=1)
    with _venue_and_runners(private_redis.url, tmp_path, 3, options) as (sim, admin, runners):
        limiter = sim.dialect.core.limits["spot"]
        first = _spot_requests(admin)
        peaks: dict[int, int] = {}

        def pressed_in_two_windows() -> bool:
            if _refusals(admin):
                return True  # fails below, with the figures
            now = int(time.time() * 1000)
            start = now - now % 60_000
            peaks[start] = max(peaks.get(start, 0), limiter.weight.count("127.0.0.1", now))
            return len([p for p in peaks.values() if p >= 0.7 * LIMIT]) >= 2

        eventually_sync(pressed_in_two_windows, timeout=150, interval=0.1, what=f"two windows pressed: {peaks}")
        sent, refused = _spot_requests(admin) - first, _refusals(admin)
        print(f"\n[ratelimit] 3 runners, spot {LIMIT}/min: {sent} requests, weight by window {peaks}, 429s {refused}")
        assert refused == 0, _logs(runners)[-3000:]


def test_a_418_seen_by_one_runner_pauses_every_runner_until_the_ban_ends(
    private_redis: LocalRedisServer, tmp_path: Path
) -> None:
    with _venue_and_runners(private_redis.url, tmp_path, 3, BinanceSimOptions()) as (_, admin, runners):
        r = redis.Redis.from_url(private_redis.url)
        # the budget's keys name the venue host the runners send to (its spot port here)
        ban_key = f"tradebus:rl:binance-spot@127.0.0.1:{admin.base_url.port}:ban"
        try:
            eventually_sync(lambda: _spot_requests(admin) > 0, timeout=30, what="spot traffic")
            armed = {"throttle_next": 1, "throttle_status": 418, "retry_after_s": 6, "host": "spot"}
            assert admin.post("/_sim/faults", json=armed).status_code == 200
            eventually_sync(lambda: r.exists(ban_key), timeout=30, what="the ban recorded in Redis")
            # every process's lease is at most lease_ttl_s (1 s) old: after that nothing is sent
            eventually_sync(lambda: 0 < r.pttl(ban_key) < 4_500, timeout=10, what="1.5 s into the ban")
            during = _spot_requests(admin)
            eventually_sync(lambda: r.pttl(ban_key) < 300, timeout=10, what="the ban's end")
            assert _spot_requests(admin) == during, "a runner sent a spot request during the ban"
            eventually_sync(lambda: _spot_requests(admin) > during + 3, timeout=30, what="traffic resumed")
            logs = _logs(runners)
            assert logs.count("venue answered HTTP 418") == 1, logs[-3000:]
        finally:
            r.close()


@pytest.mark.timeout(300)
def test_with_redis_down_each_runner_falls_back_to_its_local_share(
    private_redis: LocalRedisServer, tmp_path: Path
) -> None:
    options = BinanceSimOptions(spot_weight_per_min=4 * LIMIT, ban_after_violations=1)  # a local share fits reads
    with _venue_and_runners(private_redis.url, tmp_path, 2, options) as (_, admin, runners):
        private_redis.stop()
        said = "binance-spot: Redis unreachable"
        eventually_sync(lambda: _logs(runners).count(said) >= 2, timeout=30, what="both runners saying they fall back")
        # the window Redis counted stays spent (conservative); the next one is shared locally
        before = _spot_requests(admin)
        eventually_sync(lambda: _spot_requests(admin) > before + 5, timeout=120, what="requests still flowing")
        assert _refusals(admin) == 0
        for rp in runners:
            assert rp.log.read_text().count(said) == 1  # said once per scope, not per request
            assert rp.proc.poll() is None
