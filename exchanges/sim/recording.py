"""Reading a recorder's Parquet files back as one venue's market timeline (for replay).

The layout and columns are the recorder's (``recorder/rows.py``, docs/market-data.md#schemas):
``<root>/venue=<exchange>/instrument=<market>.<SYMBOL>/channel=<channel>/date=<day>/*.parquet``,
decimals as strings. ``exchanges`` may not import the recorder (it is a client package), so the
layout is read here by the same names. :meth:`Recording.open` reads every ``book`` and
``funding`` file of one venue — and ``trades`` when the recording has them (the trades channel,
keyed by the recorder's columns ``price``, ``qty``, ``side``, ``venue_ts_ms``) — into rows sorted
by the venue's time. Anything wrong with the recording (no such path, no books of that venue, a
file that is not Parquet, a missing column, a value that is not a number) is one
:class:`RecordingError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from strategy_client.model import MarketKind

if TYPE_CHECKING:
    import pyarrow as pa

# fsspec and pyarrow (with numpy: ~0.2 s of CPU) are imported when a recording is opened, not
# with the simulator: every venue process imports this module, few replay

__all__ = ["BookRow", "FundingRow", "Recording", "RecordingError", "TradeRow", "Row"]

Levels = tuple[tuple[Decimal, Decimal], ...]
_RANK = {"funding": 0, "book": 1, "trades": 2}  # at one timestamp: funding, then books, then trades


class RecordingError(ValueError):
    """The recording cannot be replayed; the message names the path or file and why."""


@dataclass(frozen=True, slots=True)
class BookRow:
    ts_ms: int
    kind: MarketKind
    symbol: str
    bids: Levels
    asks: Levels


@dataclass(frozen=True, slots=True)
class FundingRow:
    ts_ms: int
    symbol: str
    rate: Decimal
    interval_ms: int
    next_ms: int
    mark: Decimal
    index: Decimal


@dataclass(frozen=True, slots=True)
class TradeRow:
    ts_ms: int
    kind: MarketKind
    symbol: str
    price: Decimal
    qty: Decimal
    buyer_is_maker: bool  # the taker sold


Row = BookRow | FundingRow | TradeRow


@dataclass(slots=True)
class Recording:
    """One venue's recorded rows, oldest first. ``start_ms``: the first time every recorded
    instrument has a book (the replay starts there, with the rows before it applied);
    ``end_ms``: the last row's time."""

    url: str
    venue: str
    rows: list[Row]
    start_ms: int
    end_ms: int
    instruments: list[tuple[MarketKind, str]]
    files: int
    channels: dict[str, int] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return sorted({symbol for _, symbol in self.instruments})

    @classmethod
    def open(cls, url: str, venue: str) -> Recording:
        import fsspec  # noqa: PLC0415 - fsspec and pyarrow load only to replay a recording

        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise RecordingError(f"cannot open the recording {url!r}: {exc}") from None
        root = root.rstrip("/")
        if not fs.isdir(root):
            raise RecordingError(f"no recording at {url!r} (not a directory)")
        files: dict[str, list[str]] = {}
        for channel in _RANK:
            files[channel] = sorted(fs.glob(f"{root}/venue={venue}/instrument=*/channel={channel}/date=*/*.parquet"))
        if not files["book"]:
            have = sorted(p.rsplit("venue=", 1)[-1] for p in fs.glob(f"{root}/venue=*"))
            where = f"venues recorded: {', '.join(have)}" if have else "no venue=* directories: is it a recording?"
            raise RecordingError(f"{url!r} holds no books of {venue} ({where})")
        rows: list[tuple[int, int, int, Row]] = []
        counts: dict[str, int] = {}
        for channel, paths in files.items():
            for path in paths:
                table = _read(fs, path)
                before = len(rows)
                rows.extend((r.ts_ms, _RANK[channel], len(rows), r) for r in _rows(channel, table, path))
                counts[channel] = counts.get(channel, 0) + len(rows) - before
        rows.sort(key=lambda t: t[:3])
        ordered = [r for *_, r in rows]
        first_book: dict[tuple[MarketKind, str], int] = {}
        for r in ordered:
            if isinstance(r, BookRow):
                first_book.setdefault((r.kind, r.symbol), r.ts_ms)
        return cls(
            url=url,
            venue=venue,
            rows=ordered,
            start_ms=max(first_book.values()),
            end_ms=ordered[-1].ts_ms,
            instruments=sorted(first_book, key=lambda k: (k[1], k[0].value)),
            files=sum(len(p) for p in files.values()),
            channels=counts,
        )


def _read(fs: Any, path: str) -> pa.Table:
    import pyarrow as pa  # noqa: PLC0415 - as above (with numpy: ~0.2 s of CPU per venue start)
    import pyarrow.parquet as pq  # noqa: PLC0415 - as above

    try:
        with fs.open(path, "rb") as fh:
            return pq.read_table(fh)
    except (pa.ArrowException, OSError) as exc:
        raise RecordingError(f"{path}: not a readable Parquet file ({exc})") from None


def _column(table: pa.Table, name: str, path: str, *fallbacks: str) -> list[Any]:
    for candidate in (name, *fallbacks):
        if candidate in table.column_names:
            values: list[Any] = table.column(candidate).to_pylist()
            return values
    raise RecordingError(f"{path}: no column {name!r} (columns: {', '.join(table.column_names)})")


def _dec(value: Any, path: str, what: str) -> Decimal:
    try:
        out = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise RecordingError(f"{path}: {what} {value!r} is not a number") from None
    if not out.is_finite():
        raise RecordingError(f"{path}: {what} {value!r} is not a finite number")
    return out


def _kind(value: Any, path: str) -> MarketKind:
    try:
        return MarketKind(value)
    except ValueError:
        raise RecordingError(f"{path}: market {value!r} is not one of spot, perp") from None


def _levels(px: Iterable[Any], qty: Iterable[Any], path: str) -> Levels:
    prices, sizes = list(px or ()), list(qty or ())
    if len(prices) != len(sizes):
        raise RecordingError(f"{path}: a book row has {len(prices)} prices but {len(sizes)} quantities")
    return tuple((_dec(p, path, "price"), _dec(q, path, "quantity")) for p, q in zip(prices, sizes, strict=True))


def _ts(primary: Any, fallback_ns: Any) -> int:
    if primary:
        return int(primary)
    return int(fallback_ns or 0) // 1_000_000


def _rows(channel: str, table: pa.Table, path: str) -> Iterable[Row]:
    if channel == "book":
        return _book_rows(table, path)
    if channel == "funding":
        return _funding_rows(table, path)
    return _trade_rows(table, path)


def _book_rows(table: pa.Table, path: str) -> Iterable[BookRow]:
    cols = [
        _column(table, name, path)
        for name in ("market", "symbol", "venue_ts_ms", "local_ts_ns", "bid_px", "bid_qty", "ask_px", "ask_qty")
    ]
    for market, symbol, venue_ts, local_ns, bid_px, bid_qty, ask_px, ask_qty in zip(*cols, strict=True):
        yield BookRow(
            ts_ms=_ts(venue_ts, local_ns),
            kind=_kind(market, path),
            symbol=str(symbol),
            bids=_levels(bid_px, bid_qty, path),
            asks=_levels(ask_px, ask_qty, path),
        )


def _funding_rows(table: pa.Table, path: str) -> Iterable[FundingRow]:
    names = ("symbol", "ts_ms", "sent_ns", "rate", "interval_ms", "next_funding_ts_ms", "mark_price", "index_price")
    cols = [_column(table, name, path) for name in names]
    for symbol, ts_ms, sent_ns, rate, interval, next_ms, mark, index in zip(*cols, strict=True):
        mark_d = _dec(mark, path, "mark_price")
        yield FundingRow(
            ts_ms=_ts(ts_ms, sent_ns),
            symbol=str(symbol),
            rate=_dec(rate, path, "rate"),
            interval_ms=int(interval or 0),
            next_ms=int(next_ms or 0),
            mark=mark_d,
            index=_dec(index, path, "index_price") if index not in (None, "") else mark_d,
        )


def _trade_rows(table: pa.Table, path: str) -> Iterable[TradeRow]:
    cols = [
        _column(table, "market", path),
        _column(table, "symbol", path),
        _column(table, "venue_ts_ms", path, "ts_ms"),
        _column(table, "local_ts_ns", path, "sent_ns"),
        _column(table, "price", path),
        _column(table, "qty", path),
        _column(table, "side", path),
    ]
    for market, symbol, ts_ms, local_ns, price, qty, side in zip(*cols, strict=True):
        taker = str(side).lower()
        if taker not in ("buy", "sell"):
            raise RecordingError(f"{path}: side {side!r} is not buy or sell")
        yield TradeRow(
            ts_ms=_ts(ts_ms, local_ns),
            kind=_kind(market, path),
            symbol=str(symbol),
            price=_dec(price, path, "price"),
            qty=_dec(qty, path, "qty"),
            buyer_is_maker=taker == "sell",
        )
