"""Issue 12: a runner whose venue rate-limits its first requests waits and becomes ready.

The chaos harness saw ``runner bybit`` exit with a traceback on a single 429 (retCode 10006)
while loading instruments. Startup calls now retry retryable venue errors, honouring the
venue's reset time, within a startup deadline. Each venue's simulator runs in a thread; the
fault is armed through its ``/_sim/faults`` admin endpoint before a real runner process starts
against it (``--sim-connect``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange_runner.ports import free_port_pair
from exchanges.binance.sim import BinanceSim
from exchanges.bybit.sim import BybitSim
from exchanges.okx.sim import OkxSim
from tests.integration.conftest import start_runner

THROTTLED = 3  # the first requests of the runner (clock, instruments) all get 429/10006/50011


def _binance(port: int) -> AbstractContextManager[Any]:
    return BinanceSim.in_thread(port_base=port, seed=3)


def _bybit(port: int) -> AbstractContextManager[Any]:
    return BybitSim.in_thread(port=port, seed=3)


def _okx(port: int) -> AbstractContextManager[Any]:
    return OkxSim.in_thread(port=port, seed=3)


VENUES: dict[str, Callable[[int], AbstractContextManager[Any]]] = {
    "binance": _binance,
    "bybit": _bybit,
    "okx": _okx,
}


@pytest.fixture
def sim_port() -> Iterator[int]:
    yield free_port_pair()


@pytest.mark.parametrize("exchange", sorted(VENUES))
def test_runner_waits_out_rate_limits_at_start(exchange: str, sim_port: int, redis_url: str, tmp_path: Path) -> None:
    with VENUES[exchange](sim_port), httpx.Client(base_url=f"http://127.0.0.1:{sim_port}") as admin:
        armed = admin.post("/_sim/faults", json={"throttle_next": THROTTLED, "retry_after_s": 1})
        assert armed.status_code == 200, armed.text
        rp = start_runner(redis_url, tmp_path, f"start-429-{exchange}", "--sim-connect", f"127.0.0.1:{sim_port}",
                          exchange=exchange)  # fmt: skip
        try:
            record = rp.record(timeout=60)
            assert record.status == "ready"
            fired = admin.get("/_sim/faults").json()["fired"]
            assert fired.get("throttle") == THROTTLED, fired
            log = rp.log.read_text()
            assert "Traceback" not in log
            assert "retrying" in log, log[-3000:]
        finally:
            assert rp.stop() == 0, rp.log.read_text()[-3000:]
