"""Market stream subscriptions of one host and the fan-out of encoded frames."""

from __future__ import annotations

from collections.abc import Iterator

from .connection import WsConn, wrap
from .stream_names import StreamKind, StreamSpec

__all__ = ["StreamHub"]

Key = tuple[str, str, int, int]


class StreamHub:
    """Who listens to which stream. Each frame is encoded once per publish and shared."""

    def __init__(self) -> None:
        self._subs: dict[Key, dict[WsConn, list[str]]] = {}
        self._by_conn: dict[WsConn, dict[str, StreamSpec]] = {}
        self.published = 0

    def subscribe(self, conn: WsConn, name: str, spec: StreamSpec) -> None:
        names = self._by_conn.setdefault(conn, {})
        if name in names:
            return
        names[name] = spec
        self._subs.setdefault(spec.key, {}).setdefault(conn, []).append(name)

    def unsubscribe(self, conn: WsConn, name: str) -> None:
        names = self._by_conn.get(conn)
        if not names or name not in names:
            return
        spec = names.pop(name)
        listeners = self._subs.get(spec.key)
        if listeners is None:
            return
        conn_names = listeners.get(conn)
        if conn_names is not None and name in conn_names:
            conn_names.remove(name)
            if not conn_names:
                del listeners[conn]
        if not listeners:
            del self._subs[spec.key]

    def drop(self, conn: WsConn) -> None:
        for name in list(self._by_conn.get(conn, {})):
            self.unsubscribe(conn, name)
        self._by_conn.pop(conn, None)

    def names(self, conn: WsConn) -> list[str]:
        return list(self._by_conn.get(conn, {}))

    def count(self, conn: WsConn) -> int:
        return len(self._by_conn.get(conn, {}))

    def has(self, key: Key) -> bool:
        return key in self._subs

    def active(self, kind: StreamKind) -> Iterator[Key]:
        """Keys of ``kind`` with at least one subscriber (a snapshot: safe to publish while iterating)."""
        return iter([k for k in self._subs if k[0] == kind])

    def connections(self) -> list[WsConn]:
        return list(self._by_conn)

    def listeners(self, key: Key) -> list[WsConn]:
        """Connections subscribed to ``key``."""
        return list(self._subs.get(key, ()))

    def publish(self, key: Key, data: bytes) -> int:
        """Send ``data`` to every listener of ``key``; returns the number of frames queued."""
        listeners = self._subs.get(key)
        if not listeners:
            return 0
        self.published += 1
        combined: dict[str, bytes] = {}
        queued = 0
        for conn, names in list(listeners.items()):
            for name in names:
                frame = None
                if conn.combined:
                    frame = combined.get(name)
                    if frame is None:
                        frame = combined[name] = wrap(name, data)
                conn.send_market(name, data, frame)
                queued += 1
        return queued
