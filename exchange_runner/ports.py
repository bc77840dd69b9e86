"""Free local ports (for the embedded simulator and tests)."""

from __future__ import annotations

import socket

__all__ = ["free_port", "free_port_pair"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_pair(host: str = "127.0.0.1") -> int:
    """A port N such that N and N+1 are both free (the offline Binance venue uses two)."""
    for _ in range(200):
        n = free_port(host)
        if n >= 65535:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, n + 1))
            return n
        except OSError:
            continue
    raise RuntimeError("no free port pair")
