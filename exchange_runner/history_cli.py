"""``runner history``: a runner's journaled orders, fills and funding payments (docs/journal.md).

Reads the journal the runner wrote (same ``--data-dir``/``--journal``, stream
``runner:<exchange>:<name>``); never writes, except ``--vacuum`` (apply the retention setting
``TRADEBUS_JOURNAL_RETENTION_DAYS`` / ``--retention-days``, then return free space to the disk).
"""

from __future__ import annotations

from typing import Annotated

import typer

from strategy_client.journal import HistoryFilter, Journal, JournalError
from strategy_client.journal.cli import LEDGER, ledger_rows, render_rows, window_ms
from strategy_client.journal.cli import vacuum as vacuum_journal
from strategy_client.journal.cli_options import (
    CsvOpt,
    InstrumentOpt,
    JsonOpt,
    LimitOpt,
    RetentionDaysOpt,
    SinceOpt,
    UntilOpt,
    VacuumOpt,
)

__all__ = ["history"]


def history(
    what: Annotated[str, typer.Argument(help="orders | fills | funding")] = "orders",
    exchange: Annotated[str, typer.Option("--exchange", help="binance | bybit | okx")] = "binance",
    name: Annotated[
        str | None, typer.Option("--name", help="the runner's registration name (default: exchange)")
    ] = None,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="as given to the runner")] = None,
    journal: Annotated[str | None, typer.Option("--journal", help="as given to the runner (postgresql://…)")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    instrument: InstrumentOpt = "",
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    vacuum: VacuumOpt = False,
    retention_days: RetentionDaysOpt = None,
) -> None:
    """Show a runner's journaled orders, fills or funding payments."""
    if what not in LEDGER:
        raise typer.BadParameter(f"{what!r} is not one of {', '.join(LEDGER)}")
    try:
        since_ms, until_ms = window_ms(since, until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    stream = f"runner:{exchange}:{name or exchange}"
    try:
        j = Journal.open(journal, stream=stream, data_dir=data_dir)
    except JournalError as exc:
        typer.echo(f"runner history: error: {exc.line}", err=True)
        raise typer.Exit(2) from None
    try:
        if vacuum:
            typer.echo(vacuum_journal(j, retention_days))
            return
        f = HistoryFilter(since_ms=since_ms, until_ms=until_ms, key=instrument, stream=stream, limit=limit)
        typer.echo(render_rows(ledger_rows(j, what, f), as_json, as_csv))
    except JournalError as exc:
        typer.echo(f"runner history: error: {exc.line}", err=True)
        raise typer.Exit(2) from None
    finally:
        j.close()
