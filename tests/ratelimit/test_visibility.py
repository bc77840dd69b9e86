"""Headroom made visible: the low-headroom warning (one line per crossing, hysteresis), the shared
count as ``runner ls`` reads it from Redis, and the Prometheus families."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from loguru import logger

from exchange_runner.headroom import headroom_cell, scope_label
from exchange_runner.localredis import LocalRedisServer
from exchange_runner.metrics import _budget_families
from exchanges.transport.ratelimit import BudgetOptions, BudgetRegistry, HeadroomWatch, read_headroom
from tests.ratelimit.test_budget import ORDERS, T0, WEIGHT, Clock, _budget

ENDPOINT = "127.0.0.1:9"

# exact counts: nothing reserved ahead (keep_ahead), no edge charges
EXACT = BudgetOptions(lease_fraction=0.05, edge_guard_s=0.0, max_wait_s=0, keep_ahead=False)


@pytest.fixture()
async def client(private_redis: LocalRedisServer) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    yield c
    await c.aclose()


def _lines(level: str = "INFO") -> tuple[list[str], int]:
    lines: list[str] = []
    return lines, logger.add(lambda m: lines.append(str(m)), level=level, format="{message}")


async def test_low_headroom_is_one_line_per_crossing_with_hysteresis() -> None:
    clock = Clock()
    budget = _budget(None, clock, max_wait_s=0, fallback_share=0.99)  # local counting: a clear share
    watch = HeadroomWatch(0.25, monotonic=clock.monotonic)
    lines, sink = _lines()
    try:
        for _ in range(60):
            await budget.acquire(1)
        watch.check([budget])
        assert watch.low == [] and lines == []  # 40% left
        for _ in range(20):
            await budget.acquire(1, urgent=True)
        for _ in range(5):  # every request sees it low: still one line
            await budget.acquire(1, urgent=True)
            watch.check([budget])
        assert watch.low == [("binance-spot", "weight_1m")]
        assert len(lines) == 1 and "headroom low — weight_1m has 19% of its limit left" in lines[0], lines
        clock.ms += 60_000  # a fresh window: 100% left, but only for a moment so far
        watch.check([budget])
        clock.ms += 30_000
        watch.check([budget])
        assert watch.low and len(lines) == 1  # not back before a whole window above 50%
        clock.ms += 30_000
        watch.check([budget])
        watch.check([budget])
        assert watch.low == [] and len(lines) == 2 and "headroom back — weight_1m" in lines[1], lines
    finally:
        logger.remove(sink)
    assert watch.warnings == 1


def test_the_warning_threshold_is_checked() -> None:
    with pytest.raises(ValueError, match="warn_below"):
        BudgetOptions(warn_below=0.0)
    with pytest.raises(ValueError, match="warn_below"):
        HeadroomWatch(1.5)


async def test_runner_ls_reads_the_shared_count_and_bans_from_redis(
    client: aioredis.Redis, private_redis: LocalRedisServer
) -> None:
    clock = Clock()
    registry = BudgetRegistry(client, EXACT)
    a = registry.get("binance-spot", [WEIGHT, ORDERS], endpoint=ENDPOINT, now_ms=clock.now_ms)
    b = registry.get("binance-futures", [WEIGHT], endpoint=ENDPOINT, now_ms=clock.now_ms)
    assert registry.namespaces() == (f"binance-futures@{ENDPOINT}", f"binance-spot@{ENDPOINT}")
    sync = redis.Redis.from_url(private_redis.url)
    try:
        assert read_headroom(sync, f"binance-spot@{ENDPOINT}", now_ms=T0) is None  # nothing counted yet
        for _ in range(30):
            await a.acquire(1)
        await a.acquire(1, order=True, urgent=True)
        await b.acquire(1)
        seen = read_headroom(sync, f"binance-spot@{ENDPOINT}", now_ms=T0)
        assert seen is not None
        assert seen.shares["weight_1m"] == pytest.approx(1 - 35 / 100)  # 31 used + 4 of the lease
        assert seen.shares["orders_10s"] == pytest.approx(0.9)
        assert headroom_cell(sync, registry.namespaces(), "binance", now_ms=T0) == "futures 95% spot 65%"
        later = read_headroom(sync, f"binance-spot@{ENDPOINT}", now_ms=T0 + 60_000)
        assert later is not None and later.shares["weight_1m"] == 1.0  # the next window
        await a.ban(30, status=418)
        assert "spot banned 30s" in headroom_cell(sync, registry.namespaces(), "binance", now_ms=T0)
        assert headroom_cell(sync, (), "binance") == "-"
        assert scope_label("bybit@api.bybit.com", "bybit") == "bybit"
    finally:
        sync.close()


async def test_the_budget_families_for_prometheus(client: aioredis.Redis) -> None:
    clock = Clock()
    registry = BudgetRegistry(client, EXACT)
    budget = registry.get("binance-spot", [WEIGHT, ORDERS], endpoint=ENDPOINT, now_ms=clock.now_ms)
    for _ in range(50):
        await budget.acquire(1)
    families = {f.name: f for f in _budget_families(registry)}
    assert list(_budget_families(object())) == []  # a runner without budgets
    ratio = {s.labels["window"]: s.value for s in families["tradebus_rate_limit_headroom_ratio"].samples}
    assert ratio == {"weight_1m": pytest.approx(0.5), "orders_10s": 1.0}
    assert families["tradebus_rate_limit_shared"].samples[0].value == 1
    assert families["tradebus_rate_limit_banned_seconds"].samples[0].value == 0


def test_the_dashboard_shows_the_budget_families() -> None:
    dashboard = json.loads(
        (Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/tradebus.json").read_text()
    )
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    registry = BudgetRegistry(None)
    registry.get("binance-spot", [WEIGHT])
    exported = {f.name for f in _budget_families(registry)}
    assert exported == {
        "tradebus_rate_limit_headroom_ratio",
        "tradebus_rate_limit_shared",
        "tradebus_rate_limit_banned_seconds",
        "tradebus_rate_limit_refused",  # counter: tradebus_rate_limit_refused_total on the page
    }
    for name in exported:
        assert name in exprs, name
