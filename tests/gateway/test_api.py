"""The REST API over a real gateway process, a real runner on the offline Binance venue and real
journals: every endpoint, auth failures, problem documents, the command flow, idempotency."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import httpx

from gateway.api import ROUTES
from tests.gateway.conftest import BTC, GatewayProc, resting_price
from tests.helpers import eventually_sync

PROBLEM = "application/problem+json"


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    doc = r.json()
    assert doc["status"] == status and doc["code"] == code, doc
    assert doc["type"].endswith("/" + code) and doc["title"] and "detail" in doc and isinstance(doc["retryable"], bool)
    return doc


def order(gw: GatewayProc, c: httpx.Client, *, qty: str = "0.01", **extra: object) -> dict[str, Any]:
    body = {"key": BTC, "side": "buy", "type": "limit", "qty": qty, "price": resting_price(gw), **extra}
    r = c.post("/api/v1/orders", params={"wait": 10}, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_reads(gw: GatewayProc) -> None:
    assert httpx.get(gw.url + "/api/v1/health").json()["status"] == "ok"  # no key needed
    with gw.client("read") as c:
        runners = c.get("/api/v1/runners").json()
        assert [r["exchange"] for r in runners] == ["binance"] and runners[0]["status"] == "ready"
        one = c.get(f"/api/v1/runners/{runners[0]['name']}").json()
        assert one["ready"] is True and "queues" in one
        insts = c.get("/api/v1/instruments", params={"kind": "perp"}).json()
        assert {tuple(i["key"]) for i in insts} >= {("binance", "BTCUSDT", "perp")}
        assert all(i["key"][2] == "perp" for i in insts)
        assert c.get(f"/api/v1/instruments/{BTC}").json()["tick_size"] == "0.1"  # decimals as strings
        book = c.get(f"/api/v1/books/{BTC}", params={"depth": 2}).json()
        assert len(book["book"]["bids"]) == 2 and book["seq"] >= 1 and isinstance(book["book"]["bids"][0][0], str)
        price = c.get(f"/api/v1/prices/{BTC}", params={"source": "bid"}).json()
        assert price["source"] == "bid" and Decimal(price["price"]) > 0
        rates = c.get("/api/v1/funding", params={"exchange": "binance"}).json()
        assert BTC.split(":")[2] in {r["key"][1] for r in rates}
        assert c.get(f"/api/v1/funding/{BTC}").json()["key"] == ["binance", "BTCUSDT", "perp"]
        bal = c.get("/api/v1/balances").json()
        assert bal[0]["runner"] == runners[0]["name"] and bal[0]["account"]["balances"]
        assert isinstance(c.get("/api/v1/positions").json(), list)
        assert isinstance(c.get("/api/v1/orders", params={"key": BTC}).json(), list)
        risk = c.get("/api/v1/risk").json()
        assert risk[0]["state"] == "active"
        assert c.get("/api/v1/trading-state").json()[0]["state"] == "active"
        assert isinstance(c.get("/api/v1/commands", params={"limit": 5}).json(), list)
        for what in ("orders", "fills", "funding"):
            assert isinstance(c.get(f"/api/v1/history/{what}", params={"since": "2020-01-01"}).json(), list)


def test_auth_failures_are_401_and_403(gw: GatewayProc) -> None:
    with gw.client(None) as c:
        problem(c.get("/api/v1/runners"), 401, "unauthorized")
        problem(c.get("/api/v1/runners", headers={"X-API-Key": "tbk_00000000_nope"}), 401, "unauthorized")
        problem(c.get("/api/v1/runners", headers={"X-API-Key": "garbage"}), 401, "unauthorized")
        wrong = gw.keys["read"][:-2] + ("AA" if not gw.keys["read"].endswith("AA") else "BB")
        problem(c.get("/api/v1/runners", headers={"X-API-Key": wrong}), 401, "unauthorized")
    body = {"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": "1000"}
    with gw.client("read") as c:
        problem(c.post("/api/v1/orders", json=body), 403, "forbidden")
        problem(c.get("/api/v1/audit"), 403, "forbidden")
    with gw.client("trade") as c:
        problem(c.post("/api/v1/leverage", json={"key": BTC, "leverage": 3}), 403, "forbidden")
        problem(c.post("/api/v1/kill-switch", json={}), 403, "forbidden")
    with gw.client("admin") as c:
        audit = c.get("/api/v1/audit", params={"limit": 50}).json()
    refused = [a for a in audit if a["status"] == 403]
    assert {a["path"] for a in refused} >= {"/api/v1/orders", "/api/v1/leverage", "/api/v1/kill-switch"}
    assert all(a["key_id"] and a["outcome"].startswith("forbidden") for a in refused)


def test_bad_json_and_params_are_problem_documents(gw: GatewayProc) -> None:
    with gw.client("trade") as c:
        before = c.get("/metrics").text
        problem(c.post("/api/v1/orders", content=b"{not json"), 400, "bad_json")
        doc = problem(
            c.post("/api/v1/orders", json={"key": BTC, "side": "buy", "type": "limit", "qty": 0.1}), 400, "bad_params"
        )
        assert "qty" in doc["detail"]
        problem(
            c.post("/api/v1/orders", json={"key": BTC, "side": "up", "type": "limit", "qty": "1"}), 400, "bad_params"
        )
        problem(
            c.post("/api/v1/orders", json={"key": BTC, "side": "buy", "type": "market", "qty": "1", "x": 1}),
            400,
            "bad_params",
        )
        problem(
            c.post(
                "/api/v1/orders", json={"key": "binance:perp:BTCUSDT", "side": "buy", "type": "market", "qty": "NaN"}
            ),
            400,
            "bad_params",
        )
        problem(
            c.post("/api/v1/orders", json={"key": "nowhere:perp:BTCUSDT", "side": "buy", "type": "market", "qty": "1"}),
            400,
            "bad_params",
        )
        problem(c.get(f"/api/v1/books/{BTC}", params={"depth": "lots"}), 400, "bad_params")
        problem(c.get("/api/v1/books/BTCUSDT"), 400, "bad_params")
        problem(c.get("/api/v1/prices/binance:perp:NOSUCH"), 400, "unknown_instrument")
        problem(c.get("/api/v1/commands/nope"), 404, "not_found")
        problem(c.get("/api/v1/nothing-here"), 404, "not_found")
        problem(c.post("/api/v1/orders/cancel", json={"key": BTC}), 400, "bad_params")  # no id
        problem(
            c.post("/api/v1/orders", json={"key": BTC, "side": "buy", "type": "market", "qty": "1", "runner": "ghost"}),
            404,
            "not_found",
        )
        after = c.get("/metrics").text

    def count(text: str, kind: str) -> int:
        line = next(
            (x for x in text.splitlines() if x.startswith(f'tradebus_gateway_bad_requests_total{{kind="{kind}"}}')), ""
        )
        return int(line.split()[-1]) if line else 0

    assert count(after, "bad_json") - count(before, "bad_json") == 1
    assert count(after, "bad_params") - count(before, "bad_params") >= 7
    assert httpx.get(gw.url + "/api/v1/health").status_code == 200  # still serving


def test_the_ui_is_served_and_revalidated(gw: GatewayProc) -> None:
    page = httpx.get(gw.url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["cache-control"] == "no-cache"  # a new release's files are fetched, not a stale copy
    script = next(part.split('"')[0] for part in page.text.split('src="')[1:] if part.startswith("/static/"))
    js = httpx.get(gw.url + script)
    assert js.status_code == 200 and js.headers["cache-control"] == "no-cache"
    assert "cache-control" not in httpx.get(gw.url + "/api/v1/openapi.json").headers


def test_openapi_is_generated_from_the_models(gw: GatewayProc) -> None:
    doc = httpx.get(gw.url + "/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    for r in ROUTES:
        assert r.method.lower() in doc["paths"]["/api/v1" + r.path], r.path
    schemas = doc["components"]["schemas"]
    for name in ("OrderTicket", "Order", "CommandView", "Problem", "Instrument", "RiskStatus", "StreamEvent"):
        assert name in schemas
    assert schemas["Order"]["properties"]["qty"]["type"] == "string"  # decimals as strings, from msgspec

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [x for v in node.values() for x in refs(v)]
        if isinstance(node, list):
            return [x for v in node for x in refs(v)]
        return []

    for ref in refs(doc):
        assert ref.split("/")[-1] in schemas, ref
    post = doc["paths"]["/api/v1/orders"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/OrderTicket")
    assert post["x-role"] == "trade"


def test_submit_cancel_and_history(gw: GatewayProc) -> None:
    with gw.client("trade") as c:
        cmd = order(gw, c)
        assert cmd["status"] == "succeeded" and cmd["kind"] == "submit_order" and cmd["attempts"] == 1
        cid = cmd["client_id"]
        assert cmd["result"]["client_id"] == cid and cmd["result"]["status"] == "new"
        assert c.get(f"/api/v1/commands/{cmd['id']}").json()["status"] == "succeeded"
        assert cid in {o["client_id"] for o in c.get("/api/v1/orders").json()}
        assert c.get(f"/api/v1/orders/{BTC}/{cid}").json()["status"] == "new"
        r = c.post("/api/v1/orders/cancel", params={"wait": 10}, json={"key": BTC, "client_id": cid})
        assert r.status_code == 200 and r.json()["result"]["status"] == "canceled", r.text
        assert cid not in {o["client_id"] for o in c.get("/api/v1/orders").json()}
        # the runner's journal, read by the gateway
        rows = eventually_sync(
            lambda: [o for o in c.get("/api/v1/history/orders", params={"key": BTC}).json() if o["client_id"] == cid],
            what="the order in the runner's journal",
        )
        assert rows[-1]["status"] in ("canceled", "new")
        # 202 without ?wait, then its fate
        price = resting_price(gw)
        r = c.post("/api/v1/orders", json={"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": price})
        assert r.status_code in (200, 202) and r.headers["Location"].endswith(r.json()["id"])
        done = eventually_sync(
            lambda: (v := c.get(r.headers["Location"]).json())["status"] == "succeeded" and v, what="command done"
        )
        r = c.post("/api/v1/orders/cancel-all", params={"wait": 10}, json={"key": BTC})
        assert r.json()["status"] == "succeeded", r.text
        assert done["client_id"] in {o["client_id"] for o in r.json()["result"]["canceled"]}
        assert c.get("/api/v1/orders", params={"key": BTC}).json() == []
    with gw.client("admin") as c:
        audit = c.get("/api/v1/audit").json()
        mine = [a for a in audit if a["command_id"] == cmd["id"]]
        assert mine and mine[0]["path"].startswith("/api/v1/orders") and '"qty"' in mine[0]["body"]


def test_idempotency_key_never_places_two_orders(gw: GatewayProc) -> None:
    key = f"idem-{uuid.uuid4().hex[:12]}"
    body = {"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": resting_price(gw)}
    with gw.client("trade") as c:
        first = c.post("/api/v1/orders", params={"wait": 10}, json=body, headers={"Idempotency-Key": key}).json()
        again = c.post("/api/v1/orders", params={"wait": 10}, json=body, headers={"Idempotency-Key": key}).json()
        assert first["id"] == again["id"] and again["status"] == "succeeded" and again["idempotency_key"] == key
        other = {**body, "qty": "0.02"}
        problem(c.post("/api/v1/orders", json=other, headers={"Idempotency-Key": key}), 409, "idempotency_conflict")
        opened = [
            o for o in c.get("/api/v1/orders", params={"key": BTC}).json() if o["client_id"] == first["client_id"]
        ]
        assert len(opened) == 1
        assert len([v for v in c.get("/api/v1/commands").json() if v["idempotency_key"] == key]) == 1
        c.post("/api/v1/orders/cancel-all", params={"wait": 10}, json={"key": BTC})
    with gw.client("admin") as admin:  # the key is per API key: another key may use the same text
        r = admin.post(
            "/api/v1/orders/cancel-all", params={"wait": 10}, json={"key": BTC}, headers={"Idempotency-Key": key}
        )
        assert r.status_code == 200 and r.json()["kind"] == "cancel_all"


def test_preview_rounds_and_asks_the_gate(gw: GatewayProc) -> None:
    price = Decimal(resting_price(gw))
    with gw.client("read") as c:
        r = c.post(
            "/api/v1/orders/preview",
            json={"key": BTC, "side": "buy", "type": "limit", "qty": "0.01234", "price": str(price + Decimal("0.07"))},
        )
        p = r.json()
        assert r.status_code == 200, r.text
        assert p["order"]["qty"] == "0.012" and Decimal(p["order"]["price"]) == price  # step 0.001, buy rounds down
        assert {ch["field"] for ch in p["changes"]} == {"qty", "price"}
        assert p["valid"] is True and p["risk"] == {**p["risk"], "ok": True, "state": "active"}
        assert Decimal(p["notional"]) == Decimal("0.012") * price
        small = c.post(
            "/api/v1/orders/preview",
            json={"key": BTC, "side": "buy", "type": "limit", "qty": "0.0001", "price": str(price)},
        ).json()
        assert small["valid"] is False and small["problem"]
        assert c.get("/api/v1/orders").json() == []  # nothing was sent


def test_leverage_trading_state_kill_switch_and_sync(gw: GatewayProc) -> None:
    with gw.client("admin") as c:
        r = c.post("/api/v1/leverage", params={"wait": 10}, json={"key": BTC, "leverage": 7})
        assert r.json()["status"] == "succeeded" and r.json()["result"]["leverage"] == 7, r.text
        resting = order(gw, c)
        assert resting["status"] == "succeeded"
        try:
            r = c.post("/api/v1/kill-switch", params={"wait": 10}, json={"reason": "test desk stop"})
            res = r.json()
            assert res["status"] == "succeeded", r.text
            (reply,) = res["result"].values()
            assert reply["state"] == "halted" and reply["canceled"] >= 1
            assert c.get("/api/v1/trading-state").json()[0]["state"] == "halted"
            assert c.get("/api/v1/orders").json() == []
            body = {"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": resting_price(gw)}
            pv = c.post("/api/v1/orders/preview", json=body).json()
            assert (
                pv["risk"]["ok"] is False and pv["risk"]["state"] == "halted" and pv["risk"]["limit"] == "trading_state"
            )
            refused = c.post("/api/v1/orders", params={"wait": 10}, json=body).json()
            assert refused["status"] == "failed" and refused["error"]["code"] == "risk_rejected"
            assert refused["error"]["status"] == 422 and refused["error"]["reject_code"] == "not_sent"
        finally:
            r = c.post("/api/v1/trading-state", params={"wait": 10}, json={"state": "active", "reason": "test over"})
            assert r.json()["status"] == "succeeded", r.text
        assert c.get("/api/v1/trading-state").json()[0]["state"] == "active"
        name = c.get("/api/v1/runners").json()[0]["name"]
        r = c.post(f"/api/v1/runners/{name}/sync", params={"wait": 10}, json={})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        result = r.json()["result"]
        assert result["type"] == "reconciled" and result["open_orders"] == 0 and result["positions"] >= 0
        problem(c.post("/api/v1/runners/ghost/sync", json={}), 404, "not_found")


def test_strategies_from_their_journals(gw: GatewayProc) -> None:
    import asyncio

    from strategy_client.journal import Decision, Journal, PairState, PnlComponents, ProcessInfo
    from strategy_client.journal.lifecycle import LifecycleStore
    from strategy_client.model.lifecycle import LifecycleState

    async def write() -> None:
        j = Journal.open(None, process=ProcessInfo(role="strategy", name="gwtest"), data_dir=gw.data_dir)
        try:
            async with j.running():
                now = int(time.time() * 1000)
                for v, (phase, total) in enumerate([("entering", "0"), ("hedged", "1.5")], start=1):
                    await j.append(
                        PairState(
                            strategy="spotperp", pair_id="p1", version=v, ts_ms=now + v, phase=phase,
                            leg_a="binance:spot:BTCUSDT", leg_b=BTC, base_a=Decimal("0.01"), base_b=Decimal("-0.01"),
                            realized=PnlComponents(
                                basis=Decimal(total), funding=Decimal("0.2"), fees=Decimal("0.1"), total=Decimal(total)
                            ),
                        )
                    )  # fmt: skip
                await j.append(
                    Decision(
                        strategy="spotperp", ts_ms=now, action="enter", reason="edge", pair_id="p1",
                        keys=f"binance:spot:BTCUSDT,{BTC}",
                        terms={"edge_bps": Decimal("12.5"), "fees_bps": Decimal("-4")},
                    )
                )  # fmt: skip
            store = LifecycleStore(j)  # the strategy lifecycle (strategy ls/pause/resume/stop)
            row = store.register(stream="strategy:gwtest", name="gwtest", strategy="spotperp", mode="paper")
            row = (
                store.get(row.stream)
                if store.transition(row, LifecycleState.VALIDATING, reason="t", actor="t")
                else row
            )
            assert row is not None
            store.transition(row, LifecycleState.PAPER_TRADING, reason="test run", actor="test", take_over=True)
        finally:
            j.close()

    asyncio.run(write())
    with gw.client("read") as c:
        views = {v["name"]: v for v in c.get("/api/v1/strategies").json()}
        v = views["gwtest"]
        assert v["open_pairs"] == 1 and v["realized"]["basis"] == "1.5" and v["realized"]["fees"] == "0.1"
        assert v["strategies"] == ["spotperp"]
        assert v["lifecycle"] == "paper_trading" and v["mode"] == "paper" and v["lifecycle_reason"] == "test run"
        pairs = c.get("/api/v1/strategies/gwtest/pairs").json()
        assert [(p["pair_id"], p["phase"]) for p in pairs] == [("p1", "hedged")]
        assert isinstance(c.get("/api/v1/strategies/gwtest/pnl").json(), list)
        (d,) = c.get("/api/v1/strategies/gwtest/decisions").json()
        assert d["action"] == "enter" and d["terms"] == {"edge_bps": "12.5", "fees_bps": "-4"}
        problem(c.get("/api/v1/strategies/nobody/pairs"), 404, "not_found")


def test_session_cookie(gw: GatewayProc) -> None:
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        problem(c.post("/api/v1/session", json={"api_key": "tbk_x_y"}), 401, "unauthorized")
        r = c.post("/api/v1/session", json={"api_key": gw.keys["trade"]})
        assert r.status_code == 200 and r.json()["role"] == "trade"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert c.get("/api/v1/runners").status_code == 200  # the cookie authenticates
        who = c.get("/api/v1/session").json()
        assert who["role"] == "trade" and who["expires_ms"] > time.time() * 1000
        problem(c.post("/api/v1/leverage", json={"key": BTC, "leverage": 2}), 403, "forbidden")  # its role
        body = {"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": "1000"}
        problem(c.post("/api/v1/orders", json=body, headers={"Origin": "http://evil.example"}), 403, "forbidden")
        assert c.delete("/api/v1/session").status_code == 204
        c.cookies.clear()
        problem(c.get("/api/v1/runners"), 401, "unauthorized")
    with gw.client("admin") as c:
        logins = [a for a in c.get("/api/v1/audit", params={"limit": 30}).json() if a["path"] == "/api/v1/session"]
        assert {(a["method"], a["status"]) for a in logins} >= {("POST", 401), ("POST", 200), ("DELETE", 204)}
        assert all(gw.keys["trade"] not in a["body"] and "tbk_x_y" not in a["body"] for a in logins)
        trade_id = gw.keys["trade"].split("_")[1]
        assert trade_id in {a["key_id"] for a in logins if a["status"] in (200, 204)}


def test_keys_cli_create_list_revoke(gw: GatewayProc) -> None:
    """``tradebus gateway keys …`` in process (typer's runner: the same commands, no interpreter
    start per call) on the running gateway's database."""
    from typer.testing import CliRunner

    from gateway.cli import app

    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(app, ["keys", *args, "--data-dir", str(gw.data_dir)])

    made = cli("create", "--role", "read", "--label", "cli-test")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[0]
    key_id = key.split("_")[1]
    listed = cli("list")
    assert f"{key_id}\tread" in listed.stdout and "cli-test" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout  # never the secret
    assert cli("create", "--role", "boss").exit_code == 2
    revoked = cli("revoke", key_id)
    assert revoked.exit_code == 0 and revoked.stdout.strip() == f"revoked {key_id}"
    problem(httpx.get(gw.url + "/api/v1/runners", headers={"X-API-Key": key}), 401, "unauthorized")
    with gw.client("admin") as c:
        (row,) = [k for k in c.get("/api/v1/keys").json() if k["key_id"] == key_id]
        assert row["revoked_ms"] and row["role"] == "read"
    assert cli("revoke", key_id).exit_code == 2
    nowhere = runner.invoke(app, ["keys", "list", "--data-dir", str(gw.data_dir / "nowhere")])
    assert nowhere.exit_code == 2 and not (gw.data_dir / "nowhere").exists()  # a read never creates one
