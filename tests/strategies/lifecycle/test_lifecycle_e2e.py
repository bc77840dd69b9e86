"""A live ``strategy spotperp`` (real runner on the embedded Binance venue, real strategy process)
paused, resumed and stopped from another shell: paused, it exits its open pair when the pair's
holding time is up (still managed) and opens no new one although its rules would enter at once;
resumed, it enters again; ``strategy ls`` shows it; illegal transitions are refused with the
table's reason; ``stop`` ends it cleanly (exit 0, Stopped). Transitions reach Redis pub/sub."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import Result
from typer.testing import CliRunner

from strategies.cli import app
from strategy_client.journal import JournalError
from strategy_client.journal.lifecycle import InstanceRow, LifecycleStore
from strategy_client.model.lifecycle import LifecycleState

from ...helpers import eventually_sync
from ...integration.test_strategy_resume import KR

ROOT = Path(__file__).resolve().parents[3]
S = LifecycleState

# enters at once (threshold −10 000 bps), exits only when a pair has been held 5 s
CONFIG = """\
size = 0.01
max_positions = 1
stop_grace_s = 20

[decision]
entry_threshold_bps = -10000
exit_threshold_bps = -20000
min_hold_s = 0
max_holding_s = 5
stop_loss_bps = 100000
funding_flip_bps_per_hour = 100000
reentry_cooldown_s = 0
"""


@pytest.fixture()
def harness(redis_url: str, tmp_path: Path) -> Iterator[Any]:
    h = KR.Harness(tmp_path, redis_url, None, 1)
    h.config.write_text(CONFIG)
    h.start_runner()
    try:
        yield h
    finally:
        h.close()


def shell(h: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """``strategy …`` from another shell (a process of its own)."""
    return subprocess.run(
        [sys.executable, "-m", "strategies.cli", *args, "--data-dir", str(h.data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def cli(h: Any, *args: str) -> Result:
    """The same command in this test's process (no interpreter start: the suite's time)."""
    return CliRunner().invoke(app, [*args, "--data-dir", str(h.data)])


def row(h: Any) -> InstanceRow | None:
    try:
        j = h.journal()
    except JournalError:
        return None
    try:
        return LifecycleStore(j).get("strategy:spotperp")
    finally:
        j.close()


def pairs(h: Any) -> list[Any]:
    j = h.journal()
    try:
        return j.pairs("spotperp", include_closed=True)
    finally:
        j.close()


def test_pause_resume_stop_from_another_shell(harness: Any) -> None:
    h = harness
    sub = redis.Redis.from_url(h.redis_url).pubsub()
    sub.subscribe("tradebus:strategy:lifecycle")
    proc = h.strategy("--wait-runner", "60")  # the runner registers late on a loaded machine
    try:

        def active() -> bool:
            if proc.poll() is not None:  # not an AssertionError: eventually_sync would keep waiting
                raise RuntimeError(f"the strategy exited: {h.log()[-3000:]}")
            return (r := row(h)) is not None and r.state is S.ACTIVE

        eventually_sync(active, timeout=90, what="active")
        # its first pair: open and hedged
        eventually_sync(lambda: h.phase() == "hedged" or proc.poll() is not None, timeout=30, what="hedged")
        assert proc.poll() is None, h.log()[-3000:]
        done = shell(h, "pause", "spotperp")
        assert done.returncode == 0, done.stderr
        assert "spotperp: active → paused" in done.stdout
        first = pairs(h)[0].pair_id
        # still managed while paused: the pair exits when its 5 s are up …
        eventually_sync(lambda: h.phase() == "no open pair", timeout=30, what="the paused strategy's exit")
        # … and nothing new opens, for two more heartbeats (its rules would enter within one book)
        beat = row(h)
        assert beat is not None and beat.state is S.PAUSED and beat.alive
        eventually_sync(lambda: (r := row(h)) is not None and r.heartbeat_ms >= beat.heartbeat_ms + 2000, timeout=10)
        assert [p.pair_id for p in pairs(h)] == [first], "a paused strategy opened a pair"
        listing = cli(h, "ls")
        assert listing.exit_code == 0, listing.output
        header, line = listing.stdout.splitlines()
        assert header.split()[:5] == ["NAME", "MODE", "STATE", "SINCE", "(UTC)"]
        assert line.split()[:3] == ["spotperp", "live", "paused"] and f" {proc.pid} " in line and " yes " in line
        # illegal: pausing a paused instance
        again = cli(h, "pause", "spotperp")
        assert again.exit_code == 2
        assert "cannot go from paused to paused (from paused the lifecycle allows: active, paper_trading, stopped)" in (
            again.stderr
        )
        done = cli(h, "resume", "spotperp")
        assert done.exit_code == 0 and "paused → active" in done.stdout, done.output
        eventually_sync(lambda: len(pairs(h)) == 2, timeout=20, what="a new entry after resume")
        rows = json.loads(cli(h, "ls", "--json").stdout)
        assert rows[0]["state"] == "active" and rows[0]["pid"] == proc.pid
        done = cli(h, "stop", "spotperp")
        assert done.exit_code == 0, done.output
        assert "stopping" in done.stdout and "spotperp: stopped (stop requested by `strategy stop`)" in done.stdout
        assert proc.wait(30) == 0, h.log()[-3000:]
        refused = cli(h, "resume", "spotperp")
        assert refused.exit_code == 2 and "cannot go from stopped to active" in refused.stderr
        assert cli(h, "pause", "nosuch").exit_code == 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while len(seen) < 5 and time.monotonic() < deadline:
        msg = sub.get_message(timeout=0.5)
        if msg is not None and msg["type"] == "message":
            seen.append(json.loads(msg["data"]))
    assert [(e["from"], e["to"]) for e in seen] == [
        ("draft", "validating"),
        ("validating", "active"),
        ("active", "paused"),
        ("paused", "active"),
        ("active", "stopped"),
    ]
    assert seen[2]["actor"] == "`strategy pause`" and seen[0]["instance"] == "spotperp"
