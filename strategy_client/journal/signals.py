"""Signal ↔ order links in a strategy's journal (``signal_orders``): which order each signal
placed (its entry, its stop-loss or take-profit close) or why it placed none.

One row per (signal id, role), unique: recording a link is the idempotency gate of the signal
chain — a redelivered signal finds its row and places nothing (``strategy signals``,
docs/bus.md "Signals").
"""

from __future__ import annotations

import time
from decimal import Decimal

import msgspec

from .journal import Journal

__all__ = ["SignalLink", "SignalLinkStore"]


class SignalLink(msgspec.Struct, frozen=True, kw_only=True):
    signal_id: str
    role: str  # entry | stop_loss | take_profit | rejected
    client_id: str  # "" for a rejected signal
    ts_ms: int = 0
    key: str = ""
    side: str = ""
    qty: Decimal = Decimal(0)
    status: str = ""  # submitting | new | partially_filled | filled | canceled | rejected | expired | …
    detail: str = ""
    signal: str = ""  # the signal as received (JSON): a restarted process follows its orders with it


_COLS = "signal_id, role, client_id, ts_ms, key, side, qty, status, detail, signal"


def _link(r: tuple[object, ...]) -> SignalLink:
    return SignalLink(
        signal_id=str(r[0]),
        role=str(r[1]),
        client_id=str(r[2]),
        ts_ms=int(str(r[3])),
        key=str(r[4]),
        side=str(r[5]),
        qty=Decimal(str(r[6])),
        status=str(r[7]),
        detail=str(r[8]),
        signal=str(r[9]),
    )


class SignalLinkStore:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._store = journal._store  # the journal package's own store (same package)
        self.stream = journal.stream

    def record(self, link: SignalLink) -> bool:
        """Insert the link; False when the (signal, role) already has one (nothing written)."""
        counts = self._store.maintenance(
            [
                (
                    f"INSERT INTO signal_orders (stream, {_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (stream, signal_id, role) DO NOTHING",
                    (
                        self.stream,
                        link.signal_id,
                        link.role,
                        link.client_id,
                        link.ts_ms or time.time_ns() // 1_000_000,
                        link.key,
                        link.side,
                        str(link.qty),
                        link.status,
                        link.detail,
                        link.signal,
                    ),
                )
            ],
            "the signal's order link was not journaled; the order is not sent",
        )
        return counts[0] == 1

    def update(self, signal_id: str, role: str, status: str, detail: str = "") -> None:
        self._store.maintenance(
            [
                (
                    "UPDATE signal_orders SET status = ?, detail = ? WHERE stream = ? AND signal_id = ? AND role = ?",
                    (status, detail, self.stream, signal_id, role),
                )
            ],
            "the signal's order state was not journaled",
        )

    def links(self, signal_id: str | None = None) -> list[SignalLink]:
        where, params = "WHERE stream = ?", [self.stream]
        if signal_id is not None:
            where += " AND signal_id = ?"
            params.append(signal_id)
        rows = self._store.query(f"SELECT {_COLS} FROM signal_orders {where} ORDER BY id", params)
        return [_link(r) for r in rows]

    def seen(self, signal_id: str) -> SignalLink | None:
        """The first link of ``signal_id`` (its entry, or its rejection), if it was taken before."""
        found = self.links(signal_id)
        return found[0] if found else None
