"""Per-topic sequence tracking: in order, first sight, stale after a snapshot, gap, or reset."""

from __future__ import annotations

from enum import Enum

__all__ = ["Verdict", "SeqTracker"]


class Verdict(Enum):
    OK = "ok"  # the next one (or unsequenced)
    FIRST = "first"  # first event seen on the topic
    STALE = "stale"  # not newer than the snapshot the topic was seeded from: drop it
    GAP = "gap"  # the sequence jumped: events were lost
    RESET = "reset"  # the sequence went backwards: the publisher restarted


class SeqTracker:
    """``check`` judges an event's sequence number; ``accept``/``seed`` record what was applied."""

    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}
        self._seeded: set[bytes] = set()

    def check(self, topic: bytes, seq: int) -> tuple[Verdict, int]:
        """(verdict, the sequence number that was expected next)."""
        if seq <= 0:
            return Verdict.OK, 0
        last = self._last.get(topic)
        if last is None:
            return Verdict.FIRST, seq
        expected = last + 1
        if topic in self._seeded:
            if seq <= last:
                return Verdict.STALE, expected
        elif seq <= last:
            return Verdict.RESET, expected
        return (Verdict.OK if seq == expected else Verdict.GAP), expected

    def accept(self, topic: bytes, seq: int) -> None:
        if seq > 0:
            self._last[topic] = seq
            self._seeded.discard(topic)

    def seed(self, topic: bytes, seq: int) -> bool:
        """Record a snapshot at ``seq``; False (ignored) when events newer than it were applied."""
        last = self._last.get(topic)
        if last is not None and topic not in self._seeded and last >= seq:
            return False
        self._last[topic] = seq
        self._seeded.add(topic)
        return True

    def last(self, topic: bytes) -> int | None:
        return self._last.get(topic)

    def forget(self, topic: bytes) -> None:
        self._last.pop(topic, None)
        self._seeded.discard(topic)

    def clear(self) -> None:
        self._last.clear()
        self._seeded.clear()
