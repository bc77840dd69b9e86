"""Request security as OKX checks it (reference §2).

REST: every private call carries ``OK-ACCESS-KEY``, ``OK-ACCESS-PASSPHRASE``,
``OK-ACCESS-TIMESTAMP`` (ISO-8601 UTC, within ``timestamp_window_s`` of server time) and
``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of ``timestamp + METHOD + requestPath(?query) + body``
over the exact bytes received. Failures are HTTP 401 with OKX's 501xx codes. WebSocket login
checks the same key/passphrase and a signature over ``timestamp + "GET/users/self/verify"``
with the timestamp in seconds (60xxx codes).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from exchanges.okx.signing import hmac_b64, parse_iso_timestamp, sign_ws_login

from .api_errors import OkxApiError
from .options import OkxSimOptions

__all__ = ["Authenticator", "LoginError"]


class LoginError(Exception):
    """A refused WebSocket login (``code`` is the 60xxx error code)."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def _unauthorized(code: int, msg: str) -> OkxApiError:
    return OkxApiError(code, msg, 401)


class Authenticator:
    """Checks requests against the single test account's key, secret and passphrase."""

    def __init__(self, options: OkxSimOptions, now_ms: Callable[[], int]) -> None:
        self._opts = options
        self._now_ms = now_ms

    def check_rest(self, headers: Mapping[str, str], method: str, path_qs: str, body: bytes) -> None:
        """Raise :class:`OkxApiError` (HTTP 401) unless the request is signed by the account."""
        opts = self._opts
        key = headers.get("OK-ACCESS-KEY", "")
        if not key:
            raise _unauthorized(50103, 'Request header "OK-ACCESS-KEY" can not be empty.')
        if key != opts.api_key:
            raise _unauthorized(50111, "Invalid OK-ACCESS-KEY.")
        self._check_environment(headers)
        passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
        if not passphrase:
            raise _unauthorized(50104, 'Request header "OK-ACCESS-PASSPHRASE" can not be empty.')
        if not hmac.compare_digest(passphrase.encode(), opts.passphrase.encode()):
            raise _unauthorized(50105, 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
        timestamp = headers.get("OK-ACCESS-TIMESTAMP", "")
        if not timestamp:
            raise _unauthorized(50107, 'Request header "OK-ACCESS-TIMESTAMP" can not be empty.')
        try:
            ts_ms = parse_iso_timestamp(timestamp)
        except ValueError:
            raise _unauthorized(50112, "Invalid OK-ACCESS-TIMESTAMP") from None
        if abs(self._now_ms() - ts_ms) > opts.timestamp_window_s * 1000:
            raise _unauthorized(50102, "Timestamp request expired")
        sign = headers.get("OK-ACCESS-SIGN", "")
        if not sign:
            raise _unauthorized(50106, 'Request header "OK-ACCESS-SIGN" can not be empty.')
        expected = hmac_b64(opts.api_secret, timestamp.encode() + method.upper().encode() + path_qs.encode() + body)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            raise _unauthorized(50113, "Invalid Sign")

    def _check_environment(self, headers: Mapping[str, str]) -> None:
        env = self._opts.environment
        if env == "any":
            return
        simulated = headers.get("x-simulated-trading", "") == "1"
        if simulated != (env == "demo"):
            raise _unauthorized(50101, "APIKey does not match current environment.")

    def check_login(self, args: Mapping[str, object]) -> None:
        """The WebSocket ``login`` op's single argument; raises :class:`LoginError`."""
        opts = self._opts
        key, passphrase = args.get("apiKey"), args.get("passphrase")
        timestamp, sign = args.get("timestamp"), args.get("sign")
        if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
            # OKX documents a string; its own SDK (python-okx) sends a JSON number and OKX takes it,
            # signed over the number's decimal text
            timestamp = str(timestamp)
        if not all(isinstance(v, str) and v for v in (key, passphrase, timestamp, sign)):
            raise LoginError(60013, "Invalid args")
        assert isinstance(key, str) and isinstance(passphrase, str)
        assert isinstance(timestamp, str) and isinstance(sign, str)
        if key != opts.api_key:
            raise LoginError(60005, "Invalid apiKey")
        if not hmac.compare_digest(passphrase.encode(), opts.passphrase.encode()):
            raise LoginError(60024, "Wrong passphrase")
        try:
            ts_s = float(timestamp)
        except ValueError:
            raise LoginError(60004, "Invalid timestamp") from None
        if abs(self._now_ms() / 1000 - ts_s) > opts.timestamp_window_s:
            raise LoginError(60006, "Timestamp request expired")
        expected = sign_ws_login(opts.api_secret, timestamp)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            raise LoginError(60007, "Invalid sign")
