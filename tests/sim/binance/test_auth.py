"""Request security exactly as Binance checks it (reference §2), over real sockets."""

from __future__ import annotations

from exchanges.binance.signing import encode_params, sign_rest, sign_ws_params
from exchanges.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, BinanceSim

from .helpers import Rest, json_of, now_ms


def test_default_credentials_verify_the_documented_vectors() -> None:
    # the sim's default secret is the docs' example secret: the published vectors hold
    query = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
             "&timestamp=1499827319559")
    assert sign_rest(DEFAULT_API_SECRET, query) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    params = {"apiKey": DEFAULT_API_KEY, "price": "52000.00", "quantity": "0.01000000", "recvWindow": 100,
              "side": "SELL", "symbol": "BTCUSDT", "timeInForce": "GTC", "timestamp": 1645423376532,
              "type": "LIMIT"}
    assert sign_ws_params(DEFAULT_API_SECRET, params) == \
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


async def test_bad_signature_is_1022(spot: Rest, fut: Rest) -> None:
    for rest, path in ((spot, "/api/v3/account"), (fut, "/fapi/v3/account")):
        r = await rest.signed("GET", path, secret="x" * 64)
        assert r.status_code == 400
        assert json_of(r) == {"code": -1022, "msg": "Signature for this request is not valid."}


async def test_signature_hex_case_is_ignored_and_query_plus_body_is_the_payload(spot: Rest) -> None:
    query = encode_params({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"})
    body = encode_params({"quantity": "0.001", "price": "50000", "timestamp": now_ms()})
    sig = sign_rest(spot.secret, query, body).upper()
    r = await spot.client.post(f"/api/v3/order?{query}", content=f"{body}&signature={sig}",
                               headers={"X-MBX-APIKEY": spot.key,
                                        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert json_of(r)["status"] == "NEW"


async def test_duplicate_name_in_query_and_body_the_query_wins(spot: Rest) -> None:
    query = encode_params({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                           "price": "50000"})
    body = encode_params({"quantity": "0.002", "price": "1", "timestamp": now_ms()})
    sig = sign_rest(spot.secret, query, body)
    r = await spot.client.post(f"/api/v3/order?{query}", content=f"{body}&signature={sig}",
                               headers={"X-MBX-APIKEY": spot.key,
                                        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert json_of(r)["price"] == "50000.00000000"


async def test_timestamp_window_is_1021(spot: Rest, fut: Rest) -> None:
    old = await spot.signed("GET", "/api/v3/account", timestamp=now_ms() - 10_000)
    assert old.status_code == 400
    assert json_of(old) == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    wide = await spot.signed("GET", "/api/v3/account", timestamp=now_ms() - 10_000, recvWindow=20_000)
    assert wide.status_code == 200
    ahead = await fut.signed("GET", "/fapi/v3/account", timestamp=now_ms() + 5_000)
    assert json_of(ahead) == {"code": -1021,
                              "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    micros = await spot.signed("GET", "/api/v3/account", timestamp=now_ms() * 1000)
    assert micros.status_code == 200, micros.text
    too_wide = await spot.signed("GET", "/api/v3/account", recvWindow=70_000)
    assert json_of(too_wide)["code"] == -1131


async def test_missing_or_bad_key(spot: Rest, fut: Rest) -> None:
    q = encode_params({"timestamp": now_ms()})
    sig = sign_rest(spot.secret, q)
    missing = await spot.client.get(f"/api/v3/account?{q}&signature={sig}")
    assert missing.status_code == 401
    assert json_of(missing) == {"code": -2014, "msg": "API-key format invalid."}
    unknown = await spot.signed("GET", "/api/v3/account", key="A" * 64)
    assert json_of(unknown) == {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
    listen = await fut.client.post("/fapi/v1/listenKey")
    assert json_of(listen)["code"] == -2014
    no_sig = await spot.keyed("GET", "/api/v3/account", timestamp=now_ms())
    assert json_of(no_sig) == {"code": -1102, "msg": "Mandatory parameter 'signature' was not sent, was "
                                                     "empty/null, or malformed."}
    no_ts = await spot.client.get(f"/api/v3/account?signature={sign_rest(spot.secret, '')}",
                                  headers={"X-MBX-APIKEY": spot.key})
    assert json_of(no_ts)["code"] == -1102 and "'timestamp'" in json_of(no_ts)["msg"]


async def test_custom_credentials() -> None:
    from exchanges.binance.sim import BinanceSimOptions
    from tests.helpers import free_port_pair

    options = BinanceSimOptions(api_key="k" * 64, api_secret="s" * 64)
    async with BinanceSim(port_base=free_port_pair(), options=options) as sim:
        rest = Rest(sim, "spot")
        try:
            assert sim.api_key == "k" * 64
            ok = await rest.signed("GET", "/api/v3/account")
            assert ok.status_code == 200
            bad = await rest.signed("GET", "/api/v3/account", key=DEFAULT_API_KEY, secret=DEFAULT_API_SECRET)
            assert json_of(bad)["code"] == -2015
        finally:
            await rest.close()
