"""Free local TCP ports for services a process starts itself (embedded venues, a bundled Redis).

Asking the kernel for port 0 hands out a port from the *ephemeral* range — the same range it
draws from for the local end of every outgoing connection. A port found free that way and bound
a moment later by another process (an offline venue started by a runner) can meanwhile have been
taken by any client socket on the machine — a Redis connection of the very process about to bind
it, or a parallel test's. So the ports handed out here lie **outside** the ephemeral range
(``/proc/sys/net/ipv4/ip_local_port_range``), where the kernel never assigns a port by itself,
and each port handed out is reserved for ``RESERVE_S`` seconds in a small directory shared by
every process of the user (``O_EXCL`` files), so two allocators never hand out the same port
while the first is still starting up.
"""

from __future__ import annotations

import os
import random
import socket
import tempfile
import time
from pathlib import Path

__all__ = ["PortsExhausted", "free_port", "free_port_pair", "unassigned_range"]

RESERVE_S = 120.0
"""How long a port handed out stays reserved for the process that asked (start-up time)."""

_FALLBACK_EPHEMERAL = (32768, 60999)  # Linux's default when the range cannot be read
_LOWEST = 10000  # below this lie well-known services' ports
_TRIES = 500


class PortsExhausted(RuntimeError):
    """No free run of local ports outside the ephemeral range was found."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return _FALLBACK_EPHEMERAL


def unassigned_range() -> tuple[int, int]:
    """The widest span of ports (inclusive) the kernel never picks for an outgoing socket."""
    lo, hi = _ephemeral_range()
    below = (_LOWEST, lo - 1)
    above = (hi + 1, 65535)
    return below if below[1] - below[0] >= above[1] - above[0] else above


_swept: set[Path] = set()


def _reservations() -> Path:
    owner = os.getuid() if hasattr(os, "getuid") else os.getlogin()  # no getuid on Windows
    path = Path(tempfile.gettempdir()) / f"tradebus-ports-{owner}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path not in _swept:  # once per process: stale marks do not pile up over runs
        _swept.add(path)
        _sweep(path, time.time())
    return path


def _sweep(directory: Path, now: float) -> None:
    for mark in directory.iterdir():
        try:
            if now - mark.stat().st_mtime >= RESERVE_S:
                mark.unlink()
        except FileNotFoundError:
            pass  # another process swept it first


def _reserve(directory: Path, port: int, now: float) -> bool:
    mark = directory / str(port)
    try:
        fd = os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        try:
            if now - mark.stat().st_mtime < RESERVE_S:
                return False
            mark.unlink()  # a stale reservation: its process has long bound the port or gone
        except FileNotFoundError:
            pass  # another process removed the stale mark first: try to take it below
        try:
            fd = os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False  # another process took it over first
    os.close(fd)
    return True


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers that will bind it
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_pair(host: str = "127.0.0.1", count: int = 2) -> int:
    """A port N such that N .. N+count-1 are free, outside the ephemeral range, and reserved."""
    lo, hi = unassigned_range()
    if hi - lo + 1 < count:
        raise PortsExhausted(f"no span of {count} ports outside the ephemeral range {_ephemeral_range()}")
    directory = _reservations()
    pick = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(_TRIES):
        n = pick.randint(lo, hi - count + 1)
        if not all(_bindable(host, n + k) for k in range(count)):
            continue
        now = time.time()
        taken: list[int] = []
        for k in range(count):
            if not _reserve(directory, n + k, now):
                break
            taken.append(n + k)
        if len(taken) == count:
            return n
        for port in taken:
            (directory / str(port)).unlink(missing_ok=True)
    raise PortsExhausted(f"no {count} consecutive free ports in {lo}..{hi} after {_TRIES} tries")


def free_port(host: str = "127.0.0.1") -> int:
    """One free port outside the ephemeral range, reserved for ``RESERVE_S`` seconds."""
    return free_port_pair(host, count=1)
