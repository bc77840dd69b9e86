from __future__ import annotations

import redis

from exchange_runner.localredis import LocalRedisServer, redis_ping, redis_server_binary


def test_a_real_server_binary_is_available() -> None:
    assert redis_server_binary() is not None


def test_local_server_starts_answers_and_stops() -> None:
    server = LocalRedisServer()
    url = server.start()
    try:
        client = redis.Redis.from_url(url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        assert int(client.info("server")["tcp_port"]) == server.port
        client.close()
    finally:
        server.stop()
    assert not redis_ping(url, timeout_s=0.2)


def test_suite_fixture_is_private(redis_url: str) -> None:
    assert not redis_url.endswith(":6379/0")
    assert redis_ping(redis_url)


def test_shipped_runner_config_loads() -> None:
    from pathlib import Path

    from exchange_runner.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "runner.binance.toml", {})
    assert cfg.venue == "sim" and cfg.symbols == ["BTCUSDT", "ETHUSDT"]
