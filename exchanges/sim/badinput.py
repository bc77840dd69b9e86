"""Count bad input (payloads, frames, arguments), log once per kind with a sample, keep going."""

from __future__ import annotations

import logging
import threading

__all__ = ["BadInput"]

_log = logging.getLogger("exchanges.sim.badinput")
_SAMPLE_CHARS = 200


class BadInput:
    """Counters of malformed requests by kind (e.g. ``"rest:-1102"``, ``"ws:invalid-json"``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def record(self, kind: str, sample: str | bytes = "") -> None:
        with self._lock:
            first = kind not in self.counts
            self.counts[kind] = self.counts.get(kind, 0) + 1
        if first:
            text = sample.decode("utf-8", "replace") if isinstance(sample, bytes) else sample
            _log.warning("bad input %s (logged once per kind), sample: %r", kind, text[:_SAMPLE_CHARS])

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)
