"""The recorder's server option: trades and bars into PostgreSQL (docs/market-data.md#timeseries).

``record --timeseries postgresql://host/db[?schema=NAME]`` writes every recorded trade and
closed bar into two time-indexed tables as well as to Parquet:

* ``md_trades``: one row per venue trade — primary key (exchange, market, symbol, trade_id), so
  a trade recorded twice (a restarted recorder, two recorders, a buffer written again after a
  failure) is one row (``ON CONFLICT DO NOTHING``).
* ``md_bars``: one row per closed bar — primary key (exchange, market, symbol, interval_s,
  start_ts, source); a bar written again replaces its values (``ON CONFLICT DO UPDATE``).

Both have a ``(exchange, market, symbol, ts)`` index for time-range reads; prices and sizes are
``numeric`` (exact, from the events' Decimal text). The tables are created at open
(``CREATE … IF NOT EXISTS``) and the layout's version kept in ``md_schema``: a database written by
a newer recorder is refused with one line. Writes run in the recorder's writer thread, one
transaction per buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from .rows import BARS, SCHEMAS, TRADES, Row

__all__ = ["SCHEMA_VERSION", "TIMESERIES_CHANNELS", "TimeseriesError", "TimeseriesSink", "split_schema"]

SCHEMA_VERSION = 1
TIMESERIES_CHANNELS = frozenset({TRADES, BARS})

_TABLES = """
CREATE TABLE IF NOT EXISTS {schema}.md_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.md_trades (
    exchange text NOT NULL, market text NOT NULL, symbol text NOT NULL, trade_id text NOT NULL,
    ts timestamptz NOT NULL, price numeric NOT NULL, qty numeric NOT NULL, side text NOT NULL,
    trades integer NOT NULL, runner text NOT NULL, recv_ns bigint NOT NULL,
    PRIMARY KEY (exchange, market, symbol, trade_id)
);
CREATE INDEX IF NOT EXISTS md_trades_time ON {schema}.md_trades (exchange, market, symbol, ts);
CREATE TABLE IF NOT EXISTS {schema}.md_bars (
    exchange text NOT NULL, market text NOT NULL, symbol text NOT NULL, interval_s integer NOT NULL,
    start_ts timestamptz NOT NULL, source text NOT NULL, open numeric NOT NULL, high numeric NOT NULL,
    low numeric NOT NULL, close numeric NOT NULL, volume numeric NOT NULL, quote_volume numeric NOT NULL,
    vwap numeric, trades integer NOT NULL, runner text NOT NULL, recv_ns bigint NOT NULL,
    PRIMARY KEY (exchange, market, symbol, interval_s, start_ts, source)
);
CREATE INDEX IF NOT EXISTS md_bars_time ON {schema}.md_bars (exchange, market, symbol, start_ts);
"""

_INSERT_TRADE = """
INSERT INTO {schema}.md_trades (exchange, market, symbol, trade_id, ts, price, qty, side, trades, runner, recv_ns)
VALUES (%s, %s, %s, %s, to_timestamp(%s / 1000.0), %s::numeric, %s::numeric, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""

_UPSERT_BAR = """
INSERT INTO {schema}.md_bars (exchange, market, symbol, interval_s, start_ts, source, open, high, low, close,
                              volume, quote_volume, vwap, trades, runner, recv_ns)
VALUES (%s, %s, %s, %s, to_timestamp(%s / 1000.0), %s, %s::numeric, %s::numeric, %s::numeric, %s::numeric,
        %s::numeric, %s::numeric, %s::numeric, %s, %s, %s)
ON CONFLICT (exchange, market, symbol, interval_s, start_ts, source) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, quote_volume = EXCLUDED.quote_volume, vwap = EXCLUDED.vwap,
    trades = EXCLUDED.trades, runner = EXCLUDED.runner, recv_ns = EXCLUDED.recv_ns
"""

_TRADE_COLS = [f.name for f in SCHEMAS[TRADES]]
_BAR_COLS = [f.name for f in SCHEMAS[BARS]]


class TimeseriesError(Exception):
    """The database cannot be used (unreachable, refused, a newer layout): one line says why."""


def split_schema(url: str) -> tuple[str, str]:
    """``postgresql://…?schema=NAME`` → (the URL without it, NAME or ``public``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "public") or "public"
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def _one_line(exc: BaseException) -> str:
    """psycopg's messages span lines (a hint under the error): one line for a log or a CLI error."""
    return " ".join(str(exc).split())


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def _trade(row: Row) -> tuple[object, ...]:
    r = dict(zip(_TRADE_COLS, row, strict=True))
    ts_ms = r["venue_ts_ms"] or int(r["local_ts_ns"]) // 1_000_000
    return (
        r["exchange"],
        r["market"],
        r["symbol"],
        r["trade_id"],
        ts_ms,
        r["price"],
        r["qty"],
        r["side"],
        r["count"],
        r["runner"],
        r["recv_ns"],
    )


def _bar(row: Row) -> tuple[object, ...]:
    r = dict(zip(_BAR_COLS, row, strict=True))
    return (
        r["exchange"],
        r["market"],
        r["symbol"],
        r["interval_s"],
        r["start_ms"],
        r["source"],
        r["open"],
        r["high"],
        r["low"],
        r["close"],
        r["volume"],
        r["quote_volume"],
        r["vwap"],
        r["trades"],
        r["runner"],
        r["recv_ns"],
    )


class TimeseriesSink:
    """Trades and bars into PostgreSQL; one connection, used from the recorder's writer thread."""

    def __init__(self, url: str, *, connect_timeout_s: float = 5.0) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise TimeseriesError(f"--timeseries takes a postgresql:// URL, not {_redacted(url)!r}")
        self.url, self.schema = split_schema(url)
        self.where = _redacted(url)
        self._timeout = connect_timeout_s
        self._conn: psycopg.Connection | None = None
        self.rows = 0  # rows sent (a row already there counts too: the upsert is idempotent)
        self.errors = 0

    def open(self) -> None:
        """Connect, create the tables if needed, check the layout's version."""
        conn = self._connect()
        ident = sql.Identifier(self.schema)
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
                for stmt in _TABLES.split(";"):
                    if stmt.strip():
                        conn.execute(sql.SQL(stmt).format(schema=ident))
                got = conn.execute(sql.SQL("SELECT max(version) FROM {}.md_schema").format(ident)).fetchone()
                version = got[0] if got is not None else None
                if version is None:
                    conn.execute(sql.SQL("INSERT INTO {}.md_schema VALUES (%s)").format(ident), (SCHEMA_VERSION,))
                elif version > SCHEMA_VERSION:
                    raise TimeseriesError(
                        f"the timeseries tables in {self.where} (schema {self.schema}) have layout {version}, "
                        f"newer than this recorder's {SCHEMA_VERSION}: upgrade tradebus"
                    )
        except psycopg.Error as exc:
            self.close()
            raise TimeseriesError(f"cannot create the timeseries tables in {self.where}: {_one_line(exc)}") from None

    def _connect(self) -> psycopg.Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            self._conn = psycopg.connect(self.url, connect_timeout=max(1, int(self._timeout)), autocommit=True)
        except psycopg.Error as exc:
            raise TimeseriesError(f"cannot reach the timeseries database {self.where}: {_one_line(exc)}") from None
        return self._conn

    def write(self, channel: str, rows: Sequence[Row]) -> int:
        """Upsert one buffer's rows in one transaction; raises :class:`TimeseriesError` (nothing
        of the buffer written) — the caller retries it."""
        if channel not in TIMESERIES_CHANNELS or not rows:
            return 0
        stmt, convert = (_INSERT_TRADE, _trade) if channel == TRADES else (_UPSERT_BAR, _bar)
        query = sql.SQL(stmt).format(schema=sql.Identifier(self.schema))
        try:
            conn = self._connect()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(query, [convert(r) for r in rows])
        except psycopg.Error as exc:
            self.errors += 1
            self.close()  # the next write reconnects
            raise TimeseriesError(f"cannot write {channel} to {self.where}: {_one_line(exc)}") from None
        self.rows += len(rows)
        return len(rows)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
