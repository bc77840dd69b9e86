"""``python -m exchanges.bybit.sim --port-base N``: the offline Bybit venue on its own.

The same command as ``python -m exchanges.sim bybit`` (see :mod:`exchanges.bybit.sim.cli`),
with the same one-line errors and exit statuses.
"""

from __future__ import annotations

import sys

import typer

from exchanges.sim.cli import run_app

from .cli import register

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 ok, 1 runtime error (e.g. port in use), 2 bad arguments."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    return run_app(app, argv, "python -m exchanges.bybit.sim")


if __name__ == "__main__":
    sys.exit(main())
