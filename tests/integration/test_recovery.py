"""Recovery in seconds, end to end (issue 12, defect 5): a runner process on the offline Binance
venue, whose user-data connections are killed again and again through the venue's admin knob
(``POST /_sim/ws/kill {"target": "user"}``), then whose listenKey is expired again and again
(``POST /_sim/listen-keys/expire``).

"Back" means the venue routes user data to the runner again — a new WS-API connection with a
live ``userDataStream`` subscription and a new listenKey connection (``/_sim/state``) — and the
runner's ``/readyz`` is 200 again. The old backoff doubled with every kill that came within
10 s of the previous one (16.8 s and 23 s after a few kills); now each reconnect waits the
first delay. The bound asserted per recovery (8 s) is 16× what it takes on this machine and
far below what the old code needed by the sixth kill; the real p50/p99 are printed (``-s``).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from exchange_runner.ports import free_port, free_port_pair
from exchanges.binance.sim import BinanceSim
from tests.helpers import eventually_sync
from tests.integration.conftest import start_runner

KILLS = 10
EXPIRIES = 10
BOUND_S = 8.0


def user_conns(admin: httpx.Client) -> dict[str, set[int]]:
    state: dict[str, Any] = admin.get("/_sim/state").json()
    out: dict[str, set[int]] = {"spot": set(), "futures": set()}
    for conn in state["connections"]:
        if conn["user_data"]:
            out[conn["host"]].add(conn["id"])
    return out


def report(what: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"\n[recovery] {what}: n={len(samples)} p50={statistics.median(samples) * 1000:.0f}ms "
        f"p99={p99 * 1000:.0f}ms max={ordered[-1] * 1000:.0f}ms"
    )


def test_user_data_is_back_within_seconds_after_repeated_kills_and_expiries(redis_url: str, tmp_path: Path) -> None:
    port_base = free_port_pair()
    metrics_port = free_port()
    with (
        BinanceSim.in_thread(port_base=port_base, seed=5),
        httpx.Client(base_url=f"http://127.0.0.1:{port_base}") as admin,
    ):
        rp = start_runner(
            redis_url,
            tmp_path,
            "recovery-bn",
            "--sim-connect",
            f"127.0.0.1:{port_base}",
            "--metrics-port",
            str(metrics_port),
        )
        try:
            rp.record()

            def ready() -> bool:
                assert rp.proc.poll() is None, rp.log.read_text()[-3000:]
                return httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5).status_code == 200

            def back(old: dict[str, set[int]], hosts: tuple[str, ...]) -> bool:
                now = user_conns(admin)
                return all(now[h] and not (now[h] & old[h]) for h in hosts) and ready()

            eventually_sync(lambda: all(user_conns(admin).values()) and ready(), timeout=30, what="user data live")
            kills: list[float] = []
            for _ in range(KILLS):
                old = user_conns(admin)
                start = time.monotonic()
                assert admin.post("/_sim/ws/kill", json={"target": "user"}).json()["killed"] == 2
                eventually_sync(lambda old=old: back(old, ("spot", "futures")), timeout=60, what="user data back")  # type: ignore[misc]
                kills.append(time.monotonic() - start)
            report("runner: binance user data after a WS kill (venue routes again + /readyz 200)", kills)

            expiries: list[float] = []
            for _ in range(EXPIRIES):
                old = user_conns(admin)
                start = time.monotonic()
                assert admin.post("/_sim/listen-keys/expire").json()["expired"] == 1
                eventually_sync(lambda old=old: back(old, ("futures",)), timeout=60, what="listenKey stream back")  # type: ignore[misc]
                expiries.append(time.monotonic() - start)
            report("runner: binance futures user data after a listenKey expiry", expiries)

            assert max(kills) < BOUND_S and max(expiries) < BOUND_S, (kills, expiries)
        finally:
            assert rp.stop() == 0, rp.log.read_text()[-3000:]
