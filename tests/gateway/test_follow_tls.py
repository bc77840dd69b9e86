"""The gateway over TLS (``--tls-cert/--tls-key``), and following runners as they come and go."""

from __future__ import annotations

import httpx

from exchanges.sim.tls import local_tls
from gateway.models import Role
from gateway.store import GatewayStore
from tests.gateway.conftest import gateway_env, start_gateway
from tests.helpers import eventually_sync
from tests.integration.conftest import RunnerProc, start_runner


def test_tls_and_a_runner_that_comes_and_goes(runner: RunnerProc, curve: dict[str, str]) -> None:
    tmp = runner.log.parent
    tls = local_tls(tmp / "tls")
    store = GatewayStore.open(None, tmp / "data", "tls")
    key = store.create_key(Role.READ, "tls")[1]
    store.close()
    g = start_gateway(
        runner.redis_url, tmp / "data", tmp / "gateway-tls.log", "--name", "tls",
        "--tls-cert", str(tls.cert), "--tls-key", str(tls.key), "--rate", "1000", "--burst", "1000",
        env={**gateway_env(curve), "TRADEBUS_ALLOW_PLAINTEXT": "1"},  # the CURVE runner and a plaintext one
    )  # fmt: skip
    url = g.url.replace("http://", "https://").replace("127.0.0.1", "localhost")
    okx: RunnerProc | None = None
    try:
        with httpx.Client(base_url=url, verify=tls.client_context(), headers={"X-API-Key": key}, timeout=15) as c:

            def up() -> bool:
                try:
                    return c.get("/api/v1/health").status_code == 200
                except httpx.TransportError:
                    return False

            eventually_sync(up, timeout=30, what="the TLS gateway")
            session = c.post("/api/v1/session", json={"api_key": key})
            assert "Secure" in session.headers["set-cookie"]

            def names() -> dict[str, str]:
                return {r["name"]: r["exchange"] for r in c.get("/api/v1/runners").json()}

            assert names() == {runner.name: "binance"}
            okx = start_runner(runner.redis_url, tmp, f"gw-okx-{runner.proc.pid}", exchange="okx")
            okx.record()
            eventually_sync(lambda: names().get(okx.name) == "okx", timeout=15, what="the new runner listed")
            insts = c.get("/api/v1/instruments", params={"exchange": "okx"}).json()
            assert insts and all(i["key"][0] == "okx" for i in insts)
            okx.stop()
            eventually_sync(lambda: okx.name not in names(), timeout=20, what="the stopped runner dropped")
            assert c.get("/api/v1/instruments", params={"exchange": "okx"}).json() == []
        # plain HTTP on the TLS port is refused
        try:
            r = httpx.get(g.url + "/api/v1/health", timeout=5)
            assert r.status_code >= 400
        except httpx.HTTPError:
            pass
    finally:
        if okx is not None:
            okx.stop()
        g.stop()
