"""OKX v5 request signing (reference §2), used by the adapter and verified by the simulator.

REST: ``OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))``
where ``timestamp`` is the ``OK-ACCESS-TIMESTAMP`` header (ISO-8601 UTC with milliseconds),
``requestPath`` includes ``?query`` for GET and ``body`` is the JSON text exactly as sent
(``""`` for GET). WebSocket login: the same HMAC over ``timestamp + "GET" + "/users/self/verify"``
with ``timestamp`` in **seconds**. Base64 of the raw digest, never hex.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

__all__ = [
    "WS_LOGIN_PATH",
    "hmac_b64",
    "sign_rest",
    "sign_ws_login",
    "iso_timestamp",
    "parse_iso_timestamp",
]

WS_LOGIN_PATH = "/users/self/verify"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hmac_b64(secret: str, payload: str | bytes) -> str:
    data = payload.encode() if isinstance(payload, str) else payload
    return base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest()).decode()


def sign_rest(secret: str, timestamp: str, method: str, request_path: str, body: str | bytes = "") -> str:
    """Signature of one REST call; ``request_path`` with its ``?query`` and ``body`` as sent."""
    head = f"{timestamp}{method.upper()}{request_path}".encode()
    return hmac_b64(secret, head + (body.encode() if isinstance(body, str) else body))


def sign_ws_login(secret: str, timestamp_s: str) -> str:
    """Signature of the WebSocket ``login`` op (``timestamp_s`` in seconds, as sent)."""
    return hmac_b64(secret, f"{timestamp_s}GET{WS_LOGIN_PATH}")


def iso_timestamp(ms: int) -> str:
    """Epoch milliseconds as OKX's header timestamp, e.g. ``2026-09-10T04:25:00.123Z``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def parse_iso_timestamp(text: str) -> int:
    """The header timestamp as epoch ms; ValueError when it is not ISO-8601 UTC."""
    value = text.strip()
    if not value.endswith("Z") or "T" not in value:
        raise ValueError(f"not an ISO-8601 UTC timestamp: {text!r}")
    dt = datetime.fromisoformat(value[:-1] + "+00:00")
    return (dt - _EPOCH) // timedelta(milliseconds=1)
