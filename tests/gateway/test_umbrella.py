"""``tradebus``: the umbrella command dispatches to every console script's own app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import ROOT

SCRIPT = Path(sys.executable).with_name("tradebus")  # the console script (pip install -e .)


def tradebus(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gateway.umbrella"]
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)


def test_help_lists_every_command() -> None:
    out = tradebus("--help")
    assert out.returncode == 0
    for name in ("runner", "strategy", "bridge", "record", "gateway"):
        assert f"\n  {name} " in out.stdout


SUBCOMMANDS = {
    "runner": "exchange runner",
    "strategy": "spotperp",
    "bridge": "NATS",
    "record": "--flush-seconds",
    "gateway": "REST + WebSocket",
}


def test_subcommand_help_is_the_apps_own() -> None:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gateway.umbrella"]
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    procs = {  # all at once: each starts its own interpreter
        name: subprocess.Popen([*cmd, name, "--help"], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for name in SUBCOMMANDS
    }
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, name
        assert SUBCOMMANDS[name] in out, name
        assert f"tradebus {name}" in out  # usage names the umbrella


def test_unknown_command_and_no_command() -> None:
    out = tradebus("nope")
    assert out.returncode == 2
    assert "unknown command 'nope'" in out.stderr
    assert tradebus().returncode == 2
    version = tradebus("--version")
    assert version.returncode == 0 and version.stdout.startswith("tradebus ")
