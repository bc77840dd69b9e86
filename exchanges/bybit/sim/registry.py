"""Open WebSocket connections of the venue (for kill faults, shutdown and ``/_sim/state``)."""

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

    def select(self, host: str | None = None, target: str = "all") -> list[WsConn]:
        """Connections of ``host`` (``spot``/``futures`` public, ``private``; None = all);
        target: all, streams (public), user (private) or ws-api (none on this venue)."""
        out = []
        for conn in self._conns.values():
            if host is not None and conn.host != host:
                continue
            if target == "streams" and conn.role != "streams":
                continue
            if target == "user" and conn.role != "user":
                continue
            if target == "ws-api":
                continue
            out.append(conn)
        return out

    def __len__(self) -> int:
        return len(self._conns)
