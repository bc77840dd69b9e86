"""Finding runners: the Redis schema of docs/protocol.md, read once or watched.

Each runner keeps ``tradebus:runner:<name>`` (JSON :class:`RunnerRecord`, TTL 10 s renewed
every 3 s, deleted on a clean stop). :func:`discover_all` reads every record once;
:func:`discover_service` finds one runner by name or exchange and checks its protocol version;
:class:`RunnerWatch` polls and reports what appeared, changed (restarted: new pid or
endpoints) and disappeared (stopped, or its TTL ran out) — the router runs one.

A record that vanishes is not always a runner that left: a Redis that restarts empty loses
every record until the runners' next heartbeat. With ``keep_unlisted_s`` (the router passes
``REGISTRATION_TTL_S``) the watch keeps a vanished record for that long after it was last
listed, in :attr:`RunnerWatch.unlisted`, and reports it removed only when that time is up or
the owner calls :meth:`RunnerWatch.forget` (the router does when the runner stops answering
its ping). A record listed again is simply known again (no change reported unless restarted).

Trust (docs/security.md): a watch given ``accept`` (the router passes
:meth:`ClientSecurity.check <strategy_client.security.ClientSecurity.check>`) skips every record
it refuses — a record whose CURVE server key this client does not trust, or a plaintext record
while this client requires CURVE — counts it (``refused``) and logs it once per runner and
reason. A refused record is as good as absent: a spoofed record never replaces the runner the
client knew (that one is kept while it answers, as for a vanished record).

The Redis URL is the argument, else ``$REDIS_URL``, else ``redis://127.0.0.1:6379/0``; it may
carry credentials (``redis://user:password@host``, ``rediss://`` for TLS), which messages and
log lines never show (``redact_url``).
A record that does not decode is skipped, counted and logged once per key; a Redis that cannot
be reached raises :class:`DiscoveryError` from the one-shot functions, while a watch keeps the
runners it knew and retries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .coerce import as_exchange
from .errors import AmbiguousRoute, DiscoveryError, InvalidRequest, ProtocolMismatch, RunnerUnavailable
from .model import Exchange
from .security import ClientSecurity, redact_url
from .wire import KEY_PREFIX, PROTOCOL_VERSION, RunnerRecord, decode_record

__all__ = [
    "DEFAULT_REDIS_URL",
    "resolve_redis_url",
    "RunnerChanges",
    "RunnerWatch",
    "discover_all",
    "discover_service",
    "check_version",
    "select_runner",
]

log = logging.getLogger("strategy_client.discovery")

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def resolve_redis_url(url: str | None = None) -> str:
    return url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def check_version(record: RunnerRecord) -> None:
    """Raise :class:`ProtocolMismatch` naming both versions when the runner speaks another one."""
    if record.protocol_version != PROTOCOL_VERSION:
        raise ProtocolMismatch(
            f"runner {record.name} ({record.exchange.value}, pid {record.pid} on {record.host}) speaks "
            f"protocol v{record.protocol_version}; this client speaks v{PROTOCOL_VERSION} — "
            f"upgrade the {'client' if record.protocol_version > PROTOCOL_VERSION else 'runner'}"
        )


def select_runner(records: dict[str, RunnerRecord], target: str | Exchange, where: str) -> RunnerRecord:
    """``target`` is a runner name, else an exchange served by exactly one runner."""
    if isinstance(target, str) and target in records:
        return records[target]
    try:
        exchange = as_exchange(target, "target")
    except InvalidRequest:
        names = ", ".join(sorted(records)) or "none"
        raise RunnerUnavailable(f"no runner named {target!r} in {where} (registered: {names})") from None
    matches = sorted(name for name, rec in records.items() if rec.exchange is exchange)
    if not matches:
        raise RunnerUnavailable(
            f"no {exchange.value} runner registered in {where}; start one with `runner {exchange.value}`"
        )
    if len(matches) > 1:
        raise AmbiguousRoute(
            f"{len(matches)} {exchange.value} runners are registered ({', '.join(matches)}): name the one you mean"
        )
    return records[matches[0]]


class RunnerChanges(msgspec.Struct, frozen=True):
    added: tuple[RunnerRecord, ...] = ()
    changed: tuple[tuple[RunnerRecord, RunnerRecord], ...] = ()  # (old, new)
    removed: tuple[RunnerRecord, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _restarted(old: RunnerRecord, new: RunnerRecord) -> bool:
    return (
        old.pid,
        old.started_at_ms,
        old.router_endpoint,
        old.pub_endpoint,
        old.router_ipc,
        old.pub_ipc,
        old.protocol_version,
        old.curve_key,
        old.epoch,
    ) != (
        new.pid,
        new.started_at_ms,
        new.router_endpoint,
        new.pub_endpoint,
        new.router_ipc,
        new.pub_ipc,
        new.protocol_version,
        new.curve_key,
        new.epoch,
    )


class RunnerWatch:
    """Reads the runner records; :meth:`poll` returns the differences since the last poll."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        socket_timeout_s: float = 1.0,
        keep_unlisted_s: float = 0.0,
        accept: Callable[[RunnerRecord], str] | None = None,
    ) -> None:
        """``accept(record)``: "" to use the record, else why not (the record is skipped)."""
        self.redis_url = resolve_redis_url(redis_url)
        self.where = redact_url(self.redis_url)  # for messages: no password
        self.accept = accept
        self.refused = 0  # records skipped because ``accept`` refused them
        self._refused_logged: set[tuple[str, str]] = set()
        self._redis = aioredis.Redis.from_url(
            self.redis_url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
        )
        self.records: dict[str, RunnerRecord] = {}
        self.keep_unlisted_s = keep_unlisted_s
        self.unlisted: set[str] = set()  # kept in ``records`` though not listed in Redis now
        self._listed_at: dict[str, float] = {}  # monotonic time each record was last listed
        self.polls = 0
        self.failures = 0
        self.bad_records = 0
        self.redis_ok = False
        self.last_ok_at = 0.0
        self._bad_logged: set[str] = set()
        self._down_logged = False

    async def read(self) -> dict[str, RunnerRecord]:
        """Every decodable record now in Redis, by runner name (raises :class:`DiscoveryError`)."""
        try:
            keys = [k async for k in self._redis.scan_iter(match=f"{KEY_PREFIX}*", count=200)]
            values = await self._redis.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            raise DiscoveryError(f"cannot read the runner directory at {self.where}: {exc}") from None
        found: dict[str, RunnerRecord] = {}
        for key, raw in zip(keys, values, strict=True):
            if raw is None:  # expired between SCAN and MGET
                continue
            name = (key.decode() if isinstance(key, bytes) else str(key))[len(KEY_PREFIX) :]
            try:
                rec = decode_record(raw if isinstance(raw, bytes) else str(raw).encode())
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.bad_records += 1
                if name not in self._bad_logged:
                    self._bad_logged.add(name)
                    log.warning("runner record %s%s is unreadable, skipped: %s", KEY_PREFIX, name, exc)
                continue
            if self.accept is not None and (why := self.accept(rec)):
                self.refused += 1
                if (rec.name, why) not in self._refused_logged and len(self._refused_logged) < 1000:
                    self._refused_logged.add((rec.name, why))
                    log.warning("%s", why)
                continue
            found[rec.name] = rec
        return found

    async def poll(self, *, strict: bool = False) -> RunnerChanges:
        """Read and diff. When Redis is unreachable the known runners are kept and nothing is
        raised, unless ``strict`` (then :class:`DiscoveryError`)."""
        self.polls += 1
        try:
            now = await self.read()
        except DiscoveryError as exc:
            self.failures += 1
            self.redis_ok = False
            if strict:
                raise
            if not self._down_logged:
                self._down_logged = True
                log.warning("%s; keeping the %d runners known so far and retrying", exc, len(self.records))
            return RunnerChanges()
        if self._down_logged:
            log.info("runner directory at %s readable again", self.where)
        self._down_logged = False
        self.redis_ok = True
        at = self.last_ok_at = time.monotonic()
        before = self.records
        for name in now:
            self._listed_at[name] = at
        kept = {
            name: rec
            for name, rec in before.items()
            if name not in now and at - self._listed_at.get(name, at) < self.keep_unlisted_s
        }
        for name in kept.keys() - self.unlisted:
            log.warning(
                "runner %s is no longer listed in %s (Redis restarted empty?); keeping it for up to %.0fs",
                name,
                self.where,
                self.keep_unlisted_s,
            )
        added = tuple(rec for name, rec in now.items() if name not in before)
        removed = tuple(rec for name, rec in before.items() if name not in now and name not in kept)
        changed = tuple(
            (before[name], rec) for name, rec in now.items() if name in before and _restarted(before[name], rec)
        )
        for rec in removed:
            self._listed_at.pop(rec.name, None)
        self.unlisted = set(kept)
        self.records = {**kept, **now}
        return RunnerChanges(added=added, changed=changed, removed=removed)

    def forget(self, name: str) -> RunnerRecord | None:
        """Drop an unlisted record now (its runner no longer answers); returns it, if it was kept."""
        if name not in self.unlisted:
            return None
        self.unlisted.discard(name)
        self._listed_at.pop(name, None)
        return self.records.pop(name, None)

    async def close(self) -> None:
        await self._redis.aclose()


async def discover_all(redis_url: str | None = None) -> dict[str, RunnerRecord]:
    """Every runner registered now, by name."""
    watch = RunnerWatch(redis_url)
    try:
        return await watch.read()
    finally:
        await watch.close()


async def discover_service(
    target: str | Exchange,
    redis_url: str | None = None,
    *,
    timeout_s: float = 0.0,
    poll_s: float = 0.2,
    security: ClientSecurity | None = None,
) -> RunnerRecord:
    """The runner named ``target``, or the one runner of exchange ``target``.

    Waits up to ``timeout_s`` for it to register. Raises :class:`RunnerUnavailable` when there
    is none, :class:`AmbiguousRoute` when several serve the exchange, :class:`ProtocolMismatch`
    (naming both versions) when it speaks another protocol version. Records this client cannot
    trust (``security``, default from the environment) are skipped as if absent.
    """
    security = security or ClientSecurity.from_env()
    watch = RunnerWatch(redis_url, accept=security.check)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            records = await watch.read()
            try:
                rec = select_runner(records, target, watch.where)
            except AmbiguousRoute:
                raise
            except RunnerUnavailable:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(poll_s)
                continue
            check_version(rec)
            return rec
    finally:
        await watch.close()
