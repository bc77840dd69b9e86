"""Registration in Redis: one record per runner, kept alive by a heartbeat.

Every heartbeat writes the whole record with its TTL (``SET … EX``), so a Redis that restarted
and lost its data gets the record back on the next beat without special handling. Between
beats the registrar checks every ``recheck_s`` (0.5 s) that its key is still there
(``EXISTS``): a Redis that came back empty gets the record again within ``recheck_s``, not at
the next beat; while Redis is down it retries every ``recheck_s``. If Redis is down the runner
keeps trading; ``redis_ok`` turns false and the status says so.
"""

from __future__ import annotations

import asyncio
import time

import msgspec
import redis.asyncio as aioredis
from loguru import logger

from strategy_client.wire import HEARTBEAT_S, REGISTRATION_TTL_S, RunnerRecord, encode_record, runner_key

__all__ = ["Registrar"]


class Registrar:
    def __init__(
        self,
        redis_url: str,
        record: RunnerRecord,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        ttl_s: int = REGISTRATION_TTL_S,
        recheck_s: float = 0.5,
    ) -> None:
        self.redis_url = redis_url
        self.record = record
        self.heartbeat_s = heartbeat_s
        self.ttl_s = ttl_s
        self.recheck_s = min(recheck_s, heartbeat_s)
        self.reregistrations = 0  # records found missing between beats and written again
        self._deregistered = False  # after a clean stop's deregister, nothing writes the record again
        self._client = aioredis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.redis_ok = False
        self.beats = 0
        self.failures = 0
        self._was_down = False

    @property
    def key(self) -> str:
        return runner_key(self.record.name)

    def set_status(self, status: str) -> None:
        self.record = msgspec.structs.replace(self.record, status=status)

    async def register(self) -> bool:
        if self._deregistered:
            return False
        rec = msgspec.structs.replace(self.record, heartbeat_ms=time.time_ns() // 1_000_000)
        try:
            await self._client.set(self.key, encode_record(rec), ex=self.ttl_s)
        except (aioredis.RedisError, OSError) as exc:
            self.failures += 1
            if self.redis_ok or not self._was_down:
                logger.warning("redis: cannot register at {} ({}); trading continues", self.redis_url, exc)
            self.redis_ok = False
            self._was_down = True
            return False
        if self._was_down:
            logger.info("redis: registered again as {}", self.key)
        self._was_down = False
        self.redis_ok = True
        self.beats += 1
        return True

    async def heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._deregistered:
            await self.register()
            next_beat = loop.time() + self.heartbeat_s
            while (remaining := next_beat - loop.time()) > 0:
                await asyncio.sleep(min(self.recheck_s, remaining))
                if self._deregistered:
                    return
                if not self.redis_ok:
                    break  # retry now (every recheck_s while Redis is down)
                listed = await self._listed()
                if listed is None:
                    break  # Redis does not answer: register() reports it and we retry every recheck_s
                if not listed:
                    self.reregistrations += 1
                    logger.warning("redis: {} vanished (Redis restarted empty?); registering again", self.key)
                    break

    async def _listed(self) -> bool | None:
        """Whether our key exists; None when Redis does not answer."""
        try:
            return bool(await self._client.exists(self.key))
        except (aioredis.RedisError, OSError):
            return None

    async def deregister(self) -> None:
        self._deregistered = True
        try:
            await self._client.delete(self.key)
        except (aioredis.RedisError, OSError) as exc:
            logger.warning("redis: could not remove {}: {}", self.key, exc)

    async def close(self) -> None:
        await self._client.aclose()
