"""Registration in Redis: one record per runner, kept alive by a heartbeat.

Every heartbeat writes the whole record with its TTL (``SET … EX``), so a Redis that restarted
and lost its data gets the record back on the next beat without special handling. Between
beats the registrar checks every ``recheck_s`` (0.5 s) that its key is still there
(``EXISTS``): a Redis that came back empty gets the record again within ``recheck_s``, not at
the next beat; while Redis is down it retries every ``recheck_s``. If Redis is down the runner
keeps trading; ``redis_ok`` turns false and the status says so.

One name, one runner. :meth:`claim` (before the first registration) refuses a name whose
record belongs to a live runner — :class:`NameTaken`, one line naming its PID and host —
unless ``replace``. "Live": the record is there (its TTL has not run out) and, when it names
this host, its PID exists (a record left by a killed runner on this host, or by this very PID
in a restarted container, is taken over at once). Every later write is conditional (one Lua
script: write only if the key is absent or holds our ``epoch``), and so is the delete on a clean
stop: a runner whose name was taken over with ``--replace`` never writes it back nor deletes
it; it logs one line and calls ``on_replaced`` (the runner stops). Log lines show the Redis URL
without its password.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable

import msgspec
import redis
import redis.asyncio as aioredis
from loguru import logger

from strategy_client.security import redact_url
from strategy_client.wire import (
    HEARTBEAT_S,
    REGISTRATION_TTL_S,
    RunnerRecord,
    decode_record,
    encode_record,
    runner_key,
)

__all__ = ["Registrar", "NameTaken", "check_name", "listed_status"]

# SET only if the key is absent or is ours (ARGV[3] is '"epoch":"<ours>"'); else return what is there
_OWNED_SET = """
local cur = redis.call('GET', KEYS[1])
if cur and not string.find(cur, ARGV[3], 1, true) then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""
# DEL only if the key is ours
_OWNED_DEL = """
local cur = redis.call('GET', KEYS[1])
if cur and string.find(cur, ARGV[1], 1, true) then return redis.call('DEL', KEYS[1]) end
return 0
"""


class NameTaken(RuntimeError):
    """Another live runner holds this registration name (the message is one line)."""


def _taken_message(name: str, other: RunnerRecord, why: str) -> str:
    age = max(0.0, time.time() - other.heartbeat_ms / 1000) if other.heartbeat_ms else None
    seen = f", last heartbeat {age:.0f}s ago" if age is not None else ""
    return (
        f"runner name {name!r} is held by pid {other.pid} on host {other.host} ({why}{seen}); "
        "stop it, pick another --name, or pass --replace"
    )


def check_name(redis_url: str, name: str) -> None:
    """Before starting anything: :class:`NameTaken` if a live runner holds ``name`` (a quick
    blocking read; :meth:`Registrar.claim` checks again when the runner registers). A Redis
    that does not answer, or an unreadable record, says nothing here."""
    client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        raw = client.get(runner_key(name))
        if not isinstance(raw, bytes):
            return
        other = decode_record(raw)
    except (redis.RedisError, OSError, msgspec.DecodeError, msgspec.ValidationError):
        return
    finally:
        client.close()
    alive, why = _alive(other)
    if alive:
        raise NameTaken(_taken_message(name, other, why))


def _alive(other: RunnerRecord) -> tuple[bool, str]:
    """Whether the runner of a record still listed in Redis is alive, and why we think so."""
    if other.host != socket.gethostname():
        return True, "listed in Redis, another host"
    if other.pid == os.getpid():
        return False, "its PID is ours: a previous life of this process's container"
    try:
        os.kill(other.pid, 0)
    except ProcessLookupError:
        return False, "no such process on this host"
    except PermissionError:
        return True, "process exists"
    return True, "process exists"


def listed_status(record: RunnerRecord, now_s: float) -> str:
    """The status ``runner ls`` shows for a record still in Redis: the record's own, unless its
    runner is gone — ``dead`` when it names this host and its PID no longer exists (a kill -9),
    ``stale Ns`` when its heartbeat (every ``HEARTBEAT_S``) is older than two beats (a hung or
    unreachable runner). Such a record stays listed until its TTL runs out."""
    if record.host == socket.gethostname() and not _alive(record)[0]:
        return "dead"
    if record.heartbeat_ms:
        silent = now_s - record.heartbeat_ms / 1000
        if silent > 2 * HEARTBEAT_S:
            return f"stale {silent:.0f}s"
    return record.status


class Registrar:
    def __init__(
        self,
        redis_url: str,
        record: RunnerRecord,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        ttl_s: int = REGISTRATION_TTL_S,
        recheck_s: float = 0.5,
        replace: bool = False,
        on_replaced: Callable[[], None] | None = None,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        """``wall_ms``: the clock of the record's ``heartbeat_ms`` (tests inject one)."""
        self.redis_url = redis_url
        self.wall_ms = wall_ms
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
        self.replace = replace
        self.on_replaced = on_replaced
        self.replaced_by: RunnerRecord | None = None
        self._set_owned = self._client.register_script(_OWNED_SET)
        self._del_owned = self._client.register_script(_OWNED_DEL)
        self._mine = f'"epoch":"{record.epoch}"' if record.epoch else ""

    @property
    def key(self) -> str:
        return runner_key(self.record.name)

    def set_status(self, status: str) -> None:
        self.record = msgspec.structs.replace(self.record, status=status)

    async def claim(self) -> None:
        """Take the name (first write): :class:`NameTaken` if a live runner holds it and not
        ``replace``. Redis unreachable: nothing to check; :meth:`register` retries as usual."""
        try:
            raw = await self._client.get(self.key)
        except (aioredis.RedisError, OSError) as exc:
            logger.warning("redis: cannot check the name {} at {} ({})", self.key, redact_url(self.redis_url), exc)
            return
        other: RunnerRecord | None = None
        if raw is not None:
            try:
                other = decode_record(raw if isinstance(raw, bytes) else raw.encode())
            except (msgspec.DecodeError, msgspec.ValidationError):
                logger.warning("redis: {} holds an unreadable record; overwriting it", self.key)
        if other is not None and (not self._mine or other.epoch != self.record.epoch):
            alive, why = _alive(other)
            held = f"pid {other.pid} on host {other.host}"
            if alive and not self.replace:
                raise NameTaken(_taken_message(self.record.name, other, why))
            if alive:
                logger.warning("--replace: taking runner name {!r} from {}", self.record.name, held)
            else:
                logger.info("runner name {!r} was held by {} ({}); taking it over", self.record.name, held, why)
        await self.register(force=True)

    async def register(self, *, force: bool = False) -> bool:
        """Write the record with its TTL; ``force`` overwrites whoever holds the key (``claim``),
        else only a key that is absent or ours is written."""
        if self._deregistered:
            return False
        rec = msgspec.structs.replace(self.record, heartbeat_ms=self.wall_ms())
        try:
            if force or not self._mine:
                await self._client.set(self.key, encode_record(rec), ex=self.ttl_s)
            else:
                held = await self._set_owned(keys=[self.key], args=[encode_record(rec), self.ttl_s, self._mine])
                if held is not None:
                    self._taken_over(bytes(held))
                    return False
        except (aioredis.RedisError, OSError) as exc:
            self.failures += 1
            if self.redis_ok or not self._was_down:
                url = redact_url(self.redis_url)
                logger.warning("redis: cannot register at {} ({}); trading continues", url, exc)
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
        """Whether our key exists; None when Redis does not answer. Held by another runner
        (``--replace``): :meth:`_taken_over`, and True (the heartbeat loop then ends)."""
        try:
            raw = await self._client.get(self.key)
        except (aioredis.RedisError, OSError):
            return None
        data = raw if isinstance(raw, bytes) or raw is None else str(raw).encode()
        if data is not None and self._mine and self._mine.encode() not in data:
            self._taken_over(data)
        return raw is not None

    def _taken_over(self, raw: bytes) -> None:
        if self._deregistered:
            return
        self._deregistered = True
        try:
            self.replaced_by = decode_record(raw)
            who = f"pid {self.replaced_by.pid} on host {self.replaced_by.host}"
        except (msgspec.DecodeError, msgspec.ValidationError):
            who = "an unreadable record"
        logger.error("runner name {!r} was taken over by {} (--replace); this runner stops", self.record.name, who)
        if self.on_replaced is not None:
            self.on_replaced()

    async def deregister(self) -> None:
        if self.replaced_by is not None:
            return  # the key is another runner's now
        self._deregistered = True
        try:
            if self._mine:
                await self._del_owned(keys=[self.key], args=[self._mine])
            else:
                await self._client.delete(self.key)
        except (aioredis.RedisError, OSError) as exc:
            logger.warning("redis: could not remove {}: {}", self.key, exc)

    async def close(self) -> None:
        await self._client.aclose()
