"""``python -m exchanges.sim <venue> ...``: run an offline venue until Ctrl-C / SIGTERM.

One subcommand per venue dialect (``binance`` here; ``bybit`` and ``okx`` register theirs from
their packages). Bad arguments and a taken port end with a one-line ``error: ...`` and exit status 2 / 1,
never a traceback.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from exchanges.sim.cliargs import (
    CLI_TLS,
    CliError,
    StartError,
    TlsOptions,
    as_cli_errors,
    check_positive,
    config_overrides,
    given,
    parse_balances,
    parse_log_level,
    parse_symbols,
)
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from exchanges.sim.serve import run

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


@app.command("binance")
def binance(
    port_base: Annotated[int, typer.Option("--port-base", help="spot on N, USD-M futures on N+1")],
    seed: Annotated[int, typer.Option(help="random seed of the market model")] = 1,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    api_key: Annotated[str | None, typer.Option(help="the test account's API key [default: docs key]")] = None,
    api_secret: Annotated[str | None, typer.Option(help="its secret [default: docs secret]")] = None,
    symbols: Annotated[str | None, typer.Option(help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT")] = None,
    funding_interval: Annotated[float | None, typer.Option(help="funding interval in seconds [default: 8 h]")] = None,
    step_ms: Annotated[int | None, typer.Option(help="engine step (book refresh) period in ms [default: 100]")] = None,
    balances: Annotated[str | None, typer.Option(help="spot balances, e.g. USDT=100000,BTC=1")] = None,
    futures_balances: Annotated[str | None, typer.Option(help="futures wallet, e.g. USDT=100000")] = None,
    listen_key_minutes: Annotated[float, typer.Option(help="listenKey validity in minutes")] = 60.0,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="count weight but never answer 429/418")
    ] = False,
    delay_ms: Annotated[int, typer.Option(help="fault: hold every REST/WS-API reply this long")] = 0,
    fail_next: Annotated[int, typer.Option(help="fault: next N requests get a 5xx (not executed)")] = 0,
    fail_status: Annotated[int, typer.Option(help="status for --fail-next: 500, 502, 503 or 504")] = 503,
    throttle_next: Annotated[int, typer.Option(help="fault: next N requests get 429/418")] = 0,
    throttle_status: Annotated[int, typer.Option(help="status for --throttle-next: 429 or 418")] = 429,
    retry_after: Annotated[int, typer.Option(help="Retry-After seconds for --throttle-next")] = 10,
    unknown_next: Annotated[int, typer.Option(help="fault: next N orders accepted, reply lost")] = 0,
    unknown_mode: Annotated[UnknownOutcomeMode, typer.Option(help="how the reply is lost")] = UnknownOutcomeMode.ERROR,
    stale_frames: Annotated[int, typer.Option(help="fault: next N market frames followed by a stale one")] = 0,
    out_of_order_frames: Annotated[int, typer.Option(help="fault: next N market frames swapped")] = 0,
    malformed_frames: Annotated[int, typer.Option(help="fault: next N market frames truncated")] = 0,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
) -> None:
    """Serve Binance spot (port N) and USD-M futures (port N+1) offline."""
    from exchanges.binance.sim import BinanceSim, BinanceSimOptions

    if not 0 < port_base < 65535:
        raise CliError(f"--port-base must be in 1..65534 (N and N+1 are used), got {port_base}")
    level = parse_log_level(log_level)
    check_positive(funding_interval, "--funding-interval")
    check_positive(listen_key_minutes, "--listen-key-minutes")
    faults = FaultRequest(
        delay_ms=delay_ms,
        fail_next=fail_next,
        fail_status=fail_status,
        throttle_next=throttle_next,
        throttle_status=throttle_status,
        retry_after_s=retry_after,
        unknown_next=unknown_next,
        unknown_mode=unknown_mode,
        stale_frames=stale_frames,
        out_of_order_frames=out_of_order_frames,
        malformed_frames=malformed_frames,
    )
    with as_cli_errors():
        faults.validate()
        options = BinanceSimOptions(
            listen_key_validity_ms=int(listen_key_minutes * 60_000),
            enforce_rate_limits=not no_rate_limits,
            **given(api_key=api_key, api_secret=api_secret),  # type: ignore[arg-type]
        )
        overrides = config_overrides(
            seed=seed,
            symbols=symbols,
            step_ms=step_ms,
            funding_interval=funding_interval,
            balances=balances,
            futures_balances=futures_balances,
        )
        sim = BinanceSim(port_base=port_base, host=host, options=options, faults=faults, **overrides)
    run(sim, level=level, venue="Binance", listening=f"{host}:{port_base}-{port_base + 1}")


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


def _register_dialects() -> None:
    """Add each other venue's command (they import this module's helpers, so they come last)."""
    for venue in ("bybit", "okx"):
        try:
            module: Any = importlib.import_module(f"exchanges.{venue}.sim.cli")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"exchanges.{venue}"):
                continue  # that venue's simulator is not installed
            raise
        module.register(app)


_register_dialects()
