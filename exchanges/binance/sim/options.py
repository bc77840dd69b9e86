"""Options of the offline Binance venue (protocol side; the market model is ``SimConfig``).

The test account's key and secret default to :data:`DEFAULT_API_KEY` /
:data:`DEFAULT_API_SECRET` (64 alphanumerics each, the shape of a real Binance HMAC key).
Intervals default to Binance's documented values (reference §6, §7); tests shorten them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BinanceSimOptions", "DEFAULT_API_KEY", "DEFAULT_API_SECRET", "ACCOUNT_ID"]

# The example key pair of Binance's own API documentation: its published signature vectors
# verify against the simulator unchanged.
DEFAULT_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DEFAULT_API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ACCOUNT_ID = "binance-sim-1"


@dataclass(frozen=True, slots=True, kw_only=True)
class BinanceSimOptions:
    """Protocol knobs. Times in ms unless the name says otherwise."""

    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    # user data
    listen_key_validity_ms: int = 3_600_000
    # WebSocket keep-alive and lifetime (§6)
    spot_ping_interval_s: float = 20.0
    spot_pong_timeout_s: float = 60.0
    futures_ping_interval_s: float = 180.0
    futures_pong_timeout_s: float = 600.0
    connection_lifetime_s: float = 86_400.0
    spot_stream_msgs_per_s: int = 5
    futures_stream_msgs_per_s: int = 10
    max_streams_per_connection: int = 1024
    # rate limits (§4); enforce_rate_limits=False still reports usage headers
    enforce_rate_limits: bool = True
    spot_weight_per_min: int = 6000
    spot_orders_per_10s: int = 50
    spot_orders_per_day: int = 160_000
    futures_weight_per_min: int = 2400
    futures_orders_per_10s: int = 300
    futures_orders_per_min: int = 1200
    funding_info_per_5min: int = 500
    # the REQUEST_WEIGHT window (Binance: 1 minute); tests shorten it, and ``*_weight_per_min`` is
    # then the limit per that window. exchangeInfo ``rateLimits`` and the usage header
    # (``X-MBX-USED-WEIGHT-10S``) name it, as Binance names each of its weight windows.
    weight_window_s: int = 60
    ban_after_violations: int = 3
    ban_seconds: int = 120
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
        if self.listen_key_validity_ms <= 0:
            raise ValueError("listen_key_validity_ms must be positive")
        if self.weight_window_s <= 0 or (self.weight_window_s > 60 and self.weight_window_s % 60):
            raise ValueError("weight_window_s must be positive: whole seconds up to 60, else whole minutes")
