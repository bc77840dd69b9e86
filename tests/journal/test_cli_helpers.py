"""strategy_client.journal.cli: what ``runner history`` and ``strategy history`` share."""

from __future__ import annotations

import pytest

from strategy_client.journal import HistoryFilter
from strategy_client.journal.cli import ledger_rows, when_ms, window_ms

from .conftest import Backend


def test_when_ms_reads_iso_text_as_utc_unless_a_zone_is_given() -> None:
    assert when_ms(None, "--since") is None
    assert when_ms("", "--since") is None
    assert when_ms("2026-12-07", "--since") == 1796601600000
    assert when_ms("2026-12-07T01:00+01:00", "--until") == 1796601600000
    assert window_ms("2026-12-07", None) == (1796601600000, None)


def test_bad_times_name_their_flag() -> None:
    with pytest.raises(ValueError, match="--until: 'yesterday' is not an ISO date/time"):
        window_ms("2026-12-07", "yesterday")


def test_ledger_rows_refuses_what_is_not_in_every_journal(backend: Backend) -> None:
    backend.open()
    j = backend.reader()
    with pytest.raises(ValueError, match="'pairs' is not one of orders, fills, funding"):
        ledger_rows(j, "pairs", HistoryFilter())
    assert ledger_rows(j, "orders", HistoryFilter()) == []
