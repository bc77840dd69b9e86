"""Rendering history rows for people and programs: an aligned text table, JSON, CSV.

Rows are msgspec Structs; decimals render as exact strings, never floats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import msgspec

__all__ = ["to_dicts", "to_json", "to_csv", "to_table"]

_JSON = msgspec.json.Encoder(decimal_format="string")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def to_dicts(rows: Sequence[msgspec.Struct]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(r, builtin_types=(bytes,)) for r in rows]


def to_json(rows: Sequence[msgspec.Struct]) -> str:
    """A JSON array of objects (decimals as strings)."""
    return _JSON.encode(list(rows)).decode()


def to_csv(rows: Sequence[msgspec.Struct], columns: Sequence[str] | None = None) -> str:
    """CSV with a header row; nested values (decision terms) as ``name=value`` pairs."""
    dicts = to_dicts(rows)
    cols = list(columns) if columns else (list(dicts[0]) if dicts else _fields(rows))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    for d in dicts:
        writer.writerow([_cell(d.get(c)) for c in cols])
    return out.getvalue()


def to_table(rows: Sequence[msgspec.Struct], columns: Sequence[str] | None = None) -> str:
    """An aligned plain-text table; numbers right-aligned."""
    dicts = to_dicts(rows)
    cols = list(columns) if columns else (list(dicts[0]) if dicts else _fields(rows))
    cells = [[_cell(d.get(c)) for c in cols] for d in dicts]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(cols)]
    numeric = [bool(cells) and all(_numeric(r[i]) for r in cells) for i in range(len(cols))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ).rstrip()

    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in cells)]) + "\n"


def _numeric(text: str) -> bool:
    if not text:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fields(rows: Sequence[msgspec.Struct]) -> list[str]:
    return list(type(rows[0]).__struct_fields__) if rows else []
