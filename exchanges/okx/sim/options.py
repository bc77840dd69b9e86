"""Options of the offline OKX venue (protocol side; the market model is ``SimConfig``).

The test account's key, secret and passphrase default to :data:`DEFAULT_API_KEY`,
:data:`DEFAULT_API_SECRET` and :data:`DEFAULT_PASSPHRASE` (the shapes of real OKX
credentials: a UUID key and a 32-hex-digit secret). Times default to OKX's documented values
(reference §2, §4, §6, §7); tests shorten them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "OkxSimOptions",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_PASSPHRASE",
    "ACCOUNT_ID",
    "UID",
    "Environment",
]

DEFAULT_API_KEY = "985d5b66-57ce-40fb-b714-afc0b9787083"
DEFAULT_API_SECRET = "2A3F4C0E8B6D41F7A9C3E5B1D7F90A2C"
DEFAULT_PASSPHRASE = "Passw0rd!"
ACCOUNT_ID = "okx-sim-1"
UID = "614488474791936"

Environment = Literal["any", "live", "demo"]


def _default_limits() -> dict[str, tuple[int, int]]:
    """Rule name → (requests, window ms); see ``ratelimit.RULES`` for what each covers."""
    return {
        "order": (60, 2000),
        "cancel": (60, 2000),
        "amend": (60, 2000),
        "batch-amend": (300, 2000),
        "batch-orders": (300, 2000),
        "batch-cancel": (300, 2000),
        "order-query": (60, 2000),
        "orders-pending": (60, 2000),
        "orders-history": (40, 2000),
        "fills": (60, 2000),
        "balance": (10, 2000),
        "positions": (10, 2000),
        "set-leverage": (20, 2000),
        "leverage-info": (20, 2000),
        "account-config": (5, 2000),
        "bills": (5, 1000),
        "currencies": (6, 1000),
        "instruments": (20, 2000),
        "books": (40, 2000),
        "books-full": (10, 2000),
        "ticker": (20, 2000),
        "tickers": (20, 2000),
        "index-tickers": (20, 2000),
        "funding-rate": (10, 2000),
        "funding-history": (10, 2000),
        "mark-price": (10, 2000),
        "time": (10, 2000),
        "trades": (100, 2000),
        "sub-account-orders": (1000, 2000),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class OkxSimOptions:
    """Protocol knobs. Times in seconds unless the name says otherwise."""

    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    passphrase: str = DEFAULT_PASSPHRASE
    uid: str = UID
    # "any": accept requests with or without ``x-simulated-trading: 1``; "live"/"demo": the
    # key belongs to that environment and the other one gets 50101 (reference §1).
    environment: Environment = "any"
    timestamp_window_s: float = 30.0  # REST OK-ACCESS-TIMESTAMP and WS login timestamp
    # WebSocket (reference §6, §7)
    idle_timeout_s: float = 30.0  # close 4004 after this long with no traffic either way
    ws_ops_per_hour: int = 480  # subscribe + unsubscribe + login per connection
    ws_connects_per_s: int = 3  # new connections per second per IP
    book_snapshot: bool = True  # False: ``books`` sends no snapshot (the planned 2026 change)
    book_checksum: bool = True  # False: ``checksum`` is always 0 (production since 2026-06-23)
    book_keepalive_s: float = 60.0  # empty ``books`` update after this long without changes
    funding_rate_push_s: float = 30.0  # ``funding-rate`` channel cadence (and on each settlement)
    positions_push_s: float = 5.0  # periodic ``positions`` snapshot (0 disables)
    account_push_s: float = 5.0  # periodic ``account`` snapshot (0 disables)
    # rate limits (reference §4); enforce_rate_limits=False only counts
    enforce_rate_limits: bool = True
    limits: dict[str, tuple[int, int]] = field(default_factory=_default_limits)
    # faults
    hang_ms: int = 30_000
    # outbound queues per connection
    market_queue_max: int = 10_000
    user_queue_max: int = 100_000

    def __post_init__(self) -> None:
        for name in ("api_key", "api_secret", "passphrase"):
            value = getattr(self, name)
            if not value:
                raise ValueError(f"{name} must be non-empty")
            if any(c.isspace() for c in value):
                raise ValueError(f"{name} must not contain whitespace")
        if self.environment not in ("any", "live", "demo"):
            raise ValueError(f"environment must be any, live or demo, got {self.environment!r}")
        if self.idle_timeout_s <= 0:
            raise ValueError("idle_timeout_s must be positive")
        if self.timestamp_window_s <= 0:
            raise ValueError("timestamp_window_s must be positive")
