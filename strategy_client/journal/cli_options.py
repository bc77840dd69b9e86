"""The typer options every ``history`` command takes (``runner history``, ``strategy history``).

Kept apart from :mod:`strategy_client.journal.cli` so that only the commands import typer.
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["SinceOpt", "UntilOpt", "InstrumentOpt", "LimitOpt", "JsonOpt", "CsvOpt", "VacuumOpt", "RetentionDaysOpt"]

SinceOpt = Annotated[str | None, typer.Option("--since", help="ISO date/time, UTC unless given")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="ISO date/time, UTC unless given")]
InstrumentOpt = Annotated[str, typer.Option("--instrument", help="binance:perp:BTCUSDT, or a bare symbol (any market)")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="the latest N rows")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON rows")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV rows")]
VacuumOpt = Annotated[
    bool, typer.Option("--vacuum", help="prune by the retention setting, then return free space to the disk")
]
RetentionDaysOpt = Annotated[
    float | None,
    typer.Option(
        "--retention-days", help="with --vacuum: keep this many days (default $TRADEBUS_JOURNAL_RETENTION_DAYS)"
    ),
]
