"""The arbitrage layer's exception tree.

Every error says whether retrying later can help (``retryable``): stale market data clears by
itself once a fresh book arrives, a bad config or an illegal state transition does not.

``ArbitrageError``
  ├─ ``StaleData`` (retryable) — a book / price / funding rate too old, gapped or missing
  ├─ ``IllegalTransition`` — an event the position state machine does not accept in its state
  ├─ ``PlanError`` — the execution planner cannot produce a valid order (size below filters...)
  ├─ ``LedgerError`` (also ``ValueError``) — a record the PnL ledger cannot account for
  └─ ``StrategyConfigError`` (also ``ValueError``) — a bad config value or unknown key, naming it
"""

from __future__ import annotations

__all__ = [
    "ArbitrageError",
    "StaleData",
    "IllegalTransition",
    "PlanError",
    "LedgerError",
    "StrategyConfigError",
]


class ArbitrageError(Exception):
    retryable: bool = False


class StaleData(ArbitrageError):
    """Market data that must not be traded on; ``reason`` is a :class:`~.oracle.Freshness` value."""

    retryable = True

    def __init__(self, key: str, reason: str, age_ms: float | None = None) -> None:
        age = "" if age_ms is None else f" (age {age_ms:.0f} ms)"
        super().__init__(f"{key}: {reason}{age}")
        self.key = key
        self.reason = reason
        self.age_ms = age_ms


class IllegalTransition(ArbitrageError):
    def __init__(self, state: str, event: str, detail: str = "") -> None:
        extra = f": {detail}" if detail else ""
        super().__init__(f"event {event!r} is not allowed in state {state!r}{extra}")
        self.state = state
        self.event = event


class PlanError(ArbitrageError):
    pass


class LedgerError(ArbitrageError, ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StrategyConfigError(ArbitrageError, ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
