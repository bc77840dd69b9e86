"""Reading the runners' and strategies' journals (history, strategies, PnL) for the API.

SQLite journals are one file per process under the data directory (``runner-…``,
``strategy-…``); a PostgreSQL journal holds every process in one schema, told apart by stream.
Every journal is opened read-only for the one query and closed again (a journal file that
appears later — a new strategy — is found on the next request).
"""

from __future__ import annotations

import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from strategy_client.journal import (
    DayPnlRow,
    DecisionRow,
    HistoryFilter,
    Journal,
    JournalError,
    PairState,
    journal_files,
    resolve_target,
)
from strategy_client.journal.lifecycle import InstanceRow, list_instances

from .models import PnlTerms, StrategyView

__all__ = ["JournalReader"]

ZERO = Decimal(0)


class JournalReader:
    def __init__(self, journal: str | None, data_dir: str | os.PathLike[str] | None) -> None:
        self.journal = journal
        self.data_dir = data_dir

    @property
    def shared(self) -> bool:
        """One PostgreSQL schema for every process (else one SQLite file each)."""
        return bool(self.journal) and resolve_target(self.journal, stream="x").dialect == "postgresql"

    def streams(self, role: str) -> list[tuple[str, str]]:
        """(stream, where) of every journal of ``role`` (``runner`` / ``strategy``)."""
        if self.shared:
            try:
                j = Journal.open(self.journal, stream=f"{role}:*")
            except JournalError:
                return []
            try:
                return [(s, j.where) for s in j.streams() if s.startswith(role + ":")]
            finally:
                j.close()
        out: list[tuple[str, str]] = []
        for path in journal_files(self.data_dir):
            if not path.name.startswith(role + "-"):
                continue
            out.extend((s, str(path)) for s in _sqlite_streams(path) if s.startswith(role + ":"))
        return out

    def _open(self, stream: str, where: str) -> Journal:
        return Journal.open(self.journal if self.shared else where, stream=stream)

    def rows(self, role: str, what: str, f: HistoryFilter, name: str | None = None) -> list[Any]:
        """History rows (``orders``/``fills``/``funding``) of every journal of ``role`` (or the one
        whose stream ends in ``name``), newest last."""
        out: list[Any] = []
        for stream, where in self.streams(role):
            if name and not (stream == f"{role}:{name}" or stream.endswith(":" + name)):
                continue
            j = self._open(stream, where)
            try:
                out.extend(getattr(j, f"history_{what}")(msgspec.structs.replace(f, stream=stream)))
            finally:
                j.close()
        out.sort(key=lambda r: getattr(r, "ts_ms", 0))
        return out[-f.limit :] if f.limit else out

    def strategies(self) -> list[StrategyView]:
        """Every strategy journal's pairs and PnL, with its lifecycle state when it has one
        (:func:`strategy_client.journal.lifecycle.list_instances`, the one read for other tools)."""
        instances = {r.stream: r for r in list_instances(self.journal if self.shared else None, self.data_dir)}
        views = []
        for stream, where in self.streams("strategy"):
            j = self._open(stream, where)
            try:
                views.append(_strategy_view(j, stream, where, instances.get(stream)))
            finally:
                j.close()
        return views

    def find_strategy(self, name: str) -> tuple[str, str] | None:
        for stream, where in self.streams("strategy"):
            if stream == f"strategy:{name}":
                return stream, where
        return None

    def pairs(self, name: str, include_closed: bool) -> list[PairState] | None:
        found = self.find_strategy(name)
        if found is None:
            return None
        j = self._open(*found)
        try:
            return [p for p in j.pairs(include_closed=include_closed)]
        finally:
            j.close()

    def decisions(self, name: str, f: HistoryFilter) -> list[DecisionRow] | None:
        """The strategy's decisions with the edge terms each was made on (newest last)."""
        found = self.find_strategy(name)
        if found is None:
            return None
        j = self._open(*found)
        try:
            return j.decisions(msgspec.structs.replace(f, stream=found[0]))
        finally:
            j.close()

    def pnl_by_day(self, name: str) -> list[DayPnlRow] | None:
        found = self.find_strategy(name)
        if found is None:
            return None
        j = self._open(*found)
        try:
            return j.pnl_by_day(HistoryFilter(stream=found[0]))
        finally:
            j.close()


def _sqlite_streams(path: Path) -> list[str]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return []
    try:
        return [str(r[0]) for r in conn.execute("SELECT DISTINCT stream FROM runs")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def _strategy_view(j: Journal, stream: str, where: str, instance: InstanceRow | None) -> StrategyView:
    pairs = j.pairs(include_closed=True)
    terms = {"basis": ZERO, "funding": ZERO, "fees": ZERO, "slippage": ZERO, "total": ZERO}
    accrued = ZERO
    for p in pairs:
        r = p.realized
        terms["basis"] += r.basis
        terms["funding"] += r.funding
        terms["fees"] += r.fees
        terms["slippage"] += r.slippage
        terms["total"] += r.total
        if not p.closed:
            accrued += p.funding_accrued
    runs = j.runs(HistoryFilter(stream=stream))
    return StrategyView(
        name=stream.split(":", 1)[1],
        stream=stream,
        journal=where,
        lifecycle=None if instance is None else instance.state.value,
        lifecycle_since_ms=None if instance is None else instance.since_ms,
        lifecycle_reason="" if instance is None else instance.reason,
        mode=None if instance is None else instance.mode,
        alive=None if instance is None else instance.alive,
        strategies=tuple(sorted({p.strategy for p in pairs})),
        open_pairs=sum(1 for p in pairs if not p.closed),
        closed_pairs=sum(1 for p in pairs if p.closed),
        realized=PnlTerms(funding_accrued=accrued, **terms),
        last_run_started_ms=runs[-1].started_ms if runs else None,
        last_run_stopped_ms=runs[-1].stopped_ms if runs else None,
    )
