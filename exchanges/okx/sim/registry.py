"""Open WebSocket connections of the OKX venue (for kill faults, shutdown and ``/_sim/state``)."""

from __future__ import annotations

from .connection import WsConn

__all__ = ["ConnRegistry"]


class ConnRegistry:
    def __init__(self) -> None:
        self._conns: dict[int, WsConn] = {}
        self.opened = 0

    def add(self, conn: WsConn) -> None:
        self._conns[conn.id] = conn
        self.opened += 1

    def remove(self, conn: WsConn) -> None:
        self._conns.pop(conn.id, None)

    def select(self, target: str = "all") -> list[WsConn]:
        """``all``; ``streams``/``public`` (public sockets); ``user``/``private``; ``business``;
        ``ws-api`` = logged-in private sockets (where order operations run)."""
        out = []
        for conn in self._conns.values():
            if target in ("streams", "public") and conn.channel != "public":
                continue
            if target in ("user", "private") and conn.channel != "private":
                continue
            if target == "business" and conn.channel != "business":
                continue
            if target == "ws-api" and not (conn.channel == "private" and conn.logged_in):
                continue
            out.append(conn)
        return out

    def __len__(self) -> int:
        return len(self._conns)
