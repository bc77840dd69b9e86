"""``python -m exchanges.sim okx ...``: the OKX command of the simulator CLI.

The options every venue takes come from :mod:`exchanges.sim.venuecli`; OKX serves REST, the
three WebSocket paths and ``/_sim/`` on one port (``--port-base N`` uses N only) and adds
``--passphrase``, ``--environment``, ``--no-book-snapshot`` and ``--zero-checksum``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from exchanges.sim.cliargs import CliError, given
from exchanges.sim.runtime import SimHost
from exchanges.sim.venuecli import SimArgs, SimCommand, add_command, option

from .options import OkxSimOptions
from .sim import OkxSim

__all__ = ["COMMAND", "register"]

_ENVIRONMENTS = ("any", "live", "demo")


def _build(args: SimArgs) -> OkxSim:
    own = args.own
    environment: str = own["environment"]
    if environment not in _ENVIRONMENTS:
        raise CliError(f"--environment must be any, live or demo, got {environment!r}")
    options = OkxSimOptions(
        enforce_rate_limits=args.enforce_rate_limits,
        environment=environment,  # type: ignore[arg-type]  # checked against _ENVIRONMENTS above
        book_snapshot=not own["no_book_snapshot"],
        book_checksum=not own["zero_checksum"],
        **given(api_key=args.api_key, api_secret=args.api_secret, passphrase=own["passphrase"]),
    )
    return OkxSim(port=args.port_base, host=args.host, options=options, faults=args.faults, **args.overrides)


def _passphrase(sim: SimHost[Any, Any]) -> Mapping[str, str]:
    assert isinstance(sim, OkxSim)
    return {"passphrase": sim.passphrase}


COMMAND = SimCommand(
    name="okx",
    doc="Serve OKX v5 (spot + USDT swaps: REST, public/private WebSocket) offline on one port.",
    venue="OKX",
    port_help="the one port (REST, WebSocket, /_sim/)",
    build=_build,
    extra=_passphrase,
    options=(
        option("passphrase", Annotated[str | None, typer.Option(help="its passphrase [default: built-in]")], None),
        option(
            "environment",
            Annotated[str, typer.Option(help="any | live | demo: which x-simulated-trading header the key accepts")],
            "any",
        ),
        option(
            "no_book_snapshot",
            Annotated[
                bool, typer.Option("--no-book-snapshot", help="books channel without a snapshot (OKX's planned change)")
            ],
            False,
        ),
        option(
            "zero_checksum",
            Annotated[
                bool, typer.Option("--zero-checksum", help="books checksum always 0 (OKX production since 2026-06)")
            ],
            False,
        ),
    ),
    helps={
        "futures_balances": "swap margin, e.g. USDT=100000",
        "no_rate_limits": "count requests but never answer 50011",
    },
)


def register(app: typer.Typer) -> None:
    """Add the ``okx`` command to ``app`` (``exchanges.sim.cli.app``)."""
    add_command(app, COMMAND)
