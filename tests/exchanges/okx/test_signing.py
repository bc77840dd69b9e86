"""Signing as OKX verifies it: base64 HMAC-SHA256, ISO timestamps, the WS login pre-hash."""

from __future__ import annotations

import base64
import hashlib
import hmac

from exchanges.okx.signing import iso_timestamp, parse_iso_timestamp, sign_rest, sign_ws_login


def test_rest_prehash_is_timestamp_method_path_body() -> None:
    ts = "2026-09-10T04:25:00.123Z"
    expected = base64.b64encode(
        hmac.new(b"secret", f"{ts}GET/api/v5/account/balance?ccy=USDT".encode(), hashlib.sha256).digest()
    ).decode()
    assert sign_rest("secret", ts, "get", "/api/v5/account/balance?ccy=USDT") == expected
    body = '{"instId":"BTC-USDT"}'
    assert sign_rest("secret", ts, "POST", "/api/v5/trade/order", body) != sign_rest(
        "secret", ts, "POST", "/api/v5/trade/order", body.replace(":", ": ")
    )


def test_ws_login_prehash() -> None:
    expected = base64.b64encode(hmac.new(b"s", b"1760325061GET/users/self/verify", hashlib.sha256).digest()).decode()
    assert sign_ws_login("s", "1760325061") == expected


def test_iso_timestamps() -> None:
    assert iso_timestamp(1_760_325_099_003) == "2025-10-13T03:11:39.003Z"
    assert parse_iso_timestamp("2025-10-13T03:11:39.003Z") == 1_760_325_099_003
    assert parse_iso_timestamp(iso_timestamp(0)) == 0
