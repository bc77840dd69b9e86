"""Free local ports (for the embedded simulator and tests)."""

from __future__ import annotations

import socket

__all__ = ["free_port", "free_port_pair"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_pair(host: str = "127.0.0.1", count: int = 2) -> int:
    """A port N such that N .. N+count-1 are all free (the offline Binance venue uses two)."""
    for _ in range(200):
        n = free_port(host)
        if n + count - 1 > 65535:
            continue
        try:
            for extra in range(1, count):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((host, n + extra))
            return n
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports")
