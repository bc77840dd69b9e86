"""Request security exactly as Bybit v5 checks it (reference §2).

REST private calls carry ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP`` (ms), ``X-BAPI-SIGN`` and
optionally ``X-BAPI-RECV-WINDOW`` (default 5000). The signature is the HMAC-SHA256 hex of
``timestamp + apiKey + recvWindow + payload`` where the payload is the raw query string (GET)
or the raw body (POST), exactly as received: the server never re-sorts. A request is accepted
iff ``serverTime - recvWindow <= timestamp < serverTime + 1000`` (10002 otherwise).

WebSocket ``auth``: ``[apiKey, expires, hex(HMAC(secret, "GET/realtime" + expires))]`` with
``expires`` in the future.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping

from exchanges.bybit.signing import sign_rest, ws_auth_signature

from .api_errors import BybitApiError

__all__ = ["Authenticator", "WsAuthError"]

_DIGITS = re.compile(r"^[0-9]{1,20}$")
_DEFAULT_RECV_WINDOW = 5000


class WsAuthError(Exception):
    """A refused WebSocket ``auth``; ``msg`` goes to ``ret_msg``."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class Authenticator:
    """Checks requests against the single test account's key and secret."""

    def __init__(self, api_key: str, api_secret: str, now_ms: Callable[[], int]) -> None:
        self._key = api_key
        self._secret = api_secret
        self._now_ms = now_ms

    def check_rest(self, headers: Mapping[str, str], payload: bytes) -> None:
        """A private REST call: ``payload`` is the raw query (GET) or raw body (POST)."""
        key = headers.get("X-BAPI-API-KEY")
        if not key:
            raise BybitApiError(10003, "API key is invalid.")
        if key != self._key:
            raise BybitApiError(10003, "API key is invalid.")
        ts_text = headers.get("X-BAPI-TIMESTAMP", "")
        if not _DIGITS.match(ts_text):
            raise BybitApiError(10002, "invalid request, please check your timestamp and recv_window param")
        window_text = headers.get("X-BAPI-RECV-WINDOW", "")
        if window_text and not _DIGITS.match(window_text):
            raise BybitApiError(10001, "params error: X-BAPI-RECV-WINDOW invalid")
        window = int(window_text) if window_text else _DEFAULT_RECV_WINDOW
        ts = int(ts_text)
        now = self._now_ms()
        if not now - window <= ts < now + 1000:
            raise BybitApiError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]",
            )
        signature = headers.get("X-BAPI-SIGN", "")
        if not signature:
            raise BybitApiError(10004, "error sign! X-BAPI-SIGN is empty")
        expected = sign_rest(self._secret, ts_text, key, window_text or str(_DEFAULT_RECV_WINDOW), payload)
        if not hmac.compare_digest(expected, signature.lower()):
            raise BybitApiError(10004, "Error sign, please check your signature generation algorithm.")

    def check_ws(self, args: object) -> None:
        """``args`` of ``{"op":"auth"}``; raises :class:`WsAuthError` with Bybit's text."""
        if not isinstance(args, list) or len(args) != 3:
            raise WsAuthError("Params Error")
        key, expires, signature = args
        if isinstance(expires, str) and _DIGITS.match(expires):
            expires = int(expires)
        if not isinstance(key, str) or not isinstance(expires, int) or isinstance(expires, bool):
            raise WsAuthError("Params Error")
        if not isinstance(signature, str):
            raise WsAuthError("Params Error")
        if key != self._key:
            raise WsAuthError("Invalid apikey")
        if expires <= self._now_ms():
            raise WsAuthError("Params Error")
        if not hmac.compare_digest(ws_auth_signature(self._secret, expires), signature.lower()):
            raise WsAuthError("Invalid sign")
