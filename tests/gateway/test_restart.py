"""A gateway killed (SIGKILL) between accepting a command and finishing it: after a restart the
command runs exactly once — never lost, never a second order. Also the per-key rate limit."""

from __future__ import annotations

import signal
from typing import Any

import httpx
import pytest

from gateway.models import Role
from gateway.processor import HOLD_ENV
from gateway.store import GatewayStore
from tests.gateway.conftest import BTC, GatewayProc, gateway_env, resting_price, start_gateway
from tests.helpers import eventually_sync
from tests.integration.conftest import RunnerProc


def _gateway(runner: RunnerProc, env: dict[str, str], name: str, *extra: str, hold: str = "") -> GatewayProc:
    data_dir = runner.log.parent / "data"
    g = start_gateway(
        runner.redis_url, data_dir, runner.log.parent / f"gateway-{name}.log", "--name", name, *extra,
        env={**env, HOLD_ENV: hold},
    )  # fmt: skip
    g.wait_ready()
    return g


def _admin_key(runner: RunnerProc, name: str) -> str:
    store = GatewayStore.open(None, runner.log.parent / "data", name)
    try:
        return store.create_key(Role.ADMIN, "restart-test")[1]
    finally:
        store.close()


def _orders_with(gw: GatewayProc, client_id: str) -> list[dict[str, Any]]:
    with gw.client("read") as c:
        return [o for o in c.get("/api/v1/orders", params={"key": BTC}).json() if o["client_id"] == client_id]


@pytest.mark.parametrize("hold", ["accepted", "sent"])
def test_kill_9_between_accept_and_finish_runs_the_command_once(
    runner: RunnerProc, gw: GatewayProc, curve: dict[str, str], hold: str
) -> None:
    env = gateway_env(curve)
    name = f"kill-{hold}"
    key = _admin_key(runner, name)
    first = _gateway(runner, env, name, hold=hold)
    first.keys = {"admin": key}
    body = {"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": resting_price(gw)}
    try:
        with first.client("admin") as c:
            r = c.post("/api/v1/orders", json=body, headers={"Idempotency-Key": f"kill-{hold}"})
            assert r.status_code == 202, r.text
            cmd = r.json()
            cid = cmd["client_id"]
            if hold == "accepted":
                assert c.get(f"/api/v1/commands/{cmd['id']}").json()["status"] == "accepted"
                assert _orders_with(gw, cid) == []  # nothing sent yet
            else:  # the runner has the order; the outbox still says running
                eventually_sync(lambda: _orders_with(gw, cid), timeout=15, what="the order at the runner")
                assert c.get(f"/api/v1/commands/{cmd['id']}").json()["status"] == "running"
    finally:
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    second = _gateway(runner, env, name, "--rate", "2", "--burst", "6")
    second.keys = {"admin": key}
    try:
        with second.client("admin") as c:
            done = eventually_sync(
                lambda: (v := c.get(f"/api/v1/commands/{cmd['id']}").json())["status"] == "succeeded" and v,
                timeout=15,
                what="the command run after the restart",
            )
            assert done["result"]["client_id"] == cid
            assert done["attempts"] == (1 if hold == "accepted" else 2)
            # the same idempotency key after the restart: the same command, no second order
            again = c.post("/api/v1/orders", json=body, headers={"Idempotency-Key": f"kill-{hold}"}).json()
            assert again["id"] == cmd["id"]
            # the per-key token bucket: a burst past it is refused with Retry-After
            codes = [c.get("/api/v1/commands", params={"limit": 1}) for _ in range(8)]
            limited = [r for r in codes if r.status_code == 429]
            assert limited, [r.status_code for r in codes]
            assert limited[0].json()["code"] == "rate_limited" and int(limited[0].headers["Retry-After"]) >= 1
        assert len(_orders_with(gw, cid)) == 1  # exactly one order
        with gw.client("read") as c:
            rows = eventually_sync(
                lambda: [
                    o for o in c.get("/api/v1/history/orders", params={"key": BTC}).json() if o["client_id"] == cid
                ],
                what="the order in the runner's journal",
            )
            assert len(rows) == 1
    finally:
        second.stop()
        with gw.client("admin") as c:
            c.post("/api/v1/orders/cancel-all", params={"wait": 10}, json={"key": BTC})
    assert httpx.get(gw.url + "/api/v1/health").status_code == 200
