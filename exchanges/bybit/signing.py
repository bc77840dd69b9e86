"""HMAC-SHA256 signing exactly as Bybit v5 verifies it (reference §2).

REST: ``hex(HMAC(secret, timestamp + apiKey + recvWindow + payload))`` where the payload is the
query string exactly as sent (GET) or the raw JSON body (POST). WebSocket auth:
``hex(HMAC(secret, "GET/realtime" + expires))``. The simulator verifies with these functions.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

__all__ = ["hmac_hex", "rest_presign", "sign_rest", "ws_auth_signature", "encode_query"]


def hmac_hex(secret: str, payload: str | bytes) -> str:
    data = payload if isinstance(payload, bytes) else payload.encode()
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def rest_presign(timestamp_ms: int | str, api_key: str, recv_window_ms: int | str, payload: str | bytes) -> bytes:
    head = f"{timestamp_ms}{api_key}{recv_window_ms}".encode()
    return head + (payload if isinstance(payload, bytes) else payload.encode())


def sign_rest(
    secret: str, timestamp_ms: int | str, api_key: str, recv_window_ms: int | str, payload: str | bytes
) -> str:
    """``X-BAPI-SIGN`` of a request whose query string (GET) or body (POST) is ``payload``."""
    return hmac_hex(secret, rest_presign(timestamp_ms, api_key, recv_window_ms, payload))


def ws_auth_signature(secret: str, expires_ms: int) -> str:
    """The third ``args`` item of ``{"op":"auth","args":[key, expires, signature]}``."""
    return hmac_hex(secret, f"GET/realtime{expires_ms}")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(params: Mapping[str, object]) -> str:
    """``k=v&...`` in insertion order, values percent-encoded, None values left out."""
    return "&".join(f"{k}={quote(_text(v), safe='')}" for k, v in params.items() if v is not None)
