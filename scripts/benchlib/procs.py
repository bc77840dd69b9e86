"""Child processes of the benchmark: start, talk to over stdin/stdout lines, stop, measure.

Every child's stderr goes to a log file in the run's work directory (named in errors), its
stdout is read by a thread into a queue so the harness can wait for a line with a timeout.
:class:`Children` stops everything it started (SIGTERM, then SIGKILL after a grace period), also
when the harness fails half-way.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

__all__ = ["ROOT", "SCRIPTS", "Child", "Children", "ChildFailed", "child_env", "wait_until"]

SCRIPTS = Path(__file__).resolve().parents[1]
ROOT = SCRIPTS.parent


class ChildFailed(RuntimeError):
    pass


def wait_until(check: Any, timeout_s: float, what: str) -> Any:
    """Poll ``check`` every 0.1 s until it returns something truthy (returned); RuntimeError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    path = [str(ROOT), str(SCRIPTS)]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


class Child:
    """One child process; ``argv`` without the interpreter runs under ``sys.executable``."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, *, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=child_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True)
        self._reader.start()
        self._ps = psutil.Process(self.proc.pid)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def _fail(self, what: str) -> ChildFailed:
        return ChildFailed(f"{self.name}: {what} (log {self.log_path}):\n{self.log_tail()}")

    def readline(self, timeout_s: float) -> str:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise self._fail(f"no output within {timeout_s:.0f}s") from None
        if line is None:
            raise self._fail(f"exited with status {self.proc.wait()}")
        return line

    def wait_for(self, prefix: str, timeout_s: float) -> str:
        """The first stdout line starting with ``prefix`` (other lines are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def request(self, command: str, timeout_s: float = 10.0) -> Any:
        """Send one command line; the child answers with one JSON line."""
        if self.proc.stdin is None or self.proc.poll() is not None:
            raise self._fail("not running")
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self._json_line(timeout_s))

    def _json_line(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            if line.startswith("{"):
                return line

    def rss_mb(self) -> float:
        return float(self._ps.memory_info().rss) / (1024 * 1024)

    def cpu_seconds(self) -> float:
        t = self._ps.cpu_times()
        return float(t.user + t.system)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int:
        """SIGKILL now (no cleanup in the child); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(5)

    def stop(self, grace_s: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace_s``; returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._log.close()
        return self.proc.returncode


class Children:
    """Owns the children of one run; leaving the block stops them in reverse order."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._children: list[Child] = []

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> Child:
        child = Child(name, argv, self.workdir, env=env)
        self._children.append(child)
        return child

    def stop(self, child: Child, grace_s: float = 5.0) -> int | None:
        if child in self._children:
            self._children.remove(child)
        return child.stop(grace_s)

    def kill(self, child: Child) -> int:
        """SIGKILL ``child`` and forget it (its log stays)."""
        if child in self._children:
            self._children.remove(child)
        status = child.kill()
        child.stop()
        return status

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
