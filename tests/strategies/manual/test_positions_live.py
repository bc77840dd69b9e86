"""`positions` in `strategy manual` (issue 21) on the default offline Binance runner, through the
real console script: right after a fill the position shows its leverage (Binance's user-stream
patch carries none: the runner keeps the one it knew and re-reads the position at once) and a
mark, and its uPnL is the position marked at the runner's current mark price — not the figure
of the venue's last report (it stayed at -0.031 while the real one was ≈ +1.0); `balance` shows
the margin the position takes (initial, maintenance, less available) within seconds, not at the
next reconcile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from ...integration.conftest import ROOT, RunnerProc

STRATEGY = shutil.which("strategy", path=str(Path(sys.executable).parent)) or "strategy"
KEY = "binance:perp:ETHUSDT"


def repl(script: str, redis_url: str, runner: str) -> list[str]:
    out = subprocess.run(
        [STRATEGY, "manual", "--redis-url", redis_url, "--runner", runner],
        input=script,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out.stdout.splitlines()


def position_row(lines: list[str]) -> dict[str, str] | None:
    header = next((line.split() for line in lines if line.split()[:2] == ["instrument", "side"]), None)
    row = next((line.split() for line in lines if line.startswith(KEY + " ")), None)
    if header is None or row is None:
        return None
    return dict(zip(header, row, strict=True))


def test_positions_show_leverage_mark_and_a_current_upnl(manual_runner: RunnerProc, manual_redis: str) -> None:
    bought = repl(f"leverage {KEY} 7\nbuy {KEY} 0.5\n", manual_redis, manual_runner.name)
    assert any(line.startswith("filled: buy 0.5 binance:perp:ETHUSDT") for line in bought), bought
    deadline = time.monotonic() + 10  # the periodic reconcile (which used to bring the leverage) is far later
    row = None
    while time.monotonic() < deadline:
        row = position_row(repl("positions\n", manual_redis, manual_runner.name))
        if row is not None and row["lev"] != "-":
            break
    assert row is not None and row["lev"] == "7x", row
    assert row["mark"] != "-", row
    size = Decimal(row["size"]) * (1 if row["side"] == "long" else -1)
    mark, entry = Decimal(row["mark"]), Decimal(row["entry"])
    assert Decimal(row["uPnL"]) == size * (mark - entry), row  # marked at the mark shown
    # the mark shown is the runner's current one (the same as `price … mark` a moment later)
    lines = repl(f"positions\nprice {KEY} mark\n", manual_redis, manual_runner.name)
    again = position_row(lines)
    assert again is not None
    current = Decimal(next(line for line in lines if line.startswith(f"{KEY} mark ")).split()[2])
    assert abs(Decimal(again["mark"]) - current) / current < Decimal("0.002"), (again, current)
    # the account's margin figures follow the fill too (the user stream's patch carries the wallet only)
    margin = None
    while time.monotonic() < deadline + 10:
        lines = repl("balance\n", manual_redis, manual_runner.name)
        section = lines[lines.index("futures margin") :] if "futures margin" in lines else []
        usdt = next((line.split() for line in section if line.startswith("USDT ")), None)
        if usdt is not None:
            margin = dict(zip(["asset", "wallet", "upnl", "margin", "available", "init", "maint"], usdt, strict=True))
            if Decimal(margin["init"]) > 0:
                break
    assert margin is not None and Decimal(margin["init"]) > 0 and Decimal(margin["maint"]) > 0, margin
    assert Decimal(margin["available"]) < Decimal(margin["margin"]), margin
    repl(f"sell {KEY} 0.5 reduce\n", manual_redis, manual_runner.name)
