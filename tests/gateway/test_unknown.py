"""An order whose answer is lost: the command is ``unknown`` (never resent, never reported as a
rejection), then settled from the runner once the venue has said."""

from __future__ import annotations

import httpx

from gateway.models import Role
from gateway.store import GatewayStore
from tests.gateway.conftest import BTC, GatewayProc, gateway_env, resting_price, start_gateway
from tests.helpers import eventually_sync
from tests.integration.conftest import RunnerProc


def test_a_lost_answer_is_unknown_then_settled(runner: RunnerProc, gw: GatewayProc, curve: dict[str, str]) -> None:
    tmp = runner.log.parent
    store = GatewayStore.open(None, tmp / "data", "unk")
    key = store.create_key(Role.TRADE, "unknown-test")[1]
    store.close()
    g = start_gateway(
        runner.redis_url, tmp / "data", tmp / "gateway-unk.log", "--name", "unk", "--timeout", "0.5",
        env=gateway_env(curve),
    )  # fmt: skip
    g.keys = {"trade": key}
    faults = httpx.Client(base_url=f"http://127.0.0.1:{runner.sim_port_base}/_sim/", timeout=10)
    body = {"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": resting_price(gw)}
    try:
        g.wait_ready()
        assert faults.post("faults", json={"delay_ms": 1500, "host": "futures"}).status_code == 200
        # the user stream must not tell the runner first: killed as the order goes
        assert faults.post("ws/kill", json={"host": "futures", "target": "user"}).status_code == 200
        with g.client("trade") as c:
            cmd = c.post("/api/v1/orders", params={"wait": 10}, json=body).json()
            assert cmd["status"] == "unknown", (cmd["status"], cmd["result"], cmd["error"])
            assert cmd["error"]["code"] == "outcome_unknown" and cmd["error"]["retryable"] is False
            assert cmd["result"]["client_id"] == cmd["client_id"]
            faults.delete("faults")
            done = eventually_sync(
                lambda: (v := c.get(f"/api/v1/commands/{cmd['id']}").json())["status"] == "succeeded" and v,
                timeout=20,
                interval=0.2,
                what="the unknown command settled from the runner",
            )
            assert done["result"]["client_id"] == cmd["client_id"] and done["result"]["status"] == "new"
            assert done["attempts"] == 1  # looked up, never sent again
        with gw.client("read") as c:
            opened = [
                o for o in c.get("/api/v1/orders", params={"key": BTC}).json() if o["client_id"] == cmd["client_id"]
            ]
            assert len(opened) == 1
    finally:
        faults.delete("faults")
        faults.close()
        g.stop()
        with gw.client("trade") as c:
            c.post("/api/v1/orders/cancel-all", params={"wait": 10}, json={"key": BTC})
