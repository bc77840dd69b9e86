"""Several real runner processes on one offline Binance venue with its limits on, sharing one
rate-limit budget through a private Redis (docs/runner.md, "The venue's rate limits").

The runners reconcile every second, asking for every symbol's open orders
(``reconcile_per_instrument_max = 0``), so together they ask for far more spot weight than the
venue allows: each reconcile costs about 100 weight (open orders 80, account 20), three runners
about 300 a second against a limit of 600 per window: each, counting alone, would take nearly
the whole window for itself (500 of 600) and together they would send 1,500. The
venue's weight window is 5 s here instead of Binance's minute (``weight_window_s``: its
exchangeInfo and usage headers say so, and the runners' budget takes its windows from them),
so a test sees several windows in seconds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
WINDOW_S = 5
WINDOW_MS = WINDOW_S * 1000
BUSY = {
    "TRADEBUS_RECONCILE_INTERVAL_S": "1",
    "TRADEBUS_RECONCILE_PER_INSTRUMENT_MAX": "0",
    # a full test suite can hold a runner's loop for over a second: a request reserved within the
    # default 1 s guard of a boundary could then land uncounted in the next window (docs/runner.md)
    "TRADEBUS_RATE_LIMIT_EDGE_GUARD_S": "2",
    "TRADEBUS_SYMBOLS": "BTCUSDT",
    "TRADEBUS_KINDS": "spot",
}


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


def _ls(redis_url: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "exchange_runner.cli", "ls", "--redis-url", redis_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "HEADROOM" in out.stdout, out.stdout + out.stderr
    return out.stdout


def _limited() -> BinanceSimOptions:
    """Binance's spot limits at 600 weight per 5 s; one refusal bans the IP."""
    return BinanceSimOptions(spot_weight_per_min=LIMIT, weight_window_s=WINDOW_S, ban_after_violations=1)


class _Peaks:
    """The venue's spot weight count per window, sampled (the venue counts; the test watches)."""

    def __init__(self, sim: Any) -> None:
        self._limiter = sim.dialect.core.limits["spot"]
        self.by_window: dict[int, int] = {}

    def sample(self) -> int:
        now = int(time.time() * 1000)
        start = now - now % WINDOW_MS
        self.by_window[start] = max(self.by_window.get(start, 0), self._limiter.weight.count("127.0.0.1", now))
        return start

    def pressed(self, admin: httpx.Client, windows: int, *, since: int = 0) -> bool:
        """``windows`` windows starting at or after ``since`` filled to 70 % (True at once on a
        refusal: the caller's assertion then fails with the figures)."""
        if _refusals(admin):
            return True
        self.sample()
        return len([p for s, p in self.by_window.items() if s >= since and p >= 0.7 * LIMIT]) >= windows

    def max(self) -> int:
        return max(self.by_window.values(), default=0)

    def __repr__(self) -> str:
        return repr(self.by_window)


@pytest.mark.timeout(300)
def test_a_burst_of_three_runners_is_spread_over_windows_without_a_429(
    private_redis: LocalRedisServer, tmp_path: Path
) -> None:
    with _venue_and_runners(private_redis.url, tmp_path, 3, _limited()) as (sim, admin, runners):
        peaks = _Peaks(sim)
        first = _spot_requests(admin)
        eventually_sync(lambda: peaks.pressed(admin, 1), timeout=60, interval=0.1, what=f"a window pressed: {peaks}")
        listed = _ls(private_redis.url)  # the shared headroom of each runner's budgets, from Redis
        eventually_sync(lambda: peaks.pressed(admin, 2), timeout=60, interval=0.1, what=f"two windows pressed: {peaks}")
        sent, refused = _spot_requests(admin) - first, _refusals(admin)
        print(
            f"\n[ratelimit] 3 runners, spot {LIMIT}/{WINDOW_S}s: {sent} requests, "
            f"weight by window {peaks}, 429s {refused}"
        )
        assert refused == 0, _logs(runners)[-3000:]
        assert peaks.max() <= LIMIT
        for rp in runners:
            row = next(line for line in listed.splitlines() if line.startswith(rp.name))
            assert re.search(r" spot \d+% ", row) and "futures" in row, listed
        low = [rp.log.read_text().count("binance-spot: rate-limit headroom low") for rp in runners]
        assert max(low) == 1, low  # one line per crossing, not one per request or window


def test_a_418_seen_by_one_runner_pauses_every_runner_until_the_ban_ends(
    private_redis: LocalRedisServer, tmp_path: Path
) -> None:
    # Binance's own limit per 5 s: the runners' reads never fill a window, so a spot request (the
    # one the armed 418 answers) is never parked for long
    options = BinanceSimOptions(weight_window_s=WINDOW_S)
    with _venue_and_runners(private_redis.url, tmp_path, 3, options) as (_, admin, runners):
        r = redis.Redis.from_url(private_redis.url)
        # the budget's keys name the venue host the runners send to (its spot port here)
        ban_key = f"tradebus:rl:binance-spot@127.0.0.1:{admin.base_url.port}:ban"
        try:
            eventually_sync(lambda: _spot_requests(admin) > 0, timeout=30, what="spot traffic")
            armed = {"throttle_next": 1, "throttle_status": 418, "retry_after_s": 6, "host": "spot"}
            assert admin.post("/_sim/faults", json=armed).status_code == 200
            try:
                eventually_sync(lambda: r.exists(ban_key), timeout=30, what="the ban recorded in Redis")
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}; keys {sorted(k.decode() for k in r.keys('tradebus:rl:*'))}; venue faults "
                    f"{_state(admin).get('faults')}\n" + "\n---\n".join(rp.log.read_text()[-2500:] for rp in runners)
                ) from None
            # every process's lease is at most lease_ttl_s (1 s) old: after that nothing is sent
            eventually_sync(lambda: 0 < r.pttl(ban_key) < 4_500, timeout=10, what="1.5 s into the ban")
            during = _spot_requests(admin)
            eventually_sync(lambda: r.pttl(ban_key) < 300, timeout=10, what="the ban's end")
            sent = _spot_requests(admin) - during
            assert sent == 0, f"{sent} spot requests during the ban\n" + "\n---\n".join(
                rp.log.read_text()[-2000:] for rp in runners
            )
            eventually_sync(lambda: _spot_requests(admin) > during + 3, timeout=30, what="traffic resumed")
            logs = _logs(runners)
            assert logs.count("venue answered HTTP 418") == 1, logs[-3000:]
        finally:
            r.close()


@pytest.mark.timeout(180)
def test_a_redis_restart_mid_burst_falls_back_to_local_shares_then_shares_again(
    private_redis: LocalRedisServer, tmp_path: Path
) -> None:
    """Redis away mid-burst: every runner says so once, falls back to its local share (25 % of
    the limit, 80 % of that for reads: three runners cannot fill 70 % of a window) and nothing is
    refused by the venue; Redis back (empty): each says so once and the budget is shared again —
    a window filled past 70 % is one only a shared count allows."""
    with _venue_and_runners(private_redis.url, tmp_path, 3, _limited()) as (sim, admin, runners):
        peaks = _Peaks(sim)
        eventually_sync(lambda: peaks.pressed(admin, 1), timeout=60, interval=0.1, what=f"a window pressed: {peaks}")
        private_redis.stop()
        down = "binance-spot: Redis unreachable"
        eventually_sync(lambda: _logs(runners).count(down) >= 3, timeout=30, what="every runner falling back")
        outage = peaks.sample() + WINDOW_MS  # the first window wholly inside the outage
        before = _spot_requests(admin)

        def a_window_in_the_outage() -> bool:
            return peaks.sample() > outage and _spot_requests(admin) > before + 5

        eventually_sync(a_window_in_the_outage, timeout=30, interval=0.1, what="requests flowing on local shares")
        alone = peaks.by_window.get(outage, 0)
        private_redis.start()
        back = "binance-spot: Redis back"
        try:
            eventually_sync(lambda: _logs(runners).count(back) >= 3, timeout=30, what="every runner sharing again")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n" + "\n---\n".join(rp.log.read_text()[-2500:] for rp in runners)) from None
        resumed = peaks.sample() + WINDOW_MS
        eventually_sync(
            lambda: peaks.pressed(admin, 1, since=resumed), timeout=60, interval=0.1, what=f"shared again: {peaks}"
        )
        print(f"\n[ratelimit] Redis restart: weight by window {peaks}, outage window {alone}, 429s {_refusals(admin)}")
        assert _refusals(admin) == 0, _logs(runners)[-3000:]
        assert alone < 0.7 * LIMIT  # local shares only while Redis was away
        assert peaks.max() <= LIMIT
        for rp in runners:
            log = rp.log.read_text()
            assert log.count(down) == 1 and log.count(back) == 1, log[-3000:]  # one line each per outage
            assert rp.proc.poll() is None
