"""A real ``runner okx`` process on its embedded simulator, registered in the suite's Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from exchange_runner.ports import free_port
from strategy_client.wire import RunnerRecord, decode_record, runner_key

ROOT = Path(__file__).resolve().parents[3]

__all__ = ["OkxRunner", "start_okx_runner"]


@dataclass
class OkxRunner:
    proc: subprocess.Popen[bytes]
    name: str
    redis_url: str
    sim_port: int
    log: Path

    def record(self, timeout: float = 30.0) -> RunnerRecord:
        """The registration once the runner says ready (polls Redis; fails with the log tail)."""
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

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(timeout=5)
        return self.proc.returncode


def start_okx_runner(redis_url: str, tmp: Path, name: str, *extra: str) -> OkxRunner:
    port = free_port()
    log = tmp / f"{name}.log"
    args = [
        sys.executable,
        "-m",
        "exchange_runner.cli",
        "okx",
        "--redis-url",
        redis_url,
        "--name",
        name,
        "--sim-port-base",
        str(port),
        *extra,
    ]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    return OkxRunner(proc, name, redis_url, port, log)
