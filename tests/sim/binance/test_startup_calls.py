"""The calls ccxt and nautilus_trader make at start-up: ``/sapi`` (capital config, margin pairs),
``/dapi/v1/exchangeInfo`` and ``/fapi/v1/openAlgoOrders``, answered for a spot + USD-M account."""

from __future__ import annotations

from .helpers import Rest, json_of


async def test_capital_config_lists_every_asset_with_its_balance(spot: Rest) -> None:
    unsigned = await spot.keyed("GET", "/sapi/v1/capital/config/getall")
    assert unsigned.status_code == 400 and json_of(unsigned)["code"] == -1102  # SIGNED: timestamp required
    r = await spot.signed("GET", "/sapi/v1/capital/config/getall")
    assert r.status_code == 200 and r.headers["x-mbx-used-weight-1m"] == "20"  # 10 each, the refused one too
    coins = {c["coin"]: c for c in json_of(r)}
    assert {"BTC", "ETH", "USDT"} <= set(coins)
    assert coins["USDT"]["free"] == "100000.00000000" and coins["USDT"]["networkList"] == []
    assert coins["BTC"]["depositAllEnable"] is False and coins["BTC"]["trading"] is True


async def test_margin_pairs_are_empty(spot: Rest) -> None:
    no_key = await spot.public("GET", "/sapi/v1/margin/allPairs")
    assert no_key.status_code == 401 and json_of(no_key)["code"] == -2014
    assert json_of(await spot.keyed("GET", "/sapi/v1/margin/allPairs")) == []
    assert json_of(await spot.signed("GET", "/sapi/v1/margin/allPairs")) == []
    assert json_of(await spot.signed("GET", "/sapi/v1/margin/isolated/allPairs")) == []


async def test_dapi_exchange_info_and_open_algo_orders(fut: Rest) -> None:
    info = json_of(await fut.public("GET", "/dapi/v1/exchangeInfo"))
    assert info["symbols"] == [] and info["timezone"] == "UTC" and isinstance(info["serverTime"], int)
    assert json_of(await fut.signed("GET", "/fapi/v1/openAlgoOrders")) == []
    one = await fut.signed("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT")
    assert json_of(one) == [] and one.status_code == 200
    unknown = await fut.signed("GET", "/fapi/v1/openAlgoOrders", symbol="DOGEUSDT")
    assert unknown.status_code == 400 and json_of(unknown)["code"] == -1121
