"""The processes of one chaos run: Redis, three offline venues, their runners, live strategies.

Everything is a real process started the way an operator would (``python -m exchanges.sim``,
``python -m exchange_runner.cli <venue> --sim-connect``, ``python -m strategies.cli``), on free
ports, each logging to ``<workdir>/<name>.log``. :class:`Cluster` can kill and restart any of
them (a runner with SIGKILL, Redis on the same port and empty) and stops strategies the way a
user does (SIGTERM, then their ``--report`` JSON is read).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from benchlib.procs import Child, ChildFailed, Children
from benchlib.simctl import SimControl

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port, free_port_pair
from strategy_client.wire import decode_record, runner_key

__all__ = ["VENUES", "PERP_SYMBOL", "PROBE_SYMBOL", "StrategySpec", "Cluster", "Venue", "Runner", "Strategy"]

VENUES = ("binance", "bybit", "okx")
PERP_SYMBOL = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP"}
"""The traded perp as each venue's engine (and admin API) spells it."""
PROBE_SYMBOL = "ETHUSDT"
"""Instrument the harness watches for market-data recovery; no strategy trades it."""


@dataclass(frozen=True)
class StrategySpec:
    """One live strategy: ``spotperp`` on one venue or ``perpperp`` across two."""

    name: str  # unique in the run, e.g. "spotperp-binance"
    kind: str  # spotperp | perpperp
    venues: tuple[str, ...]
    client_prefix: str  # client ids of its orders start with this ("spot" / "perp")


@dataclass
class Venue:
    name: str
    port: int
    child: Child
    ctl: SimControl


@dataclass
class Runner:
    name: str
    child: Child
    starts: int = 1
    restart_at: float = 0.0  # monotonic: no supervisor restart before this


@dataclass
class Strategy:
    spec: StrategySpec
    child: Child
    report_path: Path
    config_path: Path
    argv: list[str] = field(default_factory=list)
    starts: int = 1
    exit_status: int | None = None
    report: dict[str, Any] | None = None
    stop_s: float = 0.0
    error: str = ""


@dataclass
class Cluster:
    workdir: Path
    seed: int
    kids: Children
    venues: dict[str, Venue] = field(default_factory=dict)
    runners: dict[str, Runner] = field(default_factory=dict)
    strategies: dict[str, Strategy] = field(default_factory=dict)
    redis_port: int = 0
    _redis: LocalRedisServer | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def data_env(self, owner: str) -> dict[str, str]:
        """``TRADEBUS_DATA_DIR`` private to this run (journals never mix with another run's or
        the user's ``~/.local/share/tradebus``); one directory per strategy, whose journal file
        is named after the strategy kind only."""
        path = self.workdir / "data" / owner
        path.mkdir(parents=True, exist_ok=True)
        return {"TRADEBUS_DATA_DIR": str(path)}

    def journal_fills(self, name: str) -> list[dict[str, Any]] | None:
        """Every fill strategy ``name`` journaled over all its runs (its ``strategy history fills
        --json``), or None when it keeps no journal there (or the read failed: said on stderr)."""
        strategy = self.strategies[name]
        data = self.workdir / "data" / name
        if not any(data.glob("strategy-*.sqlite3")):
            return None
        argv = [sys.executable, "-m", "strategies.cli", "history", "fills", "--strategy", strategy.spec.kind]
        argv += ["--data-dir", str(data), "--json"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if out.returncode != 0:
            print(f"chaos: {name}: strategy history failed: {out.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        rows: list[dict[str, Any]] = json.loads(out.stdout or "[]")
        return rows

    # -- Redis -----------------------------------------------------------------------------

    def start_redis(self) -> None:
        if not self.redis_port:
            self.redis_port = free_port()
        self._redis = LocalRedisServer(port=self.redis_port, workdir=self.workdir / "redis")
        self._redis.start()

    def restart_redis(self) -> None:
        """Stop Redis and start an empty one on the same port (every registration is gone)."""
        if self._redis is not None:
            self._redis.stop()
        self.start_redis()

    def stop_redis(self) -> None:
        if self._redis is not None:
            self._redis.stop()
            self._redis = None

    # -- venues ----------------------------------------------------------------------------

    def start_venues(self) -> None:
        for name in VENUES:
            port = free_port_pair()
            argv = ["-m", "exchanges.sim", name, "--port-base", str(port), "--seed", str(self.seed)]
            argv += ["--no-rate-limits", "--log-level", "WARNING"]
            child = self.kids.start(f"venue-{name}", argv)
            self.venues[name] = Venue(name, port, child, SimControl(f"http://127.0.0.1:{port}"))
        for venue in self.venues.values():
            venue.child.wait_for("Ctrl-C", 60)

    def ctl(self, venue: str, host: str | None = None) -> SimControl:
        """The admin API; Binance's futures host is on the second port (same state either way)."""
        v = self.venues[venue]
        if venue == "binance" and host == "futures":
            return SimControl(f"http://127.0.0.1:{v.port + 1}")
        return v.ctl

    # -- runners ---------------------------------------------------------------------------

    def start_runner(self, name: str) -> Runner:
        prev = self.runners.get(name)
        starts = prev.starts + 1 if prev else 1
        venue = self.venues[name]
        argv = ["-m", "exchange_runner.cli", name, "--sim-connect", f"127.0.0.1:{venue.port}"]
        argv += ["--redis-url", self.redis_url, "--symbols", f"BTCUSDT,{PROBE_SYMBOL}", "--log-level", "WARNING"]
        child = self.kids.start(
            f"runner-{name}" + (f".{starts}" if starts > 1 else ""), argv, env=self.data_env("runners")
        )
        runner = self.runners[name] = Runner(name, child, starts)
        return runner

    def wait_runner(self, name: str, timeout_s: float = 60.0) -> None:
        """Until the runner's own registration (its pid) is in Redis as ready."""
        runner = self.runners[name]
        deadline = time.monotonic() + timeout_s
        client = redis.Redis.from_url(self.redis_url, socket_timeout=1.0)
        try:
            while time.monotonic() < deadline:
                if not runner.child.alive():
                    raise ChildFailed(f"runner {name} exited at start:\n{runner.child.log_tail()}")
                try:
                    raw = client.get(runner_key(name))
                except redis.RedisError:
                    raw = None
                if isinstance(raw, bytes):
                    rec = decode_record(raw)
                    if rec.status == "ready" and rec.pid == runner.child.pid:
                        return
                time.sleep(0.05)
        finally:
            client.close()
        raise ChildFailed(f"runner {name} not ready within {timeout_s:.0f}s:\n{runner.child.log_tail()}")

    def registered(self) -> set[str]:
        """Runners whose record is in Redis as ready right now."""
        client = redis.Redis.from_url(self.redis_url, socket_timeout=0.5)
        found: set[str] = set()
        try:
            for name in self.runners:
                raw = client.get(runner_key(name))
                if isinstance(raw, bytes) and decode_record(raw).status == "ready":
                    found.add(name)
        except redis.RedisError:
            return set()
        finally:
            client.close()
        return found

    def supervise(self, now: float) -> list[dict[str, Any]]:
        """Restart runners that exited on their own (what a process supervisor does); returns
        one record per crash (the harness' SIGKILLs are not crashes: they restart at once)."""
        crashes = []
        for name, runner in self.runners.items():
            if runner.child.alive() or now < runner.restart_at:
                continue
            status = runner.child.proc.returncode
            tail = [line for line in runner.child.log_tail(40).splitlines() if line.strip()]
            crashes.append(
                {
                    "runner": name,
                    "log": runner.child.log_path.name,
                    "status": status,
                    "last_line": tail[-1] if tail else "",
                }
            )
            self.kids.stop(runner.child)
            self.start_runner(name).restart_at = now + 2.0
        return crashes

    def kill_runner(self, name: str) -> None:
        """SIGKILL (no shutdown: listenKeys, registrations, sockets are left as they were)."""
        self.kids.kill(self.runners[name].child)

    # -- strategies ------------------------------------------------------------------------

    def start_strategy(self, spec: StrategySpec, config: str, extra: tuple[str, ...] = ()) -> Strategy:
        cfg = self.workdir / f"{spec.name}.toml"
        cfg.write_text(config)
        report = self.workdir / f"{spec.name}.report.json"
        argv = ["-m", "strategies.cli", spec.kind, "--config", str(cfg), "--report", str(report)]
        argv += ["--redis-url", self.redis_url, "--log-level", "INFO", *extra]
        child = self.kids.start(f"strategy-{spec.name}", argv, env=self.data_env(spec.name))
        strategy = self.strategies[spec.name] = Strategy(spec, child, report, cfg, argv=argv)
        return strategy

    def wait_strategies_started(self, timeout_s: float) -> list[str]:
        """Until every strategy logged its start line (``... (Ctrl-C stops cleanly)``); returns
        the names that did not within ``timeout_s`` (or exited)."""
        deadline = time.monotonic() + timeout_s
        waiting = set(self.strategies)
        while waiting and time.monotonic() < deadline:
            for name in sorted(waiting):
                child = self.strategies[name].child
                if not child.alive():
                    return sorted(waiting)
                if "(Ctrl-C stops cleanly)" in child.log_tail(400):
                    waiting.discard(name)
            time.sleep(0.1)
        return sorted(waiting)

    def restart_strategy(self, name: str) -> Strategy:
        """SIGKILL a strategy and start it again with the same arguments (needs its journal)."""
        old = self.strategies[name]
        self.kids.kill(old.child)
        starts = old.starts + 1
        child = self.kids.start(f"strategy-{name}.{starts}", old.argv, env=self.data_env(name))
        s = self.strategies[name] = Strategy(old.spec, child, old.report_path, old.config_path, argv=old.argv)
        s.starts = starts
        return s

    def stop_strategies(self, grace_s: float) -> None:
        """SIGTERM every strategy at once (once: a second signal may force an exit), wait up to
        ``grace_s`` for each to exit on its own (then SIGKILL), read their reports."""
        t0 = time.monotonic()
        for s in self.strategies.values():
            if s.child.alive():
                s.child.proc.send_signal(signal.SIGTERM)
        for s in self.strategies.values():
            try:
                s.exit_status = s.child.proc.wait(max(0.1, grace_s - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                s.error = f"did not exit within {grace_s:.0f}s of SIGTERM; killed"
                s.exit_status = self.kids.kill(s.child)
            s.stop_s = time.monotonic() - t0
            self.kids.stop(s.child)
            try:
                s.report = json.loads(s.report_path.read_text())
            except (OSError, ValueError) as exc:
                s.error = (s.error + "; " if s.error else "") + f"no report: {exc}"

    def stop_all(self) -> None:
        for runner in self.runners.values():
            self.kids.stop(runner.child, 15.0)
        self.stop_redis()
