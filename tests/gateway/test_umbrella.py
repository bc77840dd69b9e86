"""``tradebus``: the umbrella command dispatches to every console script's own app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.umbrella import main
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


def test_subcommand_help_is_the_apps_own(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """In process (the apps' imports are the cost, not the dispatch): each subcommand runs its app."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["tradebus"])
    for name, expect in SUBCOMMANDS.items():
        try:
            main([name, "--help"])
        except SystemExit as done:
            assert done.code in (0, None), name
        out = capsys.readouterr().out
        assert expect in out, name
        assert f"tradebus {name}" in out  # usage names the umbrella


def test_unknown_command_and_no_command() -> None:
    out = tradebus("nope")
    assert out.returncode == 2
    assert "unknown command 'nope'" in out.stderr
    assert tradebus().returncode == 2
    version = tradebus("--version")
    assert version.returncode == 0 and version.stdout.startswith("tradebus ")
