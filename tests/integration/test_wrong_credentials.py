"""A runner whose API secret the venue refuses is not ready, and says why in one line
(issue 12, defect 8: it used to reach "ready").

For each venue: an offline venue in a thread, a runner process pointed at it with the right
key and a wrong secret. The runner keeps running, registers with status ``auth_failed``
(``runner ls`` shows it), ``/readyz`` answers 503 with ``credentials_ok`` false and the venue's
reason, and the log has one error line naming it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from exchange_runner.ports import free_port, free_port_pair
from exchanges.binance.sim import BinanceSim
from exchanges.bybit.sim import BybitSim
from exchanges.okx.sim import OkxSim
from strategy_client.wire import RunnerRecord, decode_record, runner_key
from tests.helpers import eventually_sync
from tests.integration.conftest import ROOT, start_runner


def _binance(port: int) -> AbstractContextManager[Any]:
    return BinanceSim.in_thread(port_base=port, seed=3)


def _bybit(port: int) -> AbstractContextManager[Any]:
    return BybitSim.in_thread(port=port, seed=3)


def _okx(port: int) -> AbstractContextManager[Any]:
    return OkxSim.in_thread(port=port, seed=3)


VENUES: dict[str, tuple[Callable[[int], AbstractContextManager[Any]], Callable[[], int], str]] = {
    "binance": (_binance, free_port_pair, "BINANCE"),
    "bybit": (_bybit, free_port, "BYBIT"),
    "okx": (_okx, free_port, "OKX"),
}


def registered(redis_url: str, name: str) -> RunnerRecord | None:
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.get(runner_key(name))
    finally:
        client.close()
    return decode_record(raw) if isinstance(raw, bytes) else None


@pytest.mark.parametrize("exchange", sorted(VENUES))
def test_a_wrong_secret_fails_readiness_with_a_one_line_reason(
    exchange: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_sim, pick_port, prefix = VENUES[exchange]
    port = pick_port()
    with open_sim(port) as sim:
        monkeypatch.setenv(f"{prefix}_API_KEY", sim.api_key)
        monkeypatch.setenv(f"{prefix}_API_SECRET", "0" * len(sim.api_secret))
        if exchange == "okx":
            monkeypatch.setenv("OKX_API_PASSPHRASE", sim.passphrase)
        metrics_port = free_port()
        name = f"badkey-{exchange}"
        rp = start_runner(
            redis_url,
            tmp_path,
            name,
            "--sim-connect",
            f"127.0.0.1:{port}",
            "--metrics-port",
            str(metrics_port),
            exchange=exchange,
        )
        try:

            def auth_failed() -> RunnerRecord | None:
                assert rp.proc.poll() is None, rp.log.read_text()[-3000:]
                rec = registered(redis_url, name)
                return rec if rec is not None and rec.status == "auth_failed" else None

            rec = eventually_sync(auth_failed, timeout=40, what=f"{exchange} runner registered as auth_failed")
            assert rec is not None and rec.pid == rp.proc.pid

            ready = httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5)
            body = ready.json()
            assert ready.status_code == 503, body
            assert body["checks"]["credentials_ok"] is False and "credentials_ok" in body["not_ready"]
            reason = body["credentials_error"]
            assert reason.startswith(f"{exchange} refused the API key/secret: ") and "\n" not in reason, reason
            print(f"\n[{exchange}] /readyz credentials_error: {reason}")

            listing = subprocess.run(
                [sys.executable, "-m", "exchange_runner.cli", "ls", "--redis-url", redis_url],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=60,
                check=True,
            ).stdout
            row = next(line for line in listing.splitlines() if line.startswith(name))
            assert "auth_failed" in row.split()

            errors = [line for line in rp.log.read_text().splitlines() if "refused the API key/secret" in line]
            assert len(errors) == 1 and "ERROR" in errors[0], errors
            assert rp.proc.poll() is None  # it keeps running (and checks again every 30 s)
        finally:
            assert rp.stop() == 0, rp.log.read_text()[-3000:]
