"""Events as plain dicts: one flat row per item, ready for ``pandas.DataFrame(rows)``.

Every row has ``runner``, ``item`` (``event`` | ``gap`` | ``snapshot``), ``event`` (the event tag:
``book``, ``order``, ``position``, ``funding``, ``funding_payment``, ``account``, ``runner_status``),
``topic``, ``topic_kind`` (``ob``, ``exec``, ...), ``exchange``, ``key`` (text form), ``seq``,
``sent_ns``, ``recv_ns``; then the event's fields flattened with dots (``order.status``,
``fill.price``, ``book.bids``). Books also get ``bid``, ``bid_qty``, ``ask``, ``ask_qty``, ``mid``;
book levels stay lists of ``[price, qty]``. Instrument keys become their text form, enums their string values.

Decimals: ``decimals="keep"`` (the default) keeps :class:`~decimal.Decimal` — exact, and pandas
stores them as objects; ``"str"`` gives their plain text (no exponent); ``"float"`` gives floats
for plotting and statistics (inexact: never trade on them).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

import msgspec

from .events import EventItem, Gap, Received, Snapshot
from .model import InstrumentKey, to_plain
from .wire import BookEvent

__all__ = ["DecimalMode", "EventList", "to_record", "to_records"]

DecimalMode = Literal["keep", "str", "float"]


def _scalar(value: Any, decimals: DecimalMode) -> Any:
    if isinstance(value, Decimal):
        if decimals == "keep":
            return value
        return to_plain(value) if decimals == "str" else float(value)
    if isinstance(value, InstrumentKey):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _value(value: Any, decimals: DecimalMode) -> Any:
    if isinstance(value, tuple | list):
        return [_value(v, decimals) for v in value]
    if isinstance(value, msgspec.Struct) and not isinstance(value, InstrumentKey):
        fields = value.__struct_fields__
        if value.__struct_config__.array_like:
            return [_value(getattr(value, f), decimals) for f in fields]
        return {f: _value(getattr(value, f), decimals) for f in fields}
    if isinstance(value, dict):
        return {k: _value(v, decimals) for k, v in value.items()}
    return _scalar(value, decimals)


def _nested(value: Any) -> bool:
    return (
        isinstance(value, msgspec.Struct)
        and not isinstance(value, InstrumentKey)
        and not value.__struct_config__.array_like
    )


def _flatten(prefix: str, struct: msgspec.Struct, out: dict[str, Any], decimals: DecimalMode) -> None:
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if _nested(value):
            _flatten(f"{prefix}{name}.", value, out, decimals)
        else:
            out[f"{prefix}{name}"] = _value(value, decimals)


def to_record(item: EventItem, decimals: DecimalMode = "keep") -> dict[str, Any]:
    """One flat row for an event, a gap or a snapshot."""
    if isinstance(item, Received):
        ev = item.event
        row: dict[str, Any] = {
            "runner": item.runner,
            "item": "event",
            "event": ev.__struct_config__.tag,
            "topic": item.topic,
            "topic_kind": item.kind.value,
            "exchange": item.exchange.value,
            "key": str(item.key) if item.key is not None else None,
            "seq": item.seq,
            "sent_ns": item.sent_ns,
            "recv_ns": item.recv_ns,
        }
        if isinstance(ev, BookEvent):
            book = ev.book
            bb, ba = book.best_bid, book.best_ask
            row["bid"] = _scalar(bb.price, decimals) if bb else None
            row["bid_qty"] = _scalar(bb.qty, decimals) if bb else None
            row["ask"] = _scalar(ba.price, decimals) if ba else None
            row["ask_qty"] = _scalar(ba.qty, decimals) if ba else None
            row["mid"] = _scalar(book.mid, decimals) if book.mid is not None else None
        _flatten("", ev, row, decimals)
        return row
    if isinstance(item, Gap):
        row = {
            "runner": item.runner,
            "item": "gap",
            "event": None,
            "topic": item.topic,
            "topic_kind": item.kind.value,
            "exchange": item.exchange.value,
            "key": str(item.key) if item.key is not None else None,
            "seq": item.received,
            "expected": item.expected,
            "reason": item.reason,
            "lost": item.lost,
            "resynced": item.snapshot is not None and not item.error,
            "error": item.error,
            "recv_ns": item.ts_ns,
        }
        return row
    return _snapshot_record(item, decimals)


def _snapshot_record(item: Snapshot, decimals: DecimalMode) -> dict[str, Any]:
    return {
        "runner": item.runner,
        "item": "snapshot",
        "event": None,
        "exchange": item.exchange.value,
        "reason": item.reason,
        "books": None if item.books is None else len(item.books),
        "orders": None if item.orders is None else _value(item.orders, decimals),
        "positions": None if item.positions is None else _value(item.positions, decimals),
        "funding": None if item.funding is None else _value(item.funding, decimals),
        "account": None if item.account is None else _value(item.account, decimals),
        "error": item.error,
        "recv_ns": item.ts_ns,
    }


def to_records(items: Iterable[EventItem], decimals: DecimalMode = "keep") -> list[dict[str, Any]]:
    return [to_record(i, decimals) for i in items]


class EventList(list[EventItem]):
    """A list of received items with :meth:`records` for DataFrames and a few filters."""

    def records(self, decimals: DecimalMode = "keep") -> list[dict[str, Any]]:
        return to_records(self, decimals)

    def events(self) -> EventList:
        """Only the events (no gap or snapshot notices)."""
        return EventList(i for i in self if isinstance(i, Received))

    def of(self, event: str) -> EventList:
        """Only the events with tag ``event`` (``"book"``, ``"order"``, ``"position"``, ...)."""
        return EventList(i for i in self if isinstance(i, Received) and i.event.__struct_config__.tag == event)
