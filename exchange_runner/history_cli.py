"""``runner history``: a runner's journaled orders, fills and funding payments (docs/journal.md).

Reads the journal the runner wrote (same ``--data-dir``/``--journal``, stream
``runner:<exchange>:<name>``); never writes, except ``--vacuum`` (apply the retention setting
``TRADEBUS_JOURNAL_RETENTION_DAYS`` / ``--retention-days``, then return free space to the disk).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from strategy_client.journal import HistoryFilter, Journal, JournalError, to_csv, to_json, to_table

__all__ = ["history"]

_WHAT = ("orders", "fills", "funding")


def _ms(text: str | None, flag: str) -> int | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{flag}: {text!r} is not an ISO date/time (2026-12-07 or 2026-12-07T01:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def history(
    what: Annotated[str, typer.Argument(help="orders | fills | funding")] = "orders",
    exchange: Annotated[str, typer.Option("--exchange", help="binance | bybit | okx")] = "binance",
    name: Annotated[
        str | None, typer.Option("--name", help="the runner's registration name (default: exchange)")
    ] = None,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="as given to the runner")] = None,
    journal: Annotated[str | None, typer.Option("--journal", help="as given to the runner (postgresql://…)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO date/time, UTC unless given")] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO date/time, UTC unless given")] = None,
    instrument: Annotated[
        str, typer.Option("--instrument", help="binance:perp:BTCUSDT, or a bare symbol (any market)")
    ] = "",
    limit: Annotated[int | None, typer.Option("--limit", help="the latest N rows")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON rows")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV rows")] = False,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="prune by the retention setting, then return free space to the disk")
    ] = False,
    retention_days: Annotated[
        float | None,
        typer.Option(
            "--retention-days", help="with --vacuum: keep this many days (default $TRADEBUS_JOURNAL_RETENTION_DAYS)"
        ),
    ] = None,
) -> None:
    """Show a runner's journaled orders, fills or funding payments."""
    if what not in _WHAT:
        raise typer.BadParameter(f"{what!r} is not one of {', '.join(_WHAT)}")
    stream = f"runner:{exchange}:{name or exchange}"
    try:
        j = Journal.open(journal, stream=stream, data_dir=data_dir)
    except JournalError as exc:
        typer.echo(f"runner history: error: {exc.line}", err=True)
        raise typer.Exit(2) from None
    try:
        if vacuum:
            report = j.apply_retention(retention_days)
            j.vacuum()
            typer.echo(
                f"retention: {report if report is not None else 'none set (kept everything)'}; vacuumed {j.where}"
            )
            return
        f = HistoryFilter(
            since_ms=_ms(since, "--since"), until_ms=_ms(until, "--until"), key=instrument, stream=stream, limit=limit
        )
        rows: list[Any]
        if what == "orders":
            rows = list(j.history_orders(f))
        elif what == "fills":
            rows = list(j.history_fills(f))
        else:
            rows = list(j.history_funding(f))
        typer.echo(to_json(rows) if as_json else to_csv(rows) if as_csv else to_table(rows))
    except JournalError as exc:
        typer.echo(f"runner history: error: {exc.line}", err=True)
        raise typer.Exit(2) from None
    finally:
        j.close()
