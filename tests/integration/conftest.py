"""Real runner processes on the embedded simulator, registered in the suite's own Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from exchange_runner.ports import free_port_pair
from strategy_client.wire import RunnerRecord, decode_record, runner_key

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunnerProc:
    proc: subprocess.Popen[bytes]
    name: str
    redis_url: str
    sim_port_base: int
    log: Path

    def record(self, timeout: float = 30.0) -> RunnerRecord:
        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                raw = client.get(runner_key(self.name))
                if raw is not None:
                    rec = decode_record(raw)
                    if rec.status == "ready" and rec.pid == self.proc.pid:
                        return rec
                if self.proc.poll() is not None:
                    raise AssertionError(f"runner exited: {self.log.read_text()[-3000:]}")
                time.sleep(0.05)
        finally:
            client.close()
        raise AssertionError(f"runner {self.name} not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(timeout=5)
        return self.proc.returncode


def start_runner(
    redis_url: str,
    tmp: Path,
    name: str,
    *extra: str,
    sim_port_base: int | None = None,
    exchange: str = "binance",
) -> RunnerProc:
    port_base = sim_port_base or free_port_pair()
    log = tmp / f"{name}.log"
    args = [
        sys.executable,
        "-m",
        "exchange_runner.cli",
        exchange,
        "--redis-url",
        redis_url,
        "--name",
        name,
        "--sim-port-base",
        str(port_base),
        *extra,
    ]
    fh = log.open("wb")
    proc = subprocess.Popen(
        args,
        stdout=fh,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TRADEBUS_DATA_DIR": str(tmp / "data")},
    )
    fh.close()
    return RunnerProc(proc, name, redis_url, port_base, log)


@pytest.fixture(scope="module")
def runner_proc(redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProc]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("runner")
    rp = start_runner(redis_server.url, tmp, f"bn-{os.getpid()}")
    try:
        rp.record()
        yield rp
    finally:
        rp.stop()
