"""The web UI in headless Chromium against a real gateway and a runner on the offline Binance venue
(the ``gw`` and ``runner`` fixtures of ``tests/gateway/conftest.py``) and a real strategy journal.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``)
and ``selenium`` (the dev extras); without them every test here skips and says which is missing.
Screenshots go under the module's tmp dir (``gw-runner*/shots``); the path is printed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from strategy_client.journal import Decision, Journal, PairState, PnlComponents, ProcessInfo
from tests.gateway.conftest import GatewayProc
from tests.helpers import eventually_sync
from tests.integration.conftest import RunnerProc

INSTALL = "apt-get install chromium chromium-driver"
STRATEGY = "uitest"
PERP = "binance:perp:BTCUSDT"
SPOT = "binance:spot:BTCUSDT"


def find_browser() -> tuple[str, str]:
    """(chromium, chromedriver) paths, or skip saying what to install."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[dev]' (and " + INSTALL + ")")
    browser = next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome")) if p), None
    )
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver") if os.path.exists(p)), None
    )
    if browser is None or driver is None:
        missing = "chromium" if browser is None else "chromedriver"
        reason = f"no {missing} found for the web UI's browser tests: {INSTALL}"
        print(reason)
        pytest.skip(reason)
    return browser, driver


def seed_strategy_journal(data_dir: Path) -> None:
    """A strategy's journal with an hour of history: one pair through its phases with realised PnL
    moving at each transition, and the decision (edge terms) that opened it."""
    now = int(time.time() * 1000)
    t0 = now - 3_600_000
    steps = [
        ("entering", "0", "0", "0", "0"),
        ("hedged", "-0.40", "0", "0.52", "0.08"),
        ("hedged", "0.35", "0.61", "0.52", "0.08"),
        ("hedged", "1.90", "1.22", "0.52", "0.08"),
        ("hedged", "2.40", "1.83", "0.52", "0.08"),
        ("exiting", "3.10", "2.44", "1.04", "0.15"),
    ]

    async def write() -> None:
        j = Journal.open(None, process=ProcessInfo(role="strategy", name=STRATEGY), data_dir=data_dir)
        try:
            async with j.running():
                await j.append(
                    Decision(
                        strategy=STRATEGY,
                        ts_ms=t0,
                        action="enter",
                        reason="edge",
                        pair_id="p1",
                        keys=f"{SPOT},{PERP}",
                        terms={"basis_bps": Decimal("6.2"), "funding_bps": Decimal("1.1"), "cost_bps": Decimal("-4.5")},
                    )
                )
                for i, (phase, basis, funding, fees, slip) in enumerate(steps):
                    b, f, fe, sl = map(Decimal, (basis, funding, fees, slip))
                    await j.append(
                        PairState(
                            strategy=STRATEGY,
                            pair_id="p1",
                            version=i + 1,
                            ts_ms=t0 + i * 600_000,
                            phase=phase,
                            leg_a=SPOT,
                            leg_b=PERP,
                            base_a=Decimal("0.01"),
                            base_b=Decimal("-0.01"),
                            realized=PnlComponents(basis=b, funding=f, fees=fe, slippage=sl, total=b + f - fe - sl),
                        )
                    )
                await j.flush()
        finally:
            j.close()

    asyncio.run(write())


@dataclass
class Stack:
    """The gateway (``tests/gateway/conftest.py``: ``gw``), its runner and an admin key."""

    gw: GatewayProc
    runner: RunnerProc
    shots: Path

    @property
    def url(self) -> str:
        return self.gw.url

    @property
    def key(self) -> str:
        return self.gw.keys["admin"]

    def api(self, method: str, path: str, **kw: Any) -> Any:
        with self.gw.client("admin") as c:
            r = c.request(method, "/api/v1" + path, **kw)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="module")
def stack(browser_paths: tuple[str, str], gw: GatewayProc, runner: RunnerProc) -> Stack:
    seed_strategy_journal(gw.data_dir)  # the gateway opens journals per request: found from now on
    shots = gw.data_dir.parent / "shots"
    shots.mkdir(exist_ok=True)
    print(f"web UI screenshots: {shots}")
    s = Stack(gw, runner, shots)

    def runner_ready() -> bool:
        return any(r["name"] == runner.name and r["status"] == "ready" for r in s.api("GET", "/runners"))

    eventually_sync(runner_ready, timeout=30, interval=0.1, what="the gateway to list the runner ready")
    return s


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    """Skip (saying what to install) before any process starts when there is no browser."""
    return find_browser()


@pytest.fixture(scope="module")
def browser(browser_paths: tuple[str, str], stack: Stack) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_paths
    opts = Options()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()
