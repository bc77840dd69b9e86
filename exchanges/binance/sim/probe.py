"""Tick-to-order latency probe: two timestamps on the simulator's one clock (bench knob).

Off unless the bench firehose (``firehose.py``) is given a trigger. Then:

* :meth:`LatencyProbe.arm` marks a trigger frame (a book update that crosses the bench
  strategy's threshold) by its update id ``u``; :meth:`on_sent` — called by the connection's
  sender just before it writes a market frame to the socket — records ``time.monotonic_ns()``
  when that frame goes out (the first connection to send it wins);
* :meth:`on_request` — called by the WS-API reader with every request as read, before it is
  handled — records the arrival time of an order whose client order id is ``<prefix><u>``
  (the bench strategy names its orders after the book that triggered them); :meth:`on_form`
  does the same for a REST order (``POST /api/v3/order``, ``POST /fapi/v1/order``): its query
  string and form body, once read, before it is handled.

``snapshot()`` pairs them up: ``[[u, sent_ns, arrived_ns, sent_wall_ns, arrived_wall_ns], ...]``
— the monotonic pair is the measurement; the wall-clock pair (``time.time_ns()``, read right
after) lets a harness place the other processes' wall-clock timestamps between the two. Both
maps are bounded (``max_samples``; beyond it new samples are counted in ``overflow``).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

__all__ = ["LatencyProbe", "DEFAULT_ORDER_PREFIX"]

DEFAULT_ORDER_PREFIX = "tto-"


class LatencyProbe:
    def __init__(self, order_prefix: str = DEFAULT_ORDER_PREFIX, max_samples: int = 200_000) -> None:
        if not order_prefix:
            raise ValueError("order_prefix must be non-empty")
        self.order_prefix = order_prefix
        self.max_samples = max_samples
        self._needle = b'"' + order_prefix.encode()  # a JSON string value (WS-API)
        self._form_needle = b"=" + quote(order_prefix, safe="").encode()  # a form value (REST)
        self._armed: dict[bytes, int] = {}  # raw frame data → u
        self._tails: dict[bytes, int] = {}  # combined-stream frame ending (data + b"}") → u
        self.sent_ns: dict[int, tuple[int, int]] = {}  # u → (monotonic, wall)
        self.arrived_ns: dict[int, tuple[int, int]] = {}
        self.overflow = 0
        self.unmatched_orders = 0  # a prefixed client id whose suffix is not a number

    @property
    def armed(self) -> int:
        return len(self._armed)

    def arm(self, data: bytes, update_id: int) -> None:
        """Timestamp the next write of the frame carrying ``data`` (raw or in a combined envelope)."""
        self._armed[data] = update_id
        self._tails[data + b"}"] = update_id

    def on_sent(self, frame: bytes) -> None:
        armed = self._armed
        if not armed:
            return
        now = time.monotonic_ns()
        u = armed.get(frame)
        data = frame
        if u is None:
            for tail, tail_u in self._tails.items():
                if frame.endswith(tail):
                    u, data = tail_u, tail[:-1]
                    break
            else:
                return
        del armed[data]
        self._tails.pop(data + b"}", None)
        if u in self.sent_ns:
            return
        if len(self.sent_ns) >= self.max_samples:
            self.overflow += 1
            return
        self.sent_ns[u] = (now, time.time_ns())

    def on_request(self, raw: bytes) -> None:
        """A WS-API request (JSON) as read."""
        self._arrived(raw, self._needle, b'"')

    def on_form(self, raw: bytes) -> None:
        """A REST order's query string and form body (``&``-joined) as read."""
        self._arrived(raw, self._form_needle, b"&")

    def _arrived(self, raw: bytes, needle: bytes, stop: bytes) -> None:
        now = time.monotonic_ns()
        i = raw.find(needle)
        if i < 0:
            return
        start = i + len(needle)
        end = raw.find(stop, start)
        digits = raw[start:] if end < 0 else raw[start:end]
        if not digits.isdigit():
            self.unmatched_orders += 1
            return
        u = int(digits)
        if u in self.arrived_ns:  # a resend of the same order: the first arrival counts
            return
        if len(self.arrived_ns) >= self.max_samples:
            self.overflow += 1
            return
        self.arrived_ns[u] = (now, time.time_ns())

    def clear(self) -> None:
        self._armed.clear()
        self._tails.clear()
        self.sent_ns.clear()
        self.arrived_ns.clear()
        self.overflow = 0
        self.unmatched_orders = 0

    def snapshot(self) -> dict[str, Any]:
        pairs = [
            [u, sent[0], arrived[0], sent[1], arrived[1]]
            for u, sent in self.sent_ns.items()
            if (arrived := self.arrived_ns.get(u)) is not None
        ]
        return {
            "clock": "time.monotonic_ns() of the simulator process",
            "order_prefix": self.order_prefix,
            "pairs": pairs,
            "triggers_sent": len(self.sent_ns),
            "orders_arrived": len(self.arrived_ns),
            "orders_without_trigger": sum(1 for u in self.arrived_ns if u not in self.sent_ns),
            "unmatched_orders": self.unmatched_orders,
            "armed": len(self._armed),
            "overflow": self.overflow,
        }
