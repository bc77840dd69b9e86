"""The journal: every order intent, venue answer, fill, funding payment, position and balance
snapshot, strategy pair state and decision, written down — SQLite (WAL) under the data directory
by default, or PostgreSQL. See docs/journal.md.

::

    from strategy_client.journal import Journal, ProcessInfo, EventRecord

    journal = Journal.open(args.journal, process=ProcessInfo(role="runner", name="binance:main"),
                           data_dir=args.data_dir)
    async with journal.running():
        journal.write_intent(request)                       # before the order leaves
        await journal.append(EventRecord(event=ev, seq=seq, topic=topic), on_commit=publish)
    journal.close()

Importing this package brings in neither SQLAlchemy, alembic nor psycopg: alembic runs only to
create or upgrade a journal, psycopg only for a ``postgresql://`` journal.
"""

from __future__ import annotations

from .errors import (
    DuplicateIntent,
    InvalidRecord,
    JournalBusy,
    JournalClosed,
    JournalCorrupt,
    JournalError,
    JournalFull,
    JournalLocked,
    JournalSchemaTooNew,
    JournalUnavailable,
    JournalWriteFailed,
)
from .journal import DEFAULT_MAX_BATCH, DEFAULT_QUEUE_CAPACITY, RETENTION_ENV, Journal, RestartState
from .migrate import HEAD, KNOWN_REVISIONS
from .paths import (
    DATA_DIR_ENV,
    JournalTarget,
    default_data_dir,
    journal_file,
    journal_files,
    resolve_data_dir,
    resolve_target,
)
from .records import (
    BalanceRow,
    BalanceSnapshot,
    DayPnlRow,
    Decision,
    DecisionRow,
    EventRecord,
    FillRecord,
    FillRow,
    FundingRecord,
    FundingRow,
    HistoryFilter,
    JournaledEvent,
    JournalRecord,
    JournalStats,
    OrderIntent,
    OrderRecord,
    OrderRow,
    PairPnlRow,
    PairState,
    PnlComponents,
    PositionSnapshot,
    ProcessInfo,
    PruneReport,
    Run,
)
from .render import to_csv, to_json, to_table
from .store import StoreOptions

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_QUEUE_CAPACITY",
    "HEAD",
    "KNOWN_REVISIONS",
    "RETENTION_ENV",
    "BalanceRow",
    "BalanceSnapshot",
    "DayPnlRow",
    "Decision",
    "DecisionRow",
    "DuplicateIntent",
    "EventRecord",
    "FillRecord",
    "FillRow",
    "FundingRecord",
    "FundingRow",
    "HistoryFilter",
    "InvalidRecord",
    "Journal",
    "JournalBusy",
    "JournalClosed",
    "JournalCorrupt",
    "JournalError",
    "JournalFull",
    "JournalLocked",
    "JournalRecord",
    "JournalSchemaTooNew",
    "JournalStats",
    "JournalTarget",
    "JournalUnavailable",
    "JournalWriteFailed",
    "JournaledEvent",
    "OrderIntent",
    "OrderRecord",
    "OrderRow",
    "PairPnlRow",
    "PairState",
    "PnlComponents",
    "PositionSnapshot",
    "ProcessInfo",
    "PruneReport",
    "RestartState",
    "Run",
    "StoreOptions",
    "default_data_dir",
    "journal_file",
    "journal_files",
    "resolve_data_dir",
    "resolve_target",
    "to_csv",
    "to_json",
    "to_table",
]
