"""A real gateway process (``tradebus gateway run``) next to a real runner on the offline Binance
venue, sharing the suite's Redis and one data directory (the runner's journal, the gateway's
database); one of each per test session (worker), shared by the modules here — a test that
changes the runner's state (a halt) puts it back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.models import Role
from gateway.store import GatewayStore
from strategy_client.security import generate_keypair, write_keypair
from tests.helpers import free_port
from tests.integration.conftest import ROOT, RunnerProc, start_runner


@dataclass
class GatewayProc:
    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path
    redis_url: str
    keys: dict[str, str] = field(default_factory=dict)  # role → key text

    def client(self, role: str | None = "admin", **kw: Any) -> httpx.Client:
        headers = {"X-API-Key": self.keys[role]} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=15.0, **kw)

    def wait_ready(self, runners: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log.read_text()[-3000:]}")
            try:
                r = httpx.get(self.url + "/api/v1/health", timeout=2.0)
                if r.status_code == 200 and r.json()["runners"] >= runners:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"gateway not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    stop = RunnerProc.stop  # the same SIGTERM, wait, SIGKILL


def start_gateway(
    redis_url: str, data_dir: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> GatewayProc:
    port = free_port()
    args = [
        sys.executable, "-m", "gateway.umbrella", "gateway", "run",
        "--port", str(port), "--redis-url", redis_url, "--data-dir", str(data_dir), *extra,
    ]  # fmt: skip
    fh = log.open("ab")
    proc = subprocess.Popen(
        args,
        stdout=fh,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    fh.close()
    return GatewayProc(proc, f"http://127.0.0.1:{port}", data_dir, log, redis_url)


BTC = "binance:perp:BTCUSDT"
RUNNER_NAME = f"gw-bn-{os.getpid()}"


def resting_price(g: GatewayProc, key: str = BTC) -> str:
    """A limit price 10 % under the bid: the order rests."""
    with g.client("read") as c:
        bid = c.get(f"/api/v1/prices/{key}", params={"source": "bid"}).json()["price"]
    return str((Decimal(bid) * Decimal("0.9")).quantize(Decimal("0.1")))


def make_keys(data_dir: Path) -> dict[str, str]:
    store = GatewayStore.open(None, data_dir)
    try:
        return {r.value: store.create_key(r, f"test-{r.value}")[1] for r in Role}
    finally:
        store.close()


@pytest.fixture(scope="session")
def curve(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """CURVE for the session's runner (docs/security.md): its keypair, an allow-list admitting
    the gateway's client key as admin; returned: the gateway's environment (its key, the runner
    key it trusts) — every gateway here talks to the runner over CURVE."""
    tmp = tmp_path_factory.mktemp("gw-curve")
    runner_pair, client = generate_keypair(), generate_keypair()
    write_keypair(tmp / "keys", RUNNER_NAME, runner_pair)
    (tmp / "allow.txt").write_text(f"admin {client.public} gateway\n")
    return {
        "TRADEBUS_CURVE_SECRET": runner_pair.secret,  # the runner's (not passed to gateways)
        "allow": str(tmp / "allow.txt"),
        "TRADEBUS_CLIENT_SECRET": client.secret,
        "TRADEBUS_TRUSTED_RUNNERS": str(tmp / "keys"),
    }


def gateway_env(curve: dict[str, str]) -> dict[str, str]:
    return {k: curve[k] for k in ("TRADEBUS_CLIENT_SECRET", "TRADEBUS_TRUSTED_RUNNERS")}


@pytest.fixture(scope="session")
def runner(redis_server, tmp_path_factory: pytest.TempPathFactory, curve: dict[str, str]) -> Iterator[RunnerProc]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("gw-runner")
    before = os.environ.get("TRADEBUS_CURVE_SECRET")
    os.environ["TRADEBUS_CURVE_SECRET"] = curve["TRADEBUS_CURVE_SECRET"]  # start_runner passes os.environ
    try:
        rp = start_runner(redis_server.url, tmp, RUNNER_NAME, "--allow", curve["allow"])
    finally:
        if before is None:
            os.environ.pop("TRADEBUS_CURVE_SECRET")
        else:
            os.environ["TRADEBUS_CURVE_SECRET"] = before
    try:
        assert rp.record().curve_key  # CURVE on
        yield rp
    finally:
        rp.stop()


@pytest.fixture(scope="session")
def gw(runner: RunnerProc, curve: dict[str, str]) -> Iterator[GatewayProc]:
    data_dir = runner.log.parent / "data"  # the runner's journal is there too
    keys = make_keys(data_dir)
    g = start_gateway(runner.redis_url, data_dir, runner.log.parent / "gateway.log", env=gateway_env(curve))
    g.keys = keys
    try:
        g.wait_ready()
        yield g
    finally:
        g.stop()
