"""``python -m exchanges.sim bybit ...``: the offline Bybit venue until Ctrl-C / SIGTERM.

:func:`register` adds the ``bybit`` command to the simulator CLI's Typer app; it takes the
same options as ``binance`` (one port instead of two). Bad arguments end with one
``error: ...`` line and exit status 2, a taken port with status 1 (the CLI's ``main`` turns
``CliError``/``StartError`` into those lines).
"""

from __future__ import annotations

from typing import Annotated

import typer

from exchanges.sim.cliargs import CliError, as_cli_errors, check_positive, config_overrides, given, parse_log_level
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from exchanges.sim.serve import run
from exchanges.sim.serve import serve as serve_venue

__all__ = ["register", "serve"]


def register(app: typer.Typer) -> None:
    """Add the ``bybit`` command to ``app``."""

    @app.command("bybit")
    def bybit(
        port_base: Annotated[int, typer.Option("--port-base", help="the port (REST, streams and /_sim/ share it)")],
        seed: Annotated[int, typer.Option(help="random seed of the market model")] = 1,
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        api_key: Annotated[str | None, typer.Option(help="the test account's API key [default: built-in]")] = None,
        api_secret: Annotated[str | None, typer.Option(help="its secret [default: built-in]")] = None,
        symbols: Annotated[str | None, typer.Option(help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT")] = None,
        funding_interval: Annotated[
            float | None, typer.Option(help="funding interval in seconds [default: 8 h]")
        ] = None,
        step_ms: Annotated[
            int | None, typer.Option(help="engine step (book refresh) period in ms [default: 100]")
        ] = None,
        balances: Annotated[str | None, typer.Option(help="spot side of the wallet, e.g. USDT=100000,BTC=1")] = None,
        futures_balances: Annotated[
            str | None, typer.Option(help="derivatives side of the wallet, e.g. USDT=100000")
        ] = None,
        idle_timeout: Annotated[
            float, typer.Option(help="seconds a WebSocket may stay silent (no ping) before it is closed")
        ] = 600.0,
        no_rate_limits: Annotated[
            bool, typer.Option("--no-rate-limits", help="report X-Bapi-Limit headers but never refuse")
        ] = False,
        delay_ms: Annotated[int, typer.Option(help="fault: hold every REST reply this long")] = 0,
        fail_next: Annotated[int, typer.Option(help="fault: next N requests get a 5xx (not executed)")] = 0,
        fail_status: Annotated[int, typer.Option(help="status for --fail-next: 500, 502, 503 or 504")] = 503,
        throttle_next: Annotated[int, typer.Option(help="fault: next N requests rate limited (10006 / 403)")] = 0,
        throttle_status: Annotated[int, typer.Option(help="429 (retCode 10006) or 418 (HTTP 403 IP ban)")] = 429,
        retry_after: Annotated[int, typer.Option(help="seconds until the --throttle-next limit resets")] = 10,
        unknown_next: Annotated[int, typer.Option(help="fault: next N orders accepted, reply lost")] = 0,
        unknown_mode: Annotated[
            UnknownOutcomeMode, typer.Option(help="how the reply is lost")
        ] = UnknownOutcomeMode.ERROR,
        stale_frames: Annotated[int, typer.Option(help="fault: next N market frames followed by a stale one")] = 0,
        out_of_order_frames: Annotated[int, typer.Option(help="fault: next N market frames swapped")] = 0,
        malformed_frames: Annotated[int, typer.Option(help="fault: next N market frames truncated")] = 0,
        log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
    ) -> None:
        """Serve Bybit v5 (spot + linear, unified account) offline on one port."""
        from .options import BybitSimOptions
        from .sim import BybitSim

        if not 0 < port_base < 65536:
            raise CliError(f"--port-base must be in 1..65535, got {port_base}")
        level = parse_log_level(log_level)
        check_positive(funding_interval, "--funding-interval")
        check_positive(idle_timeout, "--idle-timeout")
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
            options = BybitSimOptions(
                enforce_rate_limits=not no_rate_limits,
                public_idle_timeout_s=idle_timeout,
                private_idle_timeout_s=idle_timeout,
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
            sim = BybitSim(port=port_base, host=host, options=options, faults=faults, **overrides)
        run(sim, level=level, venue="Bybit", listening=f"{host}:{port_base}")


async def serve(sim: object) -> None:
    """Start ``sim`` (a ``BybitSim``), print its endpoints and serve until SIGINT/SIGTERM."""
    from .sim import BybitSim

    assert isinstance(sim, BybitSim)
    await serve_venue(sim, venue="Bybit", listening=f"{sim.host}:{sim.port}")
