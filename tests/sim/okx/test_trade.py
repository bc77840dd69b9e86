"""Trade and account REST of the offline OKX venue: lifecycle, units, per-item errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.okx.sim import OkxSim
from strategy_client.model import MarketKind

from .helpers import Rest, body_of

SWAP = "BTC-USDT-SWAP"


def _best(sim: OkxSim, kind: MarketKind, side: str) -> Decimal:
    book = sim.venue.book(kind, "BTCUSDT", 1)
    return (book.bids if side == "bid" else book.asks)[0][0]


def _item(reply: Any) -> Any:
    assert len(reply["data"]) == 1, reply
    return reply["data"][0]


async def _get(rest: Rest, inst_id: str, **ids: str) -> Any:
    return body_of(await rest.signed_get("/api/v5/trade/order", instId=inst_id, **ids))


async def test_limit_order_lifecycle(sim: OkxSim, rest: Rest) -> None:
    px = str((_best(sim, MarketKind.PERP, "bid") * Decimal("0.98")).quantize(Decimal("0.1")))
    placed = await rest.order(instId=SWAP, tdMode="cross", side="buy", ordType="limit", px=px, sz="1.5", clOrdId="a1")
    item = _item(placed)
    assert placed["code"] == "0" and item["sCode"] == "0" and item["clOrdId"] == "a1" and item["ordId"].isdigit()
    assert "inTime" in placed and "outTime" in placed
    got = _item(await _get(rest, SWAP, clOrdId="a1"))
    assert got["state"] == "live" and got["sz"] == "1.5" and got["accFillSz"] == "0" and got["px"] == px
    assert got["ordType"] == "limit" and got["tdMode"] == "cross" and got["posSide"] == "net" and got["avgPx"] == ""
    assert _item(await _get(rest, SWAP, ordId=item["ordId"]))["clOrdId"] == "a1"
    pending = body_of(await rest.signed_get("/api/v5/trade/orders-pending", instType="SWAP"))["data"]
    assert [o["clOrdId"] for o in pending] == ["a1"]
    canceled = await rest.post("/api/v5/trade/cancel-order", {"instId": SWAP, "clOrdId": "a1"})
    assert body_of(canceled)["code"] == "0"
    after = _item(await _get(rest, SWAP, clOrdId="a1"))
    assert after["state"] == "canceled" and after["cancelSource"] == "1"
    again = body_of(await rest.post("/api/v5/trade/cancel-order", {"instId": SWAP, "ordId": item["ordId"]}))
    assert again["code"] == "1" and _item(again)["sCode"] == "51400"
    history = body_of(await rest.signed_get("/api/v5/trade/orders-history", instType="SWAP"))["data"]
    assert [o["ordId"] for o in history] == [item["ordId"]]
    missing = await _get(rest, SWAP, clOrdId="nope")
    assert missing["code"] == "51603" and missing["data"] == []


async def test_market_swap_position_and_reduce_only(sim: OkxSim, rest: Rest) -> None:
    ask = _best(sim, MarketKind.PERP, "ask")
    buy = _item(await rest.order(instId=SWAP, tdMode="cross", side="buy", ordType="market", sz="2", clOrdId="m1"))
    got = _item(await _get(rest, SWAP, ordId=buy["ordId"]))
    assert got["state"] == "filled" and got["accFillSz"] == "2" and Decimal(got["avgPx"]) == ask
    fee = Decimal(got["fee"])
    assert fee == -(Decimal("0.02") * ask * Decimal("0.0005")).quantize(Decimal("0.00000001"))
    assert got["feeCcy"] == "USDT" and got["fillSz"] == "2" and got["tradeId"]
    pos = body_of(await rest.signed_get("/api/v5/account/positions", instType="SWAP"))["data"]
    assert len(pos) == 1 and pos[0]["pos"] == "2" and pos[0]["posSide"] == "net" and pos[0]["mgnMode"] == "cross"
    assert Decimal(pos[0]["avgPx"]) == ask and pos[0]["fee"] == got["fee"]
    close = await rest.order(instId=SWAP, tdMode="cross", side="sell", ordType="market", sz="5", reduceOnly=True)
    assert _item(close)["sCode"] == "0"
    assert body_of(await rest.signed_get("/api/v5/account/positions"))["data"] == []
    flat = _item(await rest.order(instId=SWAP, tdMode="cross", side="sell", ordType="market", sz="1", reduceOnly=True))
    assert flat["sCode"] == "51169"
    fills = body_of(await rest.signed_get("/api/v5/trade/fills", instType="SWAP"))["data"]
    assert len(fills) == 2 and {f["side"] for f in fills} == {"buy", "sell"}


async def test_spot_market_sizing(sim: OkxSim, rest: Rest) -> None:
    by_quote = _item(await rest.order(instId="BTC-USDT", tdMode="cash", side="buy", ordType="market", sz="100"))
    got = _item(await _get(rest, "BTC-USDT", ordId=by_quote["ordId"]))
    assert got["tgtCcy"] == "quote_ccy" and got["sz"] == "100" and got["state"] == "filled"
    assert Decimal(got["accFillSz"]) * Decimal(got["avgPx"]) <= Decimal(100) and got["feeCcy"] == "BTC"
    by_base = _item(
        await rest.order(instId="BTC-USDT", tdMode="cash", side="buy", ordType="market", sz="0.002", tgtCcy="base_ccy")
    )
    base = _item(await _get(rest, "BTC-USDT", ordId=by_base["ordId"]))
    assert base["accFillSz"] == "0.002" and base["tgtCcy"] == "base_ccy"
    sell = _item(await rest.order(instId="BTC-USDT", tdMode="cash", side="sell", ordType="market", sz="0.001"))
    assert _item(await _get(rest, "BTC-USDT", ordId=sell["ordId"]))["feeCcy"] == "USDT"


async def test_orders_the_venue_accepts_then_cancels(sim: OkxSim, rest: Rest) -> None:
    ask = str(_best(sim, MarketKind.PERP, "ask"))
    po = _item(
        await rest.order(instId=SWAP, tdMode="cross", side="buy", ordType="post_only", px=ask, sz="1", clOrdId="po")
    )
    assert po["sCode"] == "0"
    got = _item(await _get(rest, SWAP, clOrdId="po"))
    assert got["state"] == "canceled" and got["cancelSource"] == "31" and got["accFillSz"] == "0"
    assert _item(await _get(rest, SWAP, ordId=po["ordId"]))["clOrdId"] == "po"
    fok = _item(await rest.order(instId=SWAP, tdMode="cross", side="buy", ordType="fok", px=ask, sz="500"))
    assert _item(await _get(rest, SWAP, ordId=fok["ordId"]))["cancelSource"] == "13"
    ioc = _item(await rest.order(instId=SWAP, tdMode="cross", side="buy", ordType="ioc", px=ask, sz="80"))
    got = _item(await _get(rest, SWAP, ordId=ioc["ordId"]))
    assert got["state"] == "canceled" and got["cancelSource"] == "14" and got["accFillSz"] == "50"


async def test_item_errors(sim: OkxSim, rest: Rest) -> None:
    bid = _best(sim, MarketKind.PERP, "bid")
    base = {"instId": SWAP, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": str(bid - 100), "sz": "1"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"clOrdId": "has-dash"}, "51000"),
        ({"sz": "1.005"}, "51121"),
        ({"sz": "0.001"}, "51121"),
        ({"posSide": "long"}, "51000"),
        ({"tdMode": "isolated"}, "51010"),
        ({"instId": "DOGE-USDT-SWAP"}, "51001"),
        ({"sz": None}, "50014"),
        ({"px": str(bid * 2)}, "51006"),
        ({"px": "60000.05"}, "51000"),
        ({"ordType": "twap"}, "51000"),
        ({"sz": "100000"}, "51008"),
    ]
    for change, code in cases:
        body = {k: v for k, v in {**base, **change}.items() if v is not None}
        reply = await rest.post("/api/v5/trade/order", body)
        assert reply.status_code == 200, change
        item = _item(body_of(reply))
        assert body_of(reply)["code"] == "1" and item["sCode"] == code and item["sMsg"], (change, item)
    spot = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "50000"}
    assert _item(await rest.order(**spot, sz="0.000001"))["sCode"] == "51020"
    assert _item(await rest.order(**spot, sz="100"))["sCode"] == "51008"
    assert _item(await rest.order(**spot, sz="0.001", posSide="net"))["sCode"] == "51000"
    assert _item(await rest.order(**spot, sz="0.001", clOrdId="dup"))["sCode"] == "0"
    assert _item(await rest.order(**spot, sz="0.001", clOrdId="dup"))["sCode"] == "51016"
    bad_json = await rest.post("/api/v5/trade/order", None, text="{not json")
    assert bad_json.status_code == 400 and body_of(bad_json)["code"] == "50002"


async def test_batch_orders_partial(rest: Rest) -> None:
    good = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "50000", "sz": "0.001"}
    reply = body_of(await rest.post("/api/v5/trade/batch-orders", [dict(good, clOrdId="b1"), dict(good, sz="1e-9")]))
    assert reply["code"] == "2" and [i["sCode"] for i in reply["data"]] == ["0", "51121"]
    canceled = body_of(
        await rest.post("/api/v5/trade/cancel-batch-orders", [{"instId": "BTC-USDT", "clOrdId": "b1"}] * 2)
    )
    assert canceled["code"] == "2" and [i["sCode"] for i in canceled["data"]] == ["0", "51400"]
    too_many = await rest.post("/api/v5/trade/batch-orders", [good] * 21)
    assert too_many.status_code == 400 and body_of(too_many)["code"] == "51000"


async def test_account(sim: OkxSim, rest: Rest) -> None:
    bal = body_of(await rest.signed_get("/api/v5/account/balance"))["data"][0]
    usdt = next(d for d in bal["details"] if d["ccy"] == "USDT")
    assert Decimal(usdt["cashBal"]) == Decimal(200000) and usdt["availBal"] == usdt["cashBal"]
    only = body_of(await rest.signed_get("/api/v5/account/balance", ccy="BTC"))["data"][0]["details"]
    assert [d["ccy"] for d in only] == ["BTC"]
    lev = body_of(await rest.post("/api/v5/account/set-leverage", {"instId": SWAP, "lever": "5", "mgnMode": "cross"}))
    assert lev["code"] == "0" and lev["data"][0]["lever"] == "5"
    assert sim.venue.leverage("okx-sim-1", "BTCUSDT") == 5
    info = body_of(await rest.signed_get("/api/v5/account/leverage-info", instId=SWAP, mgnMode="cross"))["data"]
    assert info[0]["lever"] == "5"
    too_high = await rest.post("/api/v5/account/set-leverage", {"instId": SWAP, "lever": "101", "mgnMode": "cross"})
    assert body_of(too_high)["code"] == "51000"
    cfg = body_of(await rest.signed_get("/api/v5/account/config"))["data"][0]
    assert cfg["posMode"] == "net_mode" and cfg["acctLv"] == "2"
    hedge = await rest.post("/api/v5/account/set-position-mode", {"posMode": "long_short_mode"})
    assert body_of(hedge)["code"] == "51000"
