"""Request security as Bybit v5 checks it: key, signature over the raw payload, recv window."""

from __future__ import annotations

import msgspec

from exchanges.bybit.signing import rest_presign, sign_rest

from .helpers import Rest, body, now_ms, ok


def test_presign_string_is_the_documented_concatenation() -> None:
    pre = rest_presign(1760325000000, "XXXXXXXXXX", 5000, "category=linear&symbol=BTCUSDT")
    assert pre == b"1760325000000XXXXXXXXXX5000category=linear&symbol=BTCUSDT"
    assert sign_rest("s", 1, "k", 5000, "a=1") == sign_rest("s", "1", "k", "5000", b"a=1")


async def test_signed_get_and_post(rest: Rest) -> None:
    assert ok(await rest.get("/v5/account/wallet-balance", accountType="UNIFIED"))["list"]
    assert (
        ok(
            await rest.post(
                "/v5/position/set-leverage", category="linear", symbol="BTCUSDT", buyLeverage="7", sellLeverage="7"
            )
        )
        == {}
    )


async def test_bad_key_signature_and_timestamp(rest: Rest) -> None:
    query = "accountType=UNIFIED"
    path = f"/v5/account/wallet-balance?{query}"
    bad_key = body(await rest.client.get(path, headers=rest.headers(query, key="WRONGKEY")))
    assert bad_key["retCode"] == 10003
    bad_sign = body(await rest.client.get(path, headers=rest.headers(query, secret="not-the-secret")))
    assert bad_sign["retCode"] == 10004
    old = body(await rest.client.get(path, headers=rest.headers(query, ts=now_ms() - 60_000)))
    assert old["retCode"] == 10002 and "recv_window" in old["retMsg"]
    ahead = body(await rest.client.get(path, headers=rest.headers(query, ts=now_ms() + 5_000)))
    assert ahead["retCode"] == 10002
    wide = body(await rest.client.get(path, headers=rest.headers(query, ts=now_ms() - 60_000, window="120000")))
    assert wide["retCode"] == 0
    no_headers = body(await rest.client.get(path))
    assert no_headers["retCode"] == 10003


async def test_the_raw_payload_is_hashed_not_a_resorted_one(rest: Rest) -> None:
    signed_for = "symbol=BTCUSDT&category=linear"
    sent = "category=linear&symbol=BTCUSDT"
    r = body(await rest.client.get(f"/v5/position/list?{sent}", headers=rest.headers(signed_for)))
    assert r["retCode"] == 10004
    raw = msgspec.json.encode({"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "3", "sellLeverage": "3"})
    spaced = raw.decode().replace(",", ", ")
    r = body(
        await rest.client.post(
            "/v5/position/set-leverage",
            content=spaced,
            headers=rest.headers(raw.decode()) | {"Content-Type": "application/json"},
        )
    )
    assert r["retCode"] == 10004
    r = body(
        await rest.client.post(
            "/v5/position/set-leverage",
            content=spaced,
            headers=rest.headers(spaced) | {"Content-Type": "application/json"},
        )
    )
    assert r["retCode"] == 0
