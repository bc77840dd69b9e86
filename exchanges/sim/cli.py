"""``python -m exchanges.sim <venue> ...``: run an offline venue until Ctrl-C / SIGTERM.

One subcommand per venue; each venue package declares its command in
``exchanges/<venue>/sim/cli.py`` (:mod:`exchanges.sim.venuecli`) and :func:`discover` adds it.
Bad arguments and a taken port end with a one-line ``error: ...`` and exit status 2 / 1, never
a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path
from typing import Annotated, Any, cast

import typer

import exchanges
from exchanges.sim.cliargs import (
    CLI_TLS,
    CliError,
    StartError,
    TlsOptions,
    parse_balances,
    parse_symbols,
)

__all__ = ["app", "main", "run_app", "CliError", "StartError", "parse_balances", "parse_symbols"]

app = typer.Typer(
    name="exchanges.sim",
    help="Offline exchange venues that speak each exchange's own protocol.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    tls: Annotated[
        bool, typer.Option("--tls", help="serve HTTPS/WSS with a local CA's certificate (made on first use)")
    ] = False,
    cert: Annotated[Path | None, typer.Option(help="serve HTTPS/WSS with this PEM certificate (with --key)")] = None,
    key: Annotated[Path | None, typer.Option(help="the PEM private key of --cert")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="where --tls keeps sim-tls/ca.pem [default: $TRADEBUS_DATA_DIR, else the per-user data dir]"),
    ] = None,
) -> None:
    """Offline exchange venues. Pick one: ``binance``, ``bybit`` or ``okx``; the TLS options
    go before it (``python -m exchanges.sim --tls okx --port-base 9300``)."""
    options = TlsOptions(tls=tls, cert=cert, key=key, data_dir=data_dir)
    options.check()
    CLI_TLS.set(options)


def _click_errors(command: object) -> tuple[type[Exception], type[Exception] | None]:
    """``ClickException`` and ``NoArgsIsHelpError`` of the click that typer runs on (typer
    vendors click in recent versions and depends on it in older ones)."""
    core = next(c.__module__ for c in type(command).__mro__ if "click" in c.__module__)
    module: Any = importlib.import_module(core.rsplit(".", 1)[0] + ".exceptions")
    return module.ClickException, getattr(module, "NoArgsIsHelpError", None)


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit status 0 ok, 1 runtime error (e.g. port in use), 2 bad arguments."""
    return run_app(app, argv, "python -m exchanges.sim")


def run_app(typer_app: typer.Typer, argv: list[str] | None, prog_name: str) -> int:
    """Run ``typer_app`` on ``argv``: exit status 0 ok, 1 runtime error (:class:`StartError`),
    2 bad arguments (:class:`CliError` or click's own), each error one ``error: ...`` line."""
    command = typer.main.get_command(typer_app)
    click_error, no_args_help = _click_errors(command)
    CLI_TLS.set(None)  # only this invocation's root options count
    try:
        result = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
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
            return 0  # the help was printed
        typer.echo(f"error: {cast(Any, exc).format_message()}", err=True)
        return 2
    return int(result) if isinstance(result, int) else 0


def discover(typer_app: typer.Typer) -> list[str]:
    """Add the command of every venue package with a ``sim/cli.py`` (``exchanges.<venue>.sim.cli``,
    which has ``register(app)``) to ``typer_app``; the venues' names, sorted.

    The venues register into this CLI, not the other way round: ``exchanges.sim`` never
    imports a venue package by name (a venue whose simulator is not installed is skipped)."""
    names = []
    for found in sorted(pkgutil.iter_modules(exchanges.__path__), key=lambda m: m.name):
        if not found.ispkg or found.name in _NOT_VENUES:
            continue
        spec = f"exchanges.{found.name}.sim.cli"
        try:
            present = importlib.util.find_spec(spec) is not None
        except ModuleNotFoundError:  # no ``sim`` subpackage
            present = False
        if present:
            module: Any = importlib.import_module(spec)
            module.register(typer_app)
            names.append(found.name)
    return names


_NOT_VENUES = frozenset({"sim", "transport"})
discover(app)
