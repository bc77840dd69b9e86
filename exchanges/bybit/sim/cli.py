"""``python -m exchanges.sim bybit ...``: the Bybit command of the simulator CLI.

The options every venue takes come from :mod:`exchanges.sim.venuecli`; Bybit serves REST,
streams and ``/_sim/`` on one port and adds ``--idle-timeout``. Bad arguments end with one
``error: ...`` line and exit status 2, a taken port with status 1.
"""

from __future__ import annotations

from typing import Annotated

import typer

from exchanges.sim.cliargs import check_positive, given
from exchanges.sim.venuecli import SimArgs, SimCommand, add_command, option

from .options import BybitSimOptions
from .sim import BybitSim

__all__ = ["COMMAND", "register"]


def _build(args: SimArgs) -> BybitSim:
    idle: float = args.own["idle_timeout"]
    check_positive(idle, "--idle-timeout")
    options = BybitSimOptions(
        enforce_rate_limits=args.enforce_rate_limits,
        public_idle_timeout_s=idle,
        private_idle_timeout_s=idle,
        **given(api_key=args.api_key, api_secret=args.api_secret),
    )
    return BybitSim(port=args.port_base, host=args.host, options=options, faults=args.faults, **args.overrides)


COMMAND = SimCommand(
    name="bybit",
    doc="Serve Bybit v5 (spot + linear, unified account) offline on one port.",
    venue="Bybit",
    port_help="the port (REST, streams and /_sim/ share it)",
    build=_build,
    options=(
        option(
            "idle_timeout",
            Annotated[float, typer.Option(help="seconds a WebSocket may stay silent (no ping) before it is closed")],
            600.0,
        ),
    ),
    helps={
        "balances": "spot side of the wallet, e.g. USDT=100000,BTC=1",
        "futures_balances": "derivatives side of the wallet, e.g. USDT=100000",
        "no_rate_limits": "report X-Bapi-Limit headers but never refuse",
        "throttle_next": "fault: next N requests rate limited (10006 / 403)",
        "throttle_status": "429 (retCode 10006) or 418 (HTTP 403 IP ban)",
        "retry_after": "seconds until the --throttle-next limit resets",
    },
)


def register(app: typer.Typer) -> None:
    """Add the ``bybit`` command to ``app``."""
    add_command(app, COMMAND)
