"""The simulator CLI's venue registry: the venues register their commands (one shared serve
command, :mod:`exchanges.sim.venuecli`). That ``exchanges.sim`` imports no venue is an
import-linter contract (pyproject ``[tool.importlinter]``, run by ``tests/test_contracts.py``)."""

from __future__ import annotations

import typer

from exchanges.sim.cli import discover

VENUES = ("binance", "bybit", "okx")


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
