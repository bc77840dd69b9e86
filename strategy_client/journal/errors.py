"""The journal's exception tree. Every error carries ``line``: one sentence for a log or a CLI.

::

    JournalError
    ├── JournalUnavailable    the journal cannot be opened or reached (PostgreSQL down, bad URL,
    │                         a data directory that cannot be created)
    ├── JournalCorrupt        the SQLite file is not a readable database
    ├── JournalLocked         another process holds the write lock past the busy timeout
    ├── JournalFull           the disk (or quota, or file-size limit) is full
    ├── JournalSchemaTooNew   the journal was written by a newer tradebus than this one
    ├── JournalWriteFailed    any other failed write (the transaction was rolled back)
    ├── DuplicateIntent       an intent for this client id is already journaled
    ├── InvalidRecord         a record the journal does not take (no client id, market data)
    ├── JournalBusy           append_nowait found the writer's queue full (use ``await append``)
    └── JournalClosed         the journal was closed, or its writer is not running

When :meth:`Journal.write_intent` raises any of these, the order's intent is **not** journaled
and the caller must not send the order.
"""

from __future__ import annotations

__all__ = [
    "JournalError",
    "JournalUnavailable",
    "JournalCorrupt",
    "JournalLocked",
    "JournalFull",
    "JournalSchemaTooNew",
    "JournalWriteFailed",
    "DuplicateIntent",
    "InvalidRecord",
    "JournalBusy",
    "JournalClosed",
]


class JournalError(Exception):
    """Base of every journal error; ``line`` is the one-line explanation."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class JournalUnavailable(JournalError):
    pass


class JournalCorrupt(JournalError):
    pass


class JournalLocked(JournalError):
    pass


class JournalFull(JournalError):
    pass


class JournalSchemaTooNew(JournalError):
    def __init__(self, line: str, *, found: str, known: str) -> None:
        super().__init__(line)
        self.found = found
        self.known = known


class JournalWriteFailed(JournalError):
    pass


class DuplicateIntent(JournalError):
    pass


class JournalClosed(JournalError):
    pass


class InvalidRecord(JournalError):
    pass


class JournalBusy(JournalError):
    pass
