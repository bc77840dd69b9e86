"""Order entry, queries, positions, wallet, limits and faults of the offline Bybit venue."""

from __future__ import annotations

from decimal import Decimal

import httpx

from exchanges.bybit.sim import BybitSim
from strategy_client.model import MarketKind

from .helpers import Rest, body, ok


async def _realtime(rest: Rest, **params: object) -> list[dict[str, object]]:
    return ok(await rest.get("/v5/order/realtime", **params))["list"]  # type: ignore[no-any-return]


async def test_linear_limit_lifecycle(sim: BybitSim, rest: Rest) -> None:
    ack = ok(
        await rest.order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.010",
            price="55000",
            timeInForce="GTC",
            orderLinkId="lim-1",
            positionIdx=0,
        )
    )
    assert set(ack) == {"orderId", "orderLinkId"} and ack["orderLinkId"] == "lim-1"
    assert len(ack["orderId"]) == 36 and ack["orderId"].count("-") == 4  # a UUID on linear
    [o] = await _realtime(rest, category="linear", orderLinkId="lim-1")
    assert o["orderStatus"] == "New" and o["price"] == "55000.00" and o["qty"] == "0.010"
    assert o["leavesQty"] == "0.010" and o["timeInForce"] == "GTC" and o["orderType"] == "Limit"
    listed = await _realtime(rest, category="linear", settleCoin="USDT")
    assert [x["orderId"] for x in listed] == [ack["orderId"]]
    need_filter = body(await rest.get("/v5/order/realtime", category="linear"))
    assert need_filter["retCode"] == 10001
    assert ok(await rest.post("/v5/order/cancel", category="linear", symbol="BTCUSDT", orderLinkId="lim-1"))
    [o] = await _realtime(rest, category="linear", orderId=ack["orderId"])
    assert o["orderStatus"] == "Cancelled" and o["cancelType"] == "CancelByUser"
    again = body(await rest.post("/v5/order/cancel", category="linear", symbol="BTCUSDT", orderLinkId="lim-1"))
    assert again["retCode"] == 110001
    hist = ok(await rest.get("/v5/order/history", category="linear", symbol="BTCUSDT"))["list"]
    assert hist[0]["orderId"] == ack["orderId"]
    dup = body(
        await rest.order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.01",
            price="55000",
            orderLinkId="lim-1",
        )
    )
    assert dup["retCode"] == 110072  # orderLinkId is unique, even after the order ended


async def test_market_fill_position_and_executions(sim: BybitSim, rest: Rest) -> None:
    ok(
        await rest.order(
            category="linear", symbol="ETHUSDT", side="Sell", orderType="Market", qty="0.5", orderLinkId="m-1"
        )
    )
    [o] = await _realtime(rest, category="linear", orderLinkId="m-1")
    assert o["orderStatus"] == "Filled" and o["cumExecQty"] == "0.50" and Decimal(o["avgPrice"]) > 0
    assert o["timeInForce"] == "IOC" and Decimal(o["cumExecFee"]) > 0 and "USDT" in o["cumFeeDetail"]
    [p] = ok(await rest.get("/v5/position/list", category="linear", symbol="ETHUSDT"))["list"]
    assert p["side"] == "Sell" and p["size"] == "0.50" and p["avgPrice"] == o["avgPrice"]
    flat = ok(await rest.get("/v5/position/list", category="linear", symbol="BTCUSDT"))["list"][0]
    assert flat["side"] == "" and flat["size"] == "0.000"
    open_ones = ok(await rest.get("/v5/position/list", category="linear", settleCoin="USDT"))["list"]
    assert [x["symbol"] for x in open_ones] == ["ETHUSDT"]
    execs = ok(await rest.get("/v5/execution/list", category="linear", symbol="ETHUSDT"))["list"]
    assert execs and all(e["orderLinkId"] == "m-1" and e["execType"] == "Trade" for e in execs)
    assert sum(Decimal(e["execQty"]) for e in execs) == Decimal("0.5") and execs[-1]["isMaker"] is False
    reduce_wrong_side = body(
        await rest.order(
            category="linear", symbol="ETHUSDT", side="Sell", orderType="Market", qty="0.1", reduceOnly=True
        )
    )
    assert reduce_wrong_side["retCode"] == 110017
    ok(
        await rest.order(
            category="linear", symbol="ETHUSDT", side="Buy", orderType="Market", qty="0.5", reduceOnly=True
        )
    )
    assert ok(await rest.get("/v5/position/list", category="linear", settleCoin="USDT"))["list"] == []


async def test_post_only_and_fok_are_accepted_then_cancelled(sim: BybitSim, rest: Rest) -> None:
    ask = Decimal(ok(await rest.public("/v5/market/orderbook", category="linear", symbol="BTCUSDT"))["a"][0][0])
    ack = ok(
        await rest.order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.01",
            price=str(ask),
            timeInForce="PostOnly",
            orderLinkId="po-1",
        )
    )
    [o] = await _realtime(rest, category="linear", orderId=ack["orderId"])
    assert o["orderStatus"] == "Cancelled" and o["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
    assert o["cumExecQty"] == "0.000"
    sim.venue.set_liquidity(MarketKind.PERP, "BTCUSDT", Decimal("0.001"))
    ok(
        await rest.order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="1",
            price=str(ask),
            timeInForce="FOK",
            orderLinkId="fok-1",
        )
    )
    [f] = await _realtime(rest, category="linear", orderLinkId="fok-1")
    assert f["orderStatus"] == "Cancelled" and f["rejectReason"] == "EC_NoEnoughQtyToFill"


async def test_linear_quantity_truncates_to_the_step(rest: Rest) -> None:
    ok(
        await rest.order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.0109",
            price="50000",
            orderLinkId="tr-1",
        )
    )
    [o] = await _realtime(rest, category="linear", orderLinkId="tr-1")
    assert o["qty"] == "0.010"
    zero = body(
        await rest.order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.0004", price="50000"
        )
    )
    assert zero["retCode"] == 110017
    tick = body(
        await rest.order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01", price="50000.05"
        )
    )
    assert tick["retCode"] == 10001
    notional = body(
        await rest.order(category="linear", symbol="ETHUSDT", side="Buy", orderType="Limit", qty="0.01", price="100")
    )
    assert notional["retCode"] == 110094


async def test_spot_orders_and_wallet(sim: BybitSim, rest: Rest) -> None:
    ack = ok(
        await rest.order(
            category="spot",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.01",
            price="50000",
            orderLinkId="s-1",
        )
    )
    assert ack["orderId"].isdigit() and len(ack["orderId"]) == 19  # numeric ids on spot
    usdt = next(
        c
        for c in ok(await rest.get("/v5/account/wallet-balance", accountType="UNIFIED"))["list"][0]["coin"]
        if c["coin"] == "USDT"
    )
    assert usdt["locked"] == "500"
    decimals = body(
        await rest.order(
            category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.0000001", price="50000"
        )
    )
    assert decimals["retCode"] == 170137
    tick = body(
        await rest.order(
            category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01", price="50000.001"
        )
    )
    assert tick["retCode"] == 170134
    # a market Buy spends quote coin by default (marketUnit quoteCoin)
    ok(
        await rest.order(
            category="spot", symbol="BTCUSDT", side="Buy", orderType="Market", qty="600", orderLinkId="s-q"
        )
    )
    [q] = await _realtime(rest, category="spot", orderLinkId="s-q")
    assert q["orderStatus"] in ("Filled", "PartiallyFilledCanceled") and Decimal(q["cumExecValue"]) <= 600
    assert Decimal(q["cumExecQty"]) > Decimal("0.009") and q["feeCurrency"] == "BTC"
    ok(
        await rest.order(
            category="spot",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Market",
            qty="0.002",
            marketUnit="baseCoin",
            orderLinkId="s-b",
        )
    )
    [b] = await _realtime(rest, category="spot", orderLinkId="s-b")
    assert b["cumExecQty"] == "0.002000" and b["marketUnit"] == "baseCoin"
    wallet = ok(await rest.get("/v5/account/wallet-balance", accountType="UNIFIED", coin="BTC"))["list"][0]
    assert [c["coin"] for c in wallet["coin"]] == ["BTC"] and Decimal(wallet["coin"][0]["walletBalance"]) > 1
    wrong = body(await rest.get("/v5/account/wallet-balance", accountType="SPOT"))
    assert wrong["retCode"] == 10001


async def test_unified_wallet_pools_the_settle_coin(sim: BybitSim, rest: Rest) -> None:
    # The engine keeps 100k USDT on each side; a spot buy of 150k needs both: the UTA pools them.
    spot_before, _ = sim.venue.spot_balances(sim.dialect.account)["USDT"]
    ok(
        await rest.order(
            category="spot", symbol="ETHUSDT", side="Buy", orderType="Limit", qty="50", price="2990", orderLinkId="big"
        )
    )
    [o] = await _realtime(rest, category="spot", orderLinkId="big")
    assert o["orderStatus"] in ("New", "PartiallyFilled", "Filled") and spot_before == Decimal(100000)
    too_much = body(
        await rest.order(category="spot", symbol="ETHUSDT", side="Buy", orderType="Limit", qty="30", price="2990")
    )
    assert too_much["retCode"] == 170131


async def test_leverage_and_switch_mode(sim: BybitSim, rest: Rest) -> None:
    ok(
        await rest.post(
            "/v5/position/set-leverage", category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="5"
        )
    )
    assert sim.venue.leverage(sim.dialect.account, "BTCUSDT") == 5
    same = body(
        await rest.post(
            "/v5/position/set-leverage", category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="5"
        )
    )
    assert same["retCode"] == 110043
    unequal = body(
        await rest.post(
            "/v5/position/set-leverage", category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="6"
        )
    )
    assert unequal["retCode"] == 10001
    hedge = body(await rest.post("/v5/position/switch-mode", category="linear", symbol="BTCUSDT", mode=3))
    assert hedge["retCode"] == 10001


async def test_uid_rate_limit_headers_and_10006(sim: BybitSim) -> None:
    from exchanges.bybit.sim import BybitSimOptions

    options = BybitSimOptions(uid_limits={"/v5/position/list": 2})
    from tests.helpers import free_port

    async with BybitSim(port=free_port(), seed=1, options=options) as limited:
        rest = Rest(limited)
        try:
            first = await rest.get("/v5/position/list", category="linear", symbol="BTCUSDT")
            assert first.headers["X-Bapi-Limit"] == "2" and first.headers["X-Bapi-Limit-Status"] == "1"
            await rest.get("/v5/position/list", category="linear", symbol="BTCUSDT")
            third = await rest.get("/v5/position/list", category="linear", symbol="BTCUSDT")
            data = body(third)
            assert data["retCode"] == 10006 and data["retMsg"] == "Too many visits!"
            assert int(third.headers["X-Bapi-Limit-Reset-Timestamp"]) > data["time"] - 1000
        finally:
            await rest.close()


async def test_faults(sim: BybitSim, rest: Rest) -> None:
    admin = httpx.AsyncClient(base_url=sim.urls.rest)
    try:
        r = await admin.post("/_sim/faults", json={"fail_next": 1, "fail_status": 503})
        assert r.status_code == 200
        fail = await rest.order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.01", orderLinkId="f-1"
        )
        assert fail.status_code == 503 and body(fail)["retCode"] == 10016
        assert body(await rest.get("/v5/order/realtime", category="linear", orderLinkId="f-1"))["result"]["list"] == []
        await admin.post("/_sim/faults", json={"unknown_next": 1, "unknown_mode": "error"})
        lost = await rest.order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.01", orderLinkId="u-1"
        )
        assert body(lost)["retCode"] == 10016
        [o] = await _realtime(rest, category="linear", orderLinkId="u-1")
        assert o["orderStatus"] == "Filled"  # the order was placed: only the reply was lost
        await admin.post("/_sim/faults", json={"throttle_next": 1, "throttle_status": 429, "retry_after_s": 2})
        limited = await rest.get("/v5/position/list", category="linear", symbol="BTCUSDT")
        assert body(limited)["retCode"] == 10006
        await admin.post("/_sim/faults", json={"fail_next": 1, "host": "spot"})
        linear_ok = await rest.public("/v5/market/tickers", category="linear")
        spot_fail = await rest.public("/v5/market/tickers", category="spot")
        assert linear_ok.status_code == 200 and spot_fail.status_code == 503
        await admin.post("/_sim/faults", json={"fail_next": 1, "fail_status": 502})
        gateway = await rest.public("/v5/market/time")
        assert gateway.status_code == 502 and "Bad Gateway" in gateway.text
        await admin.post("/_sim/faults", json={"throttle_next": 1, "throttle_status": 418, "retry_after_s": 60})
        banned = await rest.get("/v5/position/list", category="linear", symbol="BTCUSDT")
        assert banned.status_code == 403
        still = await rest.public("/v5/market/time")
        assert still.status_code == 403  # the IP stays banned for the ban's duration
        state = (await admin.get("/_sim/state")).json()
        assert state["venue"] == "bybit" and state["faults"]["fired"] == {
            "fail": 3,
            "unknown_outcome": 1,
            "throttle": 2,
        }
        assert state["rate_limit_refusals"]["ip"] >= 1
    finally:
        await admin.aclose()
