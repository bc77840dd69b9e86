"""What the ``history`` commands of the runner and of the strategies share (docs/journal.md).

No CLI framework here (strategy_client stays light): the commands turn :class:`ValueError`
into their own usage error and echo the strings these functions return.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .journal import Journal
from .records import HistoryFilter
from .render import to_csv, to_json, to_table

__all__ = ["LEDGER", "ledger_rows", "render_rows", "vacuum", "when_ms", "window_ms"]

LEDGER = ("orders", "fills", "funding")
"""The history every journal stream has: what the runner and a strategy both record."""


def when_ms(text: str | None, flag: str) -> int | None:
    """``--since``/``--until`` text as epoch ms (UTC unless a zone is given); ``None`` when empty.

    Raises :class:`ValueError` naming the flag when the text is not an ISO date/time."""
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag}: {text!r} is not an ISO date/time (2026-12-07 or 2026-12-07T01:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def window_ms(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    """``--since`` and ``--until`` as epoch ms (see :func:`when_ms`)."""
    return when_ms(since, "--since"), when_ms(until, "--until")


def ledger_rows(j: Journal, what: str, f: HistoryFilter) -> list[Any]:
    """The ``orders``, ``fills`` or ``funding`` rows of ``j`` that pass ``f``."""
    if what == "orders":
        return list(j.history_orders(f))
    if what == "fills":
        return list(j.history_fills(f))
    if what == "funding":
        return list(j.history_funding(f))
    raise ValueError(f"{what!r} is not one of {', '.join(LEDGER)}")


def render_rows(rows: list[Any], as_json: bool, as_csv: bool) -> str:
    """Rows as JSON, CSV or (the default) an aligned table."""
    return to_json(rows) if as_json else to_csv(rows) if as_csv else to_table(rows)


def vacuum(j: Journal, retention_days: float | None) -> str:
    """``--vacuum``: prune by the retention setting, return free space to the disk; the line to print."""
    pruned = j.apply_retention(retention_days)
    j.vacuum()
    return f"retention: {pruned if pruned is not None else 'none set (kept everything)'}; vacuumed {j.where}"
