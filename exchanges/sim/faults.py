"""Fault injection state shared by a simulated venue's hosts (venue-neutral).

Faults are armed at run time (the ``/_sim/faults`` admin endpoint, CLI flags, or
``sim.faults.arm(...)`` in-process) and consumed by the dialect:

* ``delay_ms`` — every REST / WS-API response is held this long (the request is processed
  first, so a client that gives up has still changed state);
* ``fail`` — the next N requests get a 5xx *before* being processed (not executed);
* ``throttle`` — the next N requests get 429 or 418 with ``Retry-After``;
* ``unknown_outcome`` — the next N order placements are *accepted* and then the client gets no
  answer (``hang``), a 503 "unknown" error (``error``) or a dropped connection (``drop``);
* stream faults — the next N market-data frames are sent stale (an earlier frame again),
  out of order (swapped with the following one) or malformed (truncated JSON).

A rule may be limited to one host (``"spot"``/``"futures"``) and to paths starting with a
prefix. Every fired fault is counted in :attr:`Faults.fired`.
"""

from __future__ import annotations

import threading
from enum import StrEnum

import msgspec

__all__ = [
    "HttpFault",
    "UnknownOutcomeMode",
    "StreamFault",
    "FaultRule",
    "FaultRequest",
    "FaultsState",
    "Faults",
]


class HttpFault(StrEnum):
    FAIL = "fail"
    THROTTLE = "throttle"
    UNKNOWN_OUTCOME = "unknown_outcome"


class UnknownOutcomeMode(StrEnum):
    HANG = "hang"  # accepted, no answer (the client times out)
    ERROR = "error"  # accepted, then a 503 "unknown error" reply
    DROP = "drop"  # accepted, then the connection is dropped without a reply


class StreamFault(StrEnum):
    STALE = "stale"
    OUT_OF_ORDER = "out_of_order"
    MALFORMED = "malformed"


_FAIL_STATUSES = frozenset({500, 502, 503, 504})
_THROTTLE_STATUSES = frozenset({429, 418})


class FaultRule(msgspec.Struct, kw_only=True):
    kind: HttpFault
    remaining: int
    status: int = 0
    retry_after_s: int = 0
    mode: UnknownOutcomeMode = UnknownOutcomeMode.ERROR
    host: str | None = None
    path_prefix: str | None = None

    def matches(self, host: str, path: str) -> bool:
        if self.host is not None and self.host != host:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


class FaultRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to arm; fields left out are unchanged. Body of ``POST /_sim/faults``."""

    delay_ms: int | None = None
    fail_next: int | None = None
    fail_status: int = 503
    throttle_next: int | None = None
    throttle_status: int = 429
    retry_after_s: int = 10
    unknown_next: int | None = None
    unknown_mode: UnknownOutcomeMode = UnknownOutcomeMode.ERROR
    stale_frames: int | None = None
    out_of_order_frames: int | None = None
    malformed_frames: int | None = None
    host: str | None = None
    path_prefix: str | None = None

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        for name in (
            "delay_ms",
            "fail_next",
            "throttle_next",
            "unknown_next",
            "stale_frames",
            "out_of_order_frames",
            "malformed_frames",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.fail_status not in _FAIL_STATUSES:
            raise ValueError(f"fail_status must be one of {sorted(_FAIL_STATUSES)}, got {self.fail_status}")
        if self.throttle_status not in _THROTTLE_STATUSES:
            raise ValueError(f"throttle_status must be 429 or 418, got {self.throttle_status}")
        if self.unknown_mode not in set(UnknownOutcomeMode):
            raise ValueError(f"unknown_mode must be hang, error or drop, got {self.unknown_mode!r}")
        if self.retry_after_s < 0:
            raise ValueError(f"retry_after_s must be >= 0, got {self.retry_after_s}")
        if self.host is not None and self.host not in ("spot", "futures"):
            raise ValueError(f"host must be 'spot' or 'futures', got {self.host!r}")


class FaultsState(msgspec.Struct, kw_only=True):
    delay_ms: int
    rules: list[FaultRule]
    stream: dict[str, int]
    fired: dict[str, int]


class Faults:
    """Armed faults; safe to arm from another thread than the server's event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delay_ms = 0
        self._rules: list[FaultRule] = []
        self._stream: dict[StreamFault, int] = {f: 0 for f in StreamFault}
        self._stream_host: str | None = None
        self.fired: dict[str, int] = {}

    # -- arming -----------------------------------------------------------------------------

    def arm(self, req: FaultRequest) -> None:
        req.validate()
        with self._lock:
            if req.delay_ms is not None:
                self.delay_ms = req.delay_ms
            if req.fail_next:
                self._rules.append(
                    FaultRule(
                        kind=HttpFault.FAIL,
                        remaining=req.fail_next,
                        status=req.fail_status,
                        host=req.host,
                        path_prefix=req.path_prefix,
                    )
                )
            if req.throttle_next:
                self._rules.append(
                    FaultRule(
                        kind=HttpFault.THROTTLE,
                        remaining=req.throttle_next,
                        status=req.throttle_status,
                        retry_after_s=req.retry_after_s,
                        host=req.host,
                        path_prefix=req.path_prefix,
                    )
                )
            if req.unknown_next:
                self._rules.append(
                    FaultRule(
                        kind=HttpFault.UNKNOWN_OUTCOME,
                        remaining=req.unknown_next,
                        status=503,
                        mode=req.unknown_mode,
                        host=req.host,
                        path_prefix=req.path_prefix,
                    )
                )
            for fault, count in (
                (StreamFault.STALE, req.stale_frames),
                (StreamFault.OUT_OF_ORDER, req.out_of_order_frames),
                (StreamFault.MALFORMED, req.malformed_frames),
            ):
                if count is not None:
                    self._stream[fault] = count
                    self._stream_host = req.host

    def clear(self) -> None:
        with self._lock:
            self.delay_ms = 0
            self._rules.clear()
            self._stream = {f: 0 for f in StreamFault}
            self._stream_host = None

    # -- consuming --------------------------------------------------------------------------

    def take_http(self, kind: HttpFault, host: str, path: str) -> FaultRule | None:
        """Consume one matching rule of ``kind``; a copy of it (remaining=1) or None."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.kind is kind and rule.remaining > 0 and rule.matches(host, path):
                    rule.remaining -= 1
                    fired = msgspec.structs.replace(rule, remaining=1)
                    self._rules = [r for r in self._rules if r.remaining > 0]
                    self._count(kind.value)
                    return fired
        return None

    def take_stream(self, host: str) -> StreamFault | None:
        """Consume one pending stream fault for a market-data frame on ``host``."""
        stream = self._stream
        if not (stream[StreamFault.STALE] or stream[StreamFault.OUT_OF_ORDER] or stream[StreamFault.MALFORMED]):
            return None
        with self._lock:
            if self._stream_host is not None and self._stream_host != host:
                return None
            for fault in StreamFault:
                if self._stream[fault] > 0:
                    self._stream[fault] -= 1
                    self._count(fault.value)
                    return fault
        return None

    def _count(self, name: str) -> None:
        self.fired[name] = self.fired.get(name, 0) + 1

    def count(self, name: str) -> None:
        """Record a fault fired by an action (kill, expire, shutdown)."""
        with self._lock:
            self._count(name)

    def state(self) -> FaultsState:
        with self._lock:
            return FaultsState(
                delay_ms=self.delay_ms,
                rules=[msgspec.structs.replace(r) for r in self._rules],
                stream={f.value: n for f, n in self._stream.items()},
                fired=dict(self.fired),
            )
