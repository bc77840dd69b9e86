"""The simulator CLI's venue registry: ``exchanges.sim`` names no venue, the venues register
their commands (one shared serve command, :mod:`exchanges.sim.venuecli`)."""

from __future__ import annotations

import ast
from pathlib import Path

import typer

from exchanges.sim.cli import discover

SIM = Path(__file__).resolve().parents[2] / "exchanges" / "sim"
VENUES = ("binance", "bybit", "okx")


def test_exchanges_sim_never_imports_a_venue_package() -> None:
    offenders = []
    for path in sorted(SIM.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[:2][-1] in VENUES and n.startswith("exchanges.")
            ]
    assert offenders == []


def test_discover_registers_every_venue_with_the_shared_options() -> None:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """venues"""

    assert discover(app) == list(VENUES)
    command = typer.main.get_command(app)
    shared = {"--port-base", "--seed", "--symbols", "--balances", "--fail-next", "--malformed-frames", "--log-level"}
    own = {"binance": "--listen-key-minutes", "bybit": "--idle-timeout", "okx": "--passphrase"}
    for venue in VENUES:
        flags = {opt for p in command.commands[venue].params for opt in p.opts}  # type: ignore[attr-defined]
        assert shared <= flags and own[venue] in flags
