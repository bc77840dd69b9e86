"""Request security exactly as Binance checks it (reference §2).

* API key: ``X-MBX-APIKEY`` header (REST) or ``apiKey`` param (WS-API). Missing or not 64
  alphanumerics → -2014; well-formed but unknown → -2015 (HTTP 401).
* SIGNED: HMAC-SHA256 over ``query + body`` exactly as sent (REST, signature pair removed) or
  over the params sorted by name (WS-API); hex compared case-insensitively → -1022.
* ``timestamp`` (spot also in µs) must be ``< serverTime + 1000`` and no older than
  ``recvWindow`` (default 5000, at most 60000) → -1021.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from decimal import Decimal

from exchanges.binance.signing import hmac_hex, ws_api_payload

from .api_errors import BinanceApiError, Product, illegal_chars, mandatory
from .params import Params

__all__ = ["Authenticator"]

_KEY_RE = re.compile(r"^[A-Za-z0-9]{64}$")
_TS_RE = re.compile(r"^[0-9]{1,20}$")
_SPOT_WINDOW_RE = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,3})?$")
_MAX_RECV_WINDOW = Decimal(60000)
_DEFAULT_RECV_WINDOW = Decimal(5000)
_MICROS_THRESHOLD = 10**14


class Authenticator:
    """Checks one product's requests against the single test account's key and secret."""

    def __init__(self, product: Product, api_key: str, api_secret: str, now_ms: Callable[[], int]) -> None:
        self.product = product
        self._key = api_key
        self._secret = api_secret
        self._now_ms = now_ms

    def check_key(self, key: str | None) -> None:
        if key == self._key:
            return
        if not key or not _KEY_RE.match(key):
            raise BinanceApiError(-2014, "API-key format invalid.", 401)
        raise BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def check_rest(self, params: Params, raw_query: str, raw_body: str) -> None:
        """SIGNED REST request: ``raw_query``/``raw_body`` exactly as received."""
        query, sig_q = _strip(raw_query)
        body, sig_b = _strip(raw_body)
        signature = sig_q if sig_q is not None else sig_b
        if not signature:
            raise mandatory("signature")
        self._check_time(params)
        expected = hmac_hex(self._secret, query + body)
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceApiError(-1022, "Signature for this request is not valid.")

    def check_ws(self, params: Params) -> None:
        """SIGNED WS-API request: ``apiKey``, ``timestamp`` and ``signature`` in params."""
        self.check_key(params.raw("apiKey"))
        signature = params.raw("signature")
        if not signature:
            raise mandatory("signature")
        self._check_time(params)
        values = {name: params.raw(name) or "" for name in params.names()}
        expected = hmac_hex(self._secret, ws_api_payload(values))
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceApiError(-1022, "Signature for this request is not valid.")

    def _check_time(self, params: Params) -> None:
        raw_ts = params.raw("timestamp")
        if raw_ts is None or raw_ts == "":
            raise mandatory("timestamp")
        if not _TS_RE.match(raw_ts):
            raise illegal_chars("timestamp", "^[0-9]{1,20}$")
        ts = Decimal(raw_ts)
        if self.product == "spot" and ts >= _MICROS_THRESHOLD:
            ts = ts / 1000
        window = self._recv_window(params)
        now = self._now_ms()
        if ts >= now + 1000:
            raise BinanceApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - ts > window:
            raise BinanceApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _recv_window(self, params: Params) -> Decimal:
        raw = params.raw("recvWindow")
        if raw is None:
            return _DEFAULT_RECV_WINDOW
        pattern = _SPOT_WINDOW_RE if self.product == "spot" else _TS_RE
        if not pattern.match(raw):
            raise illegal_chars("recvWindow", "^[0-9]{1,20}$")
        window = Decimal(raw)
        if window > _MAX_RECV_WINDOW:
            raise BinanceApiError(-1131, "recvWindow must be less than 60000")
        return window


def _strip(raw: str) -> tuple[str, str | None]:
    if "signature=" not in raw:
        return raw, None
    kept: list[str] = []
    signature: str | None = None
    for piece in raw.split("&"):
        if piece.startswith("signature="):
            signature = piece[len("signature=") :]
        else:
            kept.append(piece)
    return "&".join(kept), signature
