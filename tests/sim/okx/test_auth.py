"""Request security of the offline OKX venue: OK-ACCESS-* headers, exact-bytes signing,
timestamp window, environment header; every failure HTTP 401 with OKX's code."""

from __future__ import annotations

import json

import pytest

from exchanges.okx.sim import OkxSim, OkxSimOptions
from tests.helpers import free_port

from .helpers import Rest, body_of, now_ms

PATH = "/api/v5/account/balance"


async def _status_code(rest: Rest, **override: str) -> tuple[int, str]:
    headers = rest.headers("GET", PATH, **override)
    for name in [k for k, v in override.items() if v == ""]:
        headers.pop(name)
    reply = await rest.client.get(PATH, headers=headers)
    return reply.status_code, body_of(reply)["code"]


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"OK-ACCESS-KEY": ""}, "50103"),
        ({"OK-ACCESS-KEY": "00000000-0000-0000-0000-000000000000"}, "50111"),
        ({"OK-ACCESS-PASSPHRASE": ""}, "50104"),
        ({"OK-ACCESS-PASSPHRASE": "wrong"}, "50105"),
        ({"OK-ACCESS-TIMESTAMP": ""}, "50107"),
        ({"OK-ACCESS-TIMESTAMP": "1700000000"}, "50112"),
        ({"OK-ACCESS-SIGN": ""}, "50106"),
        ({"OK-ACCESS-SIGN": "AAAA"}, "50113"),
    ],
)
async def test_header_errors(rest: Rest, override: dict[str, str], code: str) -> None:
    assert await _status_code(rest, **override) == (401, code)


async def test_timestamp_window(rest: Rest) -> None:
    stale = rest.headers("GET", PATH, ts_ms=now_ms() - 31_000)
    reply = await rest.client.get(PATH, headers=stale)
    assert reply.status_code == 401 and body_of(reply)["code"] == "50102"
    early = rest.headers("GET", PATH, ts_ms=now_ms() + 29_000)
    assert body_of(await rest.client.get(PATH, headers=early))["code"] == "0"


async def test_signature_covers_exact_body_and_query(rest: Rest) -> None:
    # python-okx sends json.dumps with spaces: the venue hashes the bytes as received
    body = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "50000", "sz": "0.001"}
    spaced = json.dumps(body, indent=1)
    assert body_of(await rest.post("/api/v5/trade/order", body, text=spaced))["code"] == "0"
    headers = rest.headers("POST", "/api/v5/trade/order", json.dumps(body))
    reply = await rest.client.post("/api/v5/trade/order", content=spaced.encode(), headers=headers)
    assert reply.status_code == 401 and body_of(reply)["code"] == "50113"
    # the query string is part of requestPath
    headers = rest.headers("GET", PATH)
    assert body_of(await rest.client.get(PATH + "?ccy=BTC", headers=headers))["code"] == "50113"


async def test_public_endpoints_need_no_key(rest: Rest) -> None:
    assert body_of(await rest.get("/api/v5/market/books", instId="BTC-USDT"))["code"] == "0"


async def test_environment_header() -> None:
    async with OkxSim(port=free_port(), options=OkxSimOptions(environment="demo")) as sim:
        rest = Rest(sim)
        try:
            live = await rest.client.get(PATH, headers=rest.headers("GET", PATH))
            assert live.status_code == 401 and body_of(live)["code"] == "50101"
            demo = await rest.client.get(PATH, headers=rest.headers("GET", PATH, **{"x-simulated-trading": "1"}))
            assert body_of(demo)["code"] == "0"
        finally:
            await rest.close()
