"""``GET /_sim/orders``: the venue's own order and fill books, as an auditor reads them."""

from __future__ import annotations

from decimal import Decimal

import httpx

from exchanges.okx.sim import OkxSim

from .helpers import Rest, body_of


async def test_orders_lists_every_order_with_its_fills(sim: OkxSim, rest: Rest) -> None:
    sim.venue.pause(False)
    filled = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "side": "buy",
        "ordType": "market",
        "sz": "0.001",
        "tgtCcy": "base_ccy",
    }
    resting = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "1000", "sz": "1"}
    assert body_of(await rest.post("/api/v5/trade/order", dict(filled, clOrdId="led1")))["code"] == "0"
    assert body_of(await rest.post("/api/v5/trade/order", dict(resting, clOrdId="led2")))["code"] == "0"
    async with httpx.AsyncClient(base_url=sim.urls.rest) as client:
        reply = await client.get("/_sim/orders")
    assert reply.status_code == 200
    book = reply.json()
    by_cid = {o["client_order_id"]: o for o in book["orders"]}
    assert set(by_cid) == {"led1", "led2"}
    assert by_cid["led1"]["status"] == "filled" and by_cid["led1"]["kind"] == "spot"
    fills = by_cid["led1"]["fills"]
    assert fills and sum(Decimal(f["qty"]) for f in fills) == Decimal(by_cid["led1"]["executed_qty"]) == Decimal(
        "0.001"
    )
    assert by_cid["led2"]["status"] == "new" and by_cid["led2"]["fills"] == [] and by_cid["led2"]["kind"] == "perp"
    assert book["account"] == sim.dialect.account
    assert Decimal(book["spot_balances"]["BTC"][0]) > 0
