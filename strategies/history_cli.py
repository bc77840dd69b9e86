"""``strategy history`` and ``strategy report``: what a strategy's journal holds (docs/strategies.md).

Both read the journal a strategy run wrote (same ``--data-dir``/``--journal``; stream
``strategy:<name>``, ``strategy:<name>-paper`` with ``--paper``) and never write, except
``history --vacuum`` (the retention setting, then free space returned to the disk).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import typer

from strategy_client.journal import (
    HistoryFilter,
    Journal,
    JournalError,
    PairPnlRow,
    Run,
    to_table,
)
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

__all__ = ["history", "report", "RunReport", "run_report"]

_WHAT = (*LEDGER, "pairs", "days", "decisions", "runs")
ZERO = Decimal(0)

StrategyOpt = Annotated[str, typer.Option("--strategy", help="spotperp | perpperp")]
PaperOpt = Annotated[bool, typer.Option("--paper", help="the journal of the --paper runs")]
DataDirOpt = Annotated[str | None, typer.Option("--data-dir", help="as given to the strategy")]
JournalOpt = Annotated[str | None, typer.Option("--journal", help="as given to the strategy (postgresql://…)")]


def _stream(strategy: str, paper: bool) -> str:
    from .runtime import journal_name

    return f"strategy:{journal_name(strategy, paper)}"


def _open(journal: str | None, stream: str, data_dir: str | None, cmd: str) -> Journal:
    try:
        return Journal.open(journal, stream=stream, data_dir=data_dir)
    except JournalError as exc:
        typer.echo(f"strategy {cmd}: error: {exc.line}", err=True)
        raise typer.Exit(2) from None


def history(
    what: Annotated[str, typer.Argument(help=" | ".join(_WHAT))] = "pairs",
    strategy: StrategyOpt = "spotperp",
    paper: PaperOpt = False,
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    instrument: InstrumentOpt = "",
    pair: Annotated[str, typer.Option("--pair", help="one pair id")] = "",
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    vacuum: VacuumOpt = False,
    retention_days: RetentionDaysOpt = None,
) -> None:
    """A strategy's journaled orders, fills, funding, PnL by pair (pairs) or by UTC day (days), decisions, runs."""
    if what not in _WHAT:
        raise typer.BadParameter(f"{what!r} is not one of {', '.join(_WHAT)}")
    try:
        since_ms, until_ms = window_ms(since, until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    stream = _stream(strategy, paper)
    j = _open(journal, stream, data_dir, "history")
    try:
        if vacuum:
            typer.echo(vacuum_journal(j, retention_days))
            return
        f = HistoryFilter(
            since_ms=since_ms,
            until_ms=until_ms,
            key=instrument,
            strategy=strategy if what in ("pairs", "days", "decisions") else "",
            stream=stream,
            pair_id=pair,
            limit=limit,
        )
        rows: list[Any]
        if what in LEDGER:
            rows = ledger_rows(j, what, f)
        elif what == "pairs":
            rows = list(j.pnl_by_pair(f))
        elif what == "days":
            rows = list(j.pnl_by_day(f, source="pairs"))
        elif what == "decisions":
            rows = list(j.decisions(f))
        else:
            rows = list(j.runs(msgspec.structs.replace(f, key="")))
        typer.echo(render_rows(rows, as_json, as_csv))
    except JournalError as exc:
        typer.echo(f"strategy history: error: {exc.line}", err=True)
        raise typer.Exit(2) from None
    finally:
        j.close()


class RunReport(msgspec.Struct, frozen=True, kw_only=True):
    """A run's report rebuilt from the journal: its pairs (realised PnL by component), totals,
    fills, funding payments and decisions within the run's time."""

    run: Run
    pairs: list[PairPnlRow]
    totals: dict[str, Decimal]
    fills: int
    funding_payments: int
    decisions: int
    orders: int


def run_report(j: Journal, stream: str, strategy: str, run_id: str | None) -> RunReport:
    runs = j.runs(HistoryFilter(stream=stream))
    if not runs:
        raise LookupError(f"no runs of {stream} in {j.where}")
    run = runs[-1] if not run_id else next((r for r in runs if r.run_id.startswith(run_id)), None)
    if run is None:
        raise LookupError(f"no run {run_id!r} of {stream} in {j.where} (strategy history runs lists them)")
    f = HistoryFilter(since_ms=run.started_ms, until_ms=run.stopped_ms, stream=stream)
    pairs = [p for p in j.pnl_by_pair(HistoryFilter(stream=stream, strategy=strategy)) if _overlaps(p, run)]
    totals = {
        name: sum((getattr(p, name) for p in pairs), ZERO) for name in ("basis", "funding", "fees", "slippage", "total")
    }
    return RunReport(
        run=run,
        pairs=pairs,
        totals=totals,
        fills=len(j.history_fills(f)),
        funding_payments=len(j.history_funding(f)),
        decisions=len(j.decisions(msgspec.structs.replace(f, strategy=strategy))),
        orders=len(j.history_orders(f)),
    )


def _overlaps(p: PairPnlRow, run: Run) -> bool:
    end = run.stopped_ms if run.stopped_ms is not None else 2**62
    return p.last_ms >= run.started_ms and p.opened_ms <= end


def report(
    run: Annotated[str | None, typer.Option("--run", help="a run id (or its prefix); default the latest run")] = None,
    strategy: StrategyOpt = "spotperp",
    paper: PaperOpt = False,
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
) -> None:
    """The end-of-run report of any past (or running) strategy run, rebuilt from its journal."""
    stream = _stream(strategy, paper)
    j = _open(journal, stream, data_dir, "report")
    try:
        try:
            r = run_report(j, stream, strategy, run)
        except LookupError as exc:
            typer.echo(f"strategy report: error: {exc}", err=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(msgspec.json.Encoder(decimal_format="string").encode(r).decode())
            return
        end = "running (or killed)" if r.run.stopped_ms is None else f"{_iso(r.run.stopped_ms)} ({r.run.stop_reason})"
        typer.echo(f"run {r.run.run_id} of {stream} (pid {r.run.pid}): {_iso(r.run.started_ms)} → {end}")
        typer.echo(f"{r.orders} orders, {r.fills} fills, {r.funding_payments} funding, {r.decisions} decisions")
        typer.echo(to_table(r.pairs) if r.pairs else "no pairs")
        t = r.totals
        typer.echo(
            f"realised PnL = basis {t['basis']} + funding {t['funding']} − fees {t['fees']} − slippage "
            f"{t['slippage']} = {t['total']}"
        )
    except JournalError as exc:
        typer.echo(f"strategy report: error: {exc.line}", err=True)
        raise typer.Exit(2) from None
    finally:
        j.close()


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
