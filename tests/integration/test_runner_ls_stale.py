"""`runner ls` never shows a gone runner as `ready` (issue 21): its record stays in Redis until the
TTL runs out, but a hung runner (no heartbeat for two beats) is listed `stale Ns` and a killed one
on this host `dead`, through the real console script."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exchange_runner.localredis import LocalRedisServer

from .conftest import ROOT, start_runner

RUNNER = shutil.which("runner", path=str(Path(sys.executable).parent)) or "runner"


def ls_status(url: str, name: str) -> str | None:
    out = subprocess.run(
        [RUNNER, "ls", "--redis-url", url], cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert out.returncode == 0, out.stderr
    for line in out.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] == name:  # NAME EXCHANGE MODE VENUE STATUS (`stale 7s`: two words) AGE …
            return " ".join(fields[4:6]) if fields[4] == "stale" else fields[4]
    return None


def eventually_status(url: str, name: str, want: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = ls_status(url, name)
        if seen is not None and seen.startswith(want):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"runner ls showed {seen!r} for {name}, never {want!r}")


def test_hung_runner_is_stale_and_killed_runner_is_dead(tmp_path: Path) -> None:
    server = LocalRedisServer()
    server.start()
    rp = start_runner(server.url, tmp_path, f"lsx-{os.getpid()}", "--no-journal")
    try:
        rp.record(timeout=60)
        assert ls_status(server.url, rp.name) == "ready"
        rp.proc.send_signal(signal.SIGSTOP)  # hung: the record is still there, the heartbeat stops
        try:
            shown = eventually_status(server.url, rp.name, "stale", 20)
        finally:
            rp.proc.send_signal(signal.SIGCONT)
        assert shown.split()[1].endswith("s"), shown
        eventually_status(server.url, rp.name, "ready", 20)  # beating again
        rp.proc.kill()
        rp.proc.wait(timeout=10)
        # the record outlives the process (TTL 10 s) but is not `ready`
        status = ls_status(server.url, rp.name)
        if status is None:
            pytest.skip("the record expired before `runner ls` ran (machine too slow to see it)")
        assert status == "dead", status
    finally:
        rp.stop()
        server.stop()
