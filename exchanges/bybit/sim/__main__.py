"""``python -m exchanges.bybit.sim --port-base N``: the offline Bybit venue on its own.

The same command as ``python -m exchanges.sim bybit`` (see :mod:`exchanges.bybit.sim.cli`),
with the same one-line errors and exit statuses.
"""

from __future__ import annotations

import sys
from typing import Any, cast

import typer

from exchanges.sim.cli import CliError, StartError, _click_errors

from .cli import register

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 ok, 1 runtime error (e.g. port in use), 2 bad arguments."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    command = typer.main.get_command(app)
    click_error, no_args_help = _click_errors(command)
    try:
        result = command.main(args=argv, prog_name="python -m exchanges.bybit.sim", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return 130
    except StartError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    except click_error as exc:
        if no_args_help is not None and isinstance(exc, no_args_help):
            return 0
        typer.echo(f"error: {cast(Any, exc).format_message()}", err=True)
        return 2
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
