"""``python -m exchanges.sim binance ...``: the Binance command of the simulator CLI.

The options every venue takes come from :mod:`exchanges.sim.venuecli`; Binance adds two ports
(spot on N, USD-M futures on N+1), ``--listen-key-minutes`` and ``--extra-symbols`` (synthetic
pairs for scaling benchmarks, :mod:`.synthetic`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from exchanges.sim.cliargs import CliError, check_positive, given
from exchanges.sim.venuecli import SimArgs, SimCommand, add_command, option

from .options import BinanceSimOptions
from .sim import BinanceSim
from .synthetic import MAX_EXTRA_SYMBOLS, with_extra_symbols

__all__ = ["COMMAND", "register"]


def _build(args: SimArgs) -> BinanceSim:
    minutes: float = args.own["listen_key_minutes"]
    check_positive(minutes, "--listen-key-minutes")
    options = BinanceSimOptions(
        listen_key_validity_ms=int(minutes * 60_000),
        enforce_rate_limits=args.enforce_rate_limits,
        **given(api_key=args.api_key, api_secret=args.api_secret),
    )
    extra: int = args.own["extra_symbols"]
    if not 0 <= extra <= MAX_EXTRA_SYMBOLS:
        raise CliError(f"--extra-symbols must be in 0..{MAX_EXTRA_SYMBOLS}, got {extra}")
    config = with_extra_symbols(None, extra)
    return BinanceSim(
        port_base=args.port_base, host=args.host, config=config, options=options, faults=args.faults, **args.overrides
    )


COMMAND = SimCommand(
    name="binance",
    doc="Serve Binance spot (port N) and USD-M futures (port N+1) offline.",
    venue="Binance",
    port_help="spot on N, USD-M futures on N+1",
    ports=2,
    build=_build,
    options=(
        option("listen_key_minutes", Annotated[float, typer.Option(help="listenKey validity in minutes")], 60.0),
        option(
            "extra_symbols",
            Annotated[
                int,
                typer.Option(
                    help=f"list N more USDT pairs SYM001USDT… on spot and futures (0..{MAX_EXTRA_SYMBOLS}; benchmarks)"
                ),
            ],
            0,
        ),
    ),
    helps={
        "api_key": "the test account's API key [default: docs key]",
        "api_secret": "its secret [default: docs secret]",
        "no_rate_limits": "count weight but never answer 429/418",
        "delay_ms": "fault: hold every REST/WS-API reply this long",
    },
)


def register(app: typer.Typer) -> None:
    """Add the ``binance`` command to ``app``."""
    add_command(app, COMMAND)
