"""A private redis-server per test (stopped and restarted by the fallback tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange_runner.localredis import LocalRedisServer, RedisUnavailable, redis_server_binary


@pytest.fixture()
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisServer]:
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary on this machine")
    server = LocalRedisServer(workdir=tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except RedisUnavailable as exc:
        pytest.skip(f"redis-server would not start: {exc}")
    try:
        yield server
    finally:
        server.stop()
