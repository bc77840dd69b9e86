"""docs/strategies.md stays true (issue 21): every option it names exists in the --help of the real
`strategy` commands (or of `runner`, or the script it names), and its alert kinds are the CLI's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from strategies.alerts import AlertKind

from .conftest import ROOT

BIN = Path(sys.executable).parent
DOC = (ROOT / "docs" / "strategies.md").read_text()
OPTION = re.compile(r"--[a-z][a-z-]*")


def helps(*argv: str) -> str:
    exe = shutil.which(argv[0], path=str(BIN)) or argv[0]
    out = subprocess.run(
        [exe, *argv[1:], "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_documented_option_exists() -> None:
    known = set()
    for argv in (
        ("strategy", "spotperp"),
        ("strategy", "perpperp"),
        ("strategy", "history"),
        ("strategy", "report"),
        ("strategy", "ls"),
        ("strategy", "stop"),
        ("strategy", "signals"),
        ("strategy", "alerts", "test"),
        ("runner", "binance"),
    ):
        known |= set(OPTION.findall(helps(*argv)))
    kill_restart = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "kill_restart.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    known |= set(OPTION.findall(kill_restart.stdout))
    missing = sorted(set(OPTION.findall(DOC)) - known)
    assert not missing, f"docs/strategies.md names options no command has: {missing}"


def test_documented_alert_kinds_are_the_clis() -> None:
    table = DOC.split("## Alerts", 1)[1].split("##", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", table, flags=re.M))
    kinds = {k for pair in documented for k in pair if k}
    assert kinds == {k.value for k in AlertKind if k is not AlertKind.TEST}
    assert all(k in helps("strategy", "spotperp") for k in kinds)
