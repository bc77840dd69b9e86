"""What every tradebus console script shares (``runner``, ``strategy``): a ``typer.Typer`` whose
--help shows on/off flags as flags, and ``--version``.

Only the console scripts import this module (it imports typer); ``import strategy_client`` does not.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import typer

__all__ = ["FlagApp", "LogLevel", "version", "version_callback"]


class LogLevel(StrEnum):
    """``--log-level``: typer lists these as its choices and refuses anything else."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class FlagApp(typer.Typer):
    """``typer.Typer`` whose --help shows on/off flags without a ``<bool>`` value tag (a flag takes
    no value), in every subcommand."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        command = typer.main.get_command(self)
        _untag_flags(command)
        return command(*args, **kwargs)


def _untag_flags(command: Any) -> None:
    from typer._click.core import Context

    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    help_option = command.get_help_option(Context(command))
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _untag_flags(sub)


def version() -> str:
    from strategy_client import __version__

    return __version__


def version_callback(prog: str) -> Callable[[bool], None]:
    """A ``--version`` option callback printing ``PROG (tradebus) X.Y.Z`` and exiting 0."""

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{prog} (tradebus) {version()}")
            raise typer.Exit(0)

    return show
