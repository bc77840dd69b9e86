"""Order-rate throttles: exact sliding windows, O(1) per check.

A window admits at most ``limit`` orders in any interval of ``window_ns`` nanoseconds. It keeps
the times of the last ``limit`` admissions in a ring: a new order is admitted iff the oldest of
them (the ``limit``-th most recent) is at least ``window_ns`` old. That is exact — no bucket
refill rounding, no fixed-window edge where 2×limit pass around a boundary — and each check is
one subtraction and one comparison. Memory is ``limit`` integers per window.

Checking and admitting are separate (:meth:`SlidingWindow.allows`, :meth:`SlidingWindow.admit`)
so the gate can ask every window first and admit into all of them only when the whole order
passes: a refused order takes no slot.

Clients are throttled each in their own windows (:class:`ClientThrottle`). At most
``max_clients`` clients are tracked; when a new client comes and the table is full, the least
recently seen client is forgotten only if its windows are empty (its last order is older than
the longest window) — forgetting an idle client loses nothing. If even that client is active,
the new client is refused (``busy``): exactness is never traded for memory.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["SlidingWindow", "ClientThrottle", "SECOND_NS", "MINUTE_NS", "first_full", "admit_all"]

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
_NEVER = -(1 << 62)


class SlidingWindow:
    """At most ``limit`` admissions in any ``window_ns`` interval (times from a monotonic clock)."""

    __slots__ = ("limit", "window_ns", "_ring", "_i")

    def __init__(self, limit: int, window_ns: int) -> None:
        if limit < 1 or window_ns < 1:
            raise ValueError("a window needs limit >= 1 and window_ns >= 1")
        self.limit = limit
        self.window_ns = window_ns
        self._ring = [_NEVER] * limit
        self._i = 0

    def allows(self, now_ns: int) -> bool:
        return now_ns - self._ring[self._i] >= self.window_ns

    def admit(self, now_ns: int) -> None:
        """Record an admission at ``now_ns``; only after :meth:`allows` said yes."""
        i = self._i
        self._ring[i] = now_ns
        i += 1
        self._i = 0 if i == self.limit else i

    def count(self, now_ns: int) -> int:
        """Admissions in the window ending now (O(limit); for status, not the order path)."""
        edge = now_ns - self.window_ns
        return sum(1 for t in self._ring if t > edge)

    def last(self) -> int:
        """The time of the latest admission (``_NEVER`` if none)."""
        return self._ring[self._i - 1]


class _ClientWindows:
    __slots__ = ("second", "minute", "all")

    def __init__(self, second: SlidingWindow | None, minute: SlidingWindow | None) -> None:
        self.second = second
        self.minute = minute
        self.all: tuple[SlidingWindow, ...] = tuple(w for w in (second, minute) if w is not None)

    def replace(self, second: SlidingWindow | None, minute: SlidingWindow | None) -> None:
        self.second = second
        self.minute = minute
        self.all = tuple(w for w in (second, minute) if w is not None)

    def idle(self, now_ns: int) -> bool:
        return all(w is None or now_ns - w.last() >= w.window_ns for w in (self.second, self.minute))


class ClientThrottle:
    """Per-client sliding windows (per second and/or per minute), bounded number of clients."""

    __slots__ = ("per_second", "per_minute", "max_clients", "_clients", "forgotten")

    def __init__(self, per_second: int | None, per_minute: int | None, *, max_clients: int = 4096) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._clients: OrderedDict[str, _ClientWindows] = OrderedDict()
        self.forgotten = 0

    def windows(self, client: str, now_ns: int) -> _ClientWindows | None:
        """The client's windows (created on first sight); None if the table is full of active clients."""
        clients = self._clients
        w = clients.get(client)
        if w is not None:
            clients.move_to_end(client)
            return w
        if len(clients) >= self.max_clients:
            oldest = next(iter(clients.values()))
            if not oldest.idle(now_ns):
                return None
            clients.popitem(last=False)
            self.forgotten += 1
        w = _ClientWindows(
            SlidingWindow(self.per_second, SECOND_NS) if self.per_second else None,
            SlidingWindow(self.per_minute, MINUTE_NS) if self.per_minute else None,
        )
        clients[client] = w
        return w

    def __len__(self) -> int:
        return len(self._clients)


def first_full(windows: tuple[SlidingWindow, ...], now_ns: int) -> SlidingWindow | None:
    """The first of ``windows`` that would refuse an order at ``now_ns`` (the order path's check, inlined)."""
    for w in windows:
        if now_ns - w._ring[w._i] < w.window_ns:
            return w
    return None


def admit_all(windows: tuple[SlidingWindow, ...], now_ns: int) -> None:
    for w in windows:
        i = w._i
        w._ring[i] = now_ns
        i += 1
        w._i = 0 if i == w.limit else i
