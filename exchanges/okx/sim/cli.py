"""``python -m exchanges.sim okx --port-base N``: the offline OKX venue from the shell.

:func:`register` adds the ``okx`` command to the simulator CLI's Typer app (the options and
behaviour of ``binance``: seed, symbols, balances, fault knobs; one-line ``error: ...`` and exit
status 2 on a bad argument, 1 when the port is taken). OKX serves REST, the three WebSocket
paths and ``/_sim/`` on one port: ``--port-base N`` uses N only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from exchanges.sim.cliargs import CliError, as_cli_errors, check_positive, config_overrides, given, parse_log_level
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from exchanges.sim.serve import run

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``okx`` command to ``app`` (``exchanges.sim.cli.app``)."""
    app.command("okx")(okx)


def okx(
    port_base: Annotated[int, typer.Option("--port-base", help="the one port (REST, WebSocket, /_sim/)")],
    seed: Annotated[int, typer.Option(help="random seed of the market model")] = 1,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    api_key: Annotated[str | None, typer.Option(help="the test account's API key [default: built-in]")] = None,
    api_secret: Annotated[str | None, typer.Option(help="its secret [default: built-in]")] = None,
    passphrase: Annotated[str | None, typer.Option(help="its passphrase [default: built-in]")] = None,
    symbols: Annotated[str | None, typer.Option(help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT")] = None,
    funding_interval: Annotated[float | None, typer.Option(help="funding interval in seconds [default: 8 h]")] = None,
    step_ms: Annotated[int | None, typer.Option(help="engine step (book refresh) period in ms [default: 100]")] = None,
    balances: Annotated[str | None, typer.Option(help="spot balances, e.g. USDT=100000,BTC=1")] = None,
    futures_balances: Annotated[str | None, typer.Option(help="swap margin, e.g. USDT=100000")] = None,
    environment: Annotated[
        str, typer.Option(help="any | live | demo: which x-simulated-trading header the key accepts")
    ] = "any",
    no_book_snapshot: Annotated[
        bool, typer.Option("--no-book-snapshot", help="books channel without a snapshot (OKX's planned change)")
    ] = False,
    zero_checksum: Annotated[
        bool, typer.Option("--zero-checksum", help="books checksum always 0 (OKX production since 2026-06)")
    ] = False,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="count requests but never answer 50011")
    ] = False,
    delay_ms: Annotated[int, typer.Option(help="fault: hold every REST reply this long")] = 0,
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
    """Serve OKX v5 (spot + USDT swaps: REST, public/private WebSocket) offline on one port."""
    from .options import OkxSimOptions
    from .sim import OkxSim

    if not 0 < port_base < 65536:
        raise CliError(f"--port-base must be in 1..65535, got {port_base}")
    level = parse_log_level(log_level)
    check_positive(funding_interval, "--funding-interval")
    if environment not in ("any", "live", "demo"):
        raise CliError(f"--environment must be any, live or demo, got {environment!r}")
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
        options = OkxSimOptions(
            enforce_rate_limits=not no_rate_limits,
            environment=environment,  # type: ignore[arg-type]
            book_snapshot=not no_book_snapshot,
            book_checksum=not zero_checksum,
            **given(api_key=api_key, api_secret=api_secret, passphrase=passphrase),  # type: ignore[arg-type]
        )
        overrides = config_overrides(
            seed=seed,
            symbols=symbols,
            step_ms=step_ms,
            funding_interval=funding_interval,
            balances=balances,
            futures_balances=futures_balances,
        )
        sim = OkxSim(port=port_base, host=host, options=options, faults=faults, **overrides)
    run(sim, level=level, venue="OKX", listening=f"{host}:{port_base}", extra={"passphrase": sim.passphrase})
