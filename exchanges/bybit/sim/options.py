"""Options of the offline Bybit venue (protocol side; the market model is ``SimConfig``).

The test account's key and secret default to :data:`DEFAULT_API_KEY` / :data:`DEFAULT_API_SECRET`
(18 and 36 alphanumerics, the shape of a real Bybit HMAC key pair). Limits and intervals default
to Bybit's documented values (reference §4, §6); tests shorten them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exchanges.bybit.limits import UID_LIMITS

__all__ = ["BybitSimOptions", "DEFAULT_API_KEY", "DEFAULT_API_SECRET", "ACCOUNT_ID", "DEFAULT_UID_LIMITS"]

DEFAULT_API_KEY = "tBsimXk7Qe2RvN9pLa"
DEFAULT_API_SECRET = "Sm4xq8VYwK2hT9cRjL6fN1bZpD3gE7uHaQ0v"
ACCOUNT_ID = "bybit-sim-1"

#: Per-UID requests per rolling second, by limit key (``<path>`` or ``<path>:<category>``), §4:
#: Bybit's documented table, the one the client's budget starts from (``exchanges/bybit/limits.py``).
DEFAULT_UID_LIMITS: dict[str, int] = dict(UID_LIMITS)


@dataclass(frozen=True, slots=True, kw_only=True)
class BybitSimOptions:
    """Protocol knobs. Times in ms unless the name says otherwise."""

    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    # rate limits (§4); enforce_rate_limits=False still reports the X-Bapi-Limit-* headers
    enforce_rate_limits: bool = True
    ip_requests_per_5s: int = 600
    ip_ban_s: int = 600
    uid_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_UID_LIMITS))
    default_uid_limit: int = 50
    # WebSocket (§6): clients send {"op":"ping"}; a connection silent this long is closed.
    public_idle_timeout_s: float = 600.0
    private_idle_timeout_s: float = 600.0  # default of ?max_active_time (30 s..600 s)
    connection_lifetime_s: float = 86_400.0
    spot_max_args: int = 10
    max_args_chars: int = 21_000
    depth1_resend_s: float = 3.0  # orderbook.1 snapshot re-sent when unchanged
    # faults
    hang_ms: int = 30_000
    # outbound queues per connection
    market_queue_max: int = 10_000
    user_queue_max: int = 100_000

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ValueError("api_key and api_secret must be non-empty")
        if any(c.isspace() for c in self.api_key + self.api_secret):
            raise ValueError("api_key and api_secret must not contain whitespace")
        if self.ip_requests_per_5s <= 0 or self.default_uid_limit <= 0:
            raise ValueError("rate limits must be positive")
        if self.public_idle_timeout_s <= 0 or self.private_idle_timeout_s <= 0:
            raise ValueError("idle timeouts must be positive")
