"""The recorder: runner market data → Parquet (docs/market-data.md#recording).

One merged ``strategy_client`` subscription (books and funding of every selected runner, also
runners that register later) feeds per-partition buffers; a buffer is sealed when it holds
``flush_rows`` rows or is ``flush_seconds`` old, and a writer task writes each sealed buffer as one
complete Parquet file (in a worker thread), renamed into place when it is whole.

Bounds and the overflow policy: at most ``max_buffer_rows`` rows wait in open buffers (beyond it
the largest buffer is sealed early) and at most ``max_sealed`` sealed buffers wait for the writer.
When the writer is that far behind, the recorder stops reading; the subscription's own bounded
queue (``queue_size``) then drops the oldest book/funding events (counted), and whatever is lost
shows as a hole in the topic's sequence numbers, which is recorded in the ``gaps`` channel. So a
recording is never silently incomplete: every missing event is inside a recorded gap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TextIO

import msgspec

from strategy_client import EventItem, Received, Subscription, ZmqRouter
from strategy_client.discovery import DEFAULT_REDIS_URL
from strategy_client.model import InstrumentKey
from strategy_client.wire import BarEvent, BookEvent, FundingEvent, TickerEvent, TopicKind, TradeEvent

from .rows import (
    BARS,
    BOOK,
    FUNDING,
    GAPS,
    SCHEMAS,
    TICKERS,
    TRADES,
    Part,
    Row,
    bar_row,
    book_row,
    day_of,
    funding_row,
    gap_row,
    instrument_dir,
    ticker_row,
    trade_row,
)
from .store import ParquetStore
from .timeseries import TIMESERIES_CHANNELS, TimeseriesError, TimeseriesSink

__all__ = ["Recorder", "RecorderConfig", "RecorderStats"]

log = logging.getLogger("recorder")

_CHANNEL = {
    TopicKind.BOOK: BOOK,
    TopicKind.FUNDING: FUNDING,
    TopicKind.TRADE: TRADES,
    TopicKind.TICKER: TICKERS,
    TopicKind.BAR: BARS,
}
_PUMP_BATCH = 256  # items taken before the writer and the ticker get a turn
_RETRY_S = 1.0


class RecorderConfig(msgspec.Struct, kw_only=True):
    out: str  # an fsspec URL or a local path
    redis_url: str | None = None  # runner discovery (default: $REDIS_URL, else the local default)
    runners: tuple[str, ...] = ()  # empty: every runner, including those that register later
    flush_rows: int = 100_000  # rows per file (and per row group)
    flush_seconds: float = 60.0  # a buffer older than this is written even if smaller
    max_buffer_rows: int = 1_000_000  # rows in open buffers, all partitions together
    max_sealed: int = 8  # sealed buffers waiting for the writer before the recorder stops reading
    queue_size: int = 100_000  # the subscription's queue (its overflow: oldest book/funding dropped)
    compression: str = "zstd"
    timeseries: str | None = None  # postgresql://… : trades and bars into PostgreSQL too (timeseries.py)
    max_timeseries_pending: int = 64  # written buffers waiting for PostgreSQL (beyond it: the oldest dropped)
    status_every_s: float = 10.0  # a progress line this often: redrawn on a terminal, logged otherwise (0: none)


@dataclass
class RecorderStats:
    rows: int = 0  # rows written to complete files
    files: int = 0
    bytes: int = 0
    gaps: int = 0  # holes and resets recorded
    lost: int = 0  # events inside recorded holes
    skipped: int = 0  # events of the subscribed topics that are not recorded (funding payments)
    write_errors: int = 0
    temp_removed: int = 0  # temporary files of a crashed run deleted at start
    timeseries_rows: int = 0  # trades and bars upserted into PostgreSQL
    timeseries_errors: int = 0  # failed PostgreSQL writes (each buffer retried)
    timeseries_dropped: int = 0  # rows not sent to PostgreSQL: its backlog was full (they are in Parquet)
    by_channel: dict[str, int] = field(default_factory=dict)


class _Buffer:
    __slots__ = ("part", "day", "rows", "opened", "first_ns")

    def __init__(self, part: Part, day: str, first_ns: int) -> None:
        self.part = part
        self.day = day
        self.rows: list[Row] = []
        self.opened = time.monotonic()
        self.first_ns = first_ns


class Recorder:
    def __init__(self, config: RecorderConfig) -> None:
        if config.flush_rows < 1 or config.flush_seconds <= 0 or config.max_buffer_rows < config.flush_rows:
            raise ValueError("flush_rows ≥ 1, flush_seconds > 0 and max_buffer_rows ≥ flush_rows")
        self.config = config
        self.redis_url = config.redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        self.store = ParquetStore(config.out, compression=config.compression, row_group_rows=config.flush_rows)
        self.timeseries = TimeseriesSink(config.timeseries) if config.timeseries else None
        # written to Parquet, waiting for PostgreSQL; overflow: the oldest buffer is dropped and
        # counted (its rows are in the Parquet files), so an outage never stops the recording
        self._ts_pending: deque[_Buffer] = deque()
        self._ts_wake = asyncio.Event()
        self.stats = RecorderStats()
        self.ready = asyncio.Event()
        self._buffers: dict[tuple[str, str, str], _Buffer] = {}
        self._parts: dict[tuple[str, str, str], Part] = {}
        self._buffered = 0
        self._sealed: deque[_Buffer] = deque()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._closing = False
        self._last_seq: dict[tuple[str, str], int] = {}
        self.subscription: Subscription | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Record until ``stop`` is set; then write everything received and return."""
        self.stats.temp_removed = await asyncio.to_thread(self.store.open)
        if self.stats.temp_removed:
            log.warning("recorder: deleted %d unfinished file(s) of an earlier run", self.stats.temp_removed)
        if self.timeseries is not None:
            await asyncio.to_thread(self.timeseries.open)
        async with ZmqRouter(self.redis_url) as router:
            sub = await router.subscribe(
                kinds=tuple(_CHANNEL),
                runners=list(self.config.runners) or None,
                snapshot=False,
                queue_size=self.config.queue_size,
                wait=False,
            )
            self.subscription = sub
            async with sub, asyncio.TaskGroup() as tg:
                writer = tg.create_task(self._write_loop(), name="recorder.writer")
                ts_writer = tg.create_task(self._timeseries_loop(), name="recorder.timeseries")
                pump = tg.create_task(self._pump(sub), name="recorder.pump")
                ticker = tg.create_task(self._tick(), name="recorder.ticker")
                status = tg.create_task(self._status(sys.stderr), name="recorder.status")
                self.ready.set()
                await stop.wait()
                pump.cancel()
                ticker.cancel()
                status.cancel()
                await asyncio.wait({pump, ticker, status})
                self._drain(sub)
                self.seal_all()
                self._closing = True
                self._wake.set()
                await writer
                self._ts_wake.set()
                await ts_writer

    # -- intake -------------------------------------------------------------------------------
    async def _pump(self, sub: Subscription) -> None:
        while True:
            while len(self._sealed) >= self.config.max_sealed:
                self._room.clear()
                await self._room.wait()
            item = await sub.get()
            if item is None:
                return
            self.take(item)
            for _ in range(_PUMP_BATCH - 1):
                more = sub.get_nowait()
                if more is None:
                    break
                self.take(more)
            await asyncio.sleep(0)

    def _drain(self, sub: Subscription) -> None:
        while (item := sub.get_nowait()) is not None:
            self.take(item)

    def take(self, item: EventItem) -> None:
        """One item of the subscription. Gaps and snapshots are not written as such: holes are
        found from the recorded events' own sequence numbers (which also covers events the
        subscription's queue dropped)."""
        if not isinstance(item, Received) or item.key is None:
            return
        event = item.event
        if isinstance(event, BookEvent):
            self._check_seq(item, item.key, BOOK)
            self._add(item, BOOK, book_row(item, event.book, event.stale))
        elif isinstance(event, FundingEvent):
            self._check_seq(item, item.key, FUNDING)
            self._add(item, FUNDING, funding_row(item, event.funding))
        elif isinstance(event, TradeEvent):
            self._check_seq(item, item.key, TRADES)
            self._add(item, TRADES, trade_row(item, event.trade))
        elif isinstance(event, TickerEvent):
            self._check_seq(item, item.key, TICKERS)
            self._add(item, TICKERS, ticker_row(item, event.ticker))
        elif isinstance(event, BarEvent):
            self._check_seq(item, item.key, BARS)
            self._add(item, BARS, bar_row(item, event.bar, event.averages))
        else:
            self.stats.skipped += 1

    def _check_seq(self, item: Received, key: InstrumentKey, channel: str) -> None:
        k = (item.runner, item.topic)
        last = self._last_seq.get(k)
        self._last_seq[k] = item.seq
        if last is None or item.seq == last + 1:
            return
        self.stats.gaps += 1
        self.stats.lost += max(0, item.seq - last - 1)
        self._add(item, GAPS, gap_row(item, key, channel, last + 1))

    def _add(self, item: Received, channel: str, row: Row) -> None:
        day = day_of(item.sent_ns)
        bkey = (item.topic if channel != GAPS else "gaps|" + item.topic, item.runner, day)
        buf = self._buffers.get(bkey)
        if buf is None:
            buf = self._buffers[bkey] = _Buffer(self._part(item, channel), day, item.sent_ns)
        buf.rows.append(row)
        self._buffered += 1
        if len(buf.rows) >= self.config.flush_rows:
            self._seal(bkey)
        elif self._buffered > self.config.max_buffer_rows:
            self._seal(max(self._buffers, key=lambda b: len(self._buffers[b].rows)))

    def _part(self, item: Received, channel: str) -> Part:
        pkey = (item.runner, item.topic, channel)
        part = self._parts.get(pkey)
        if part is None:
            assert item.key is not None
            part = self._parts[pkey] = Part(item.runner, item.exchange.value, instrument_dir(item.key), channel)
        return part

    # -- flushing -----------------------------------------------------------------------------
    def _seal(self, bkey: tuple[str, str, str]) -> None:
        buf = self._buffers.pop(bkey)
        self._buffered -= len(buf.rows)
        self._sealed.append(buf)
        self._wake.set()

    def seal_all(self) -> None:
        """Hand every open buffer to the writer (the stop does this)."""
        for bkey in list(self._buffers):
            self._seal(bkey)

    @property
    def buffered(self) -> int:
        """Rows in open buffers."""
        return self._buffered

    @property
    def sealed(self) -> int:
        """Sealed buffers waiting for the writer."""
        return len(self._sealed)

    def write_sealed(self) -> None:
        """Write every sealed buffer now, in this thread (for callers without the writer task:
        tools, tests); an OSError propagates and the buffer stays queued."""
        while self._sealed:
            buf = self._sealed[0]
            _, size = self.store.write(buf.part, buf.day, SCHEMAS[buf.part.channel], buf.rows, buf.first_ns)
            self._sealed.popleft()
            self._written(buf, size)

    def status_line(self, elapsed_s: float) -> str:
        st = self.stats
        rate = st.rows / elapsed_s if elapsed_s > 0 else 0.0
        line = (
            f"recording: {st.rows} rows in {st.files} files ({rate:.0f} rows/s), {self._buffered} buffered, "
            f"{st.gaps} gaps ({st.lost} lost)"
        )
        if self.timeseries is not None:
            line += f", PostgreSQL {st.timeseries_rows} rows ({self.timeseries_pending} waiting)"
        return line

    async def _status(self, out: TextIO) -> None:
        """How the recording goes, every ``status_every_s``: a line redrawn in place on a terminal,
        a log line otherwise (a recording runs for hours; this says it is alive and how fast)."""
        every = self.config.status_every_s
        if every <= 0:
            return
        tty = out.isatty()
        started = time.monotonic()
        try:
            while True:
                await asyncio.sleep(every)
                line = self.status_line(time.monotonic() - started)
                if tty:
                    out.write("\r" + line + "\x1b[K")
                    out.flush()
                else:
                    log.info("%s", line)
        finally:
            if tty:
                out.write("\n")
                out.flush()

    async def _tick(self) -> None:
        period = min(1.0, self.config.flush_seconds / 4)
        while True:
            await asyncio.sleep(period)
            deadline = time.monotonic() - self.config.flush_seconds
            for bkey in [k for k, b in self._buffers.items() if b.opened <= deadline]:
                self._seal(bkey)

    async def _write_loop(self) -> None:
        failing = False
        while True:
            if not self._sealed:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            buf = self._sealed[0]
            try:
                path, size = await asyncio.to_thread(
                    self.store.write, buf.part, buf.day, SCHEMAS[buf.part.channel], buf.rows, buf.first_ns
                )
            except OSError as exc:
                self.stats.write_errors += 1
                if not failing:
                    log.error("recorder: cannot write to %s: %s (retrying every %.0f s)", self.store.url, exc, _RETRY_S)
                failing = True
                await asyncio.sleep(_RETRY_S)
                continue
            if failing:
                log.warning("recorder: writing to %s again", self.store.url)
                failing = False
            self._sealed.popleft()
            self._room.set()
            self._written(buf, size)
            log.debug("recorder: %s (%d rows)", path, len(buf.rows))

    def _written(self, buf: _Buffer, size: int) -> None:
        st = self.stats
        st.rows += len(buf.rows)
        st.files += 1
        st.bytes += size
        st.by_channel[buf.part.channel] = st.by_channel.get(buf.part.channel, 0) + len(buf.rows)
        if self.timeseries is not None and buf.part.channel in TIMESERIES_CHANNELS:
            pending = self._ts_pending
            if len(pending) >= self.config.max_timeseries_pending:
                dropped = pending.popleft()
                if not st.timeseries_dropped:
                    log.error("recorder: PostgreSQL backlog full: the oldest buffers go to Parquet only (counted)")
                st.timeseries_dropped += len(dropped.rows)
            pending.append(buf)
            self._ts_wake.set()

    def write_timeseries(self) -> None:
        """Send every pending buffer to PostgreSQL now, in this thread (tools, tests); a
        :class:`TimeseriesError` propagates and the buffer stays pending."""
        sink = self.timeseries
        while sink is not None and self._ts_pending:
            buf = self._ts_pending[0]
            self.stats.timeseries_rows += sink.write(buf.part.channel, buf.rows)
            self._ts_pending.popleft()

    async def _timeseries_loop(self) -> None:
        """Buffers already in Parquet → PostgreSQL, in order; a failure is retried every second
        (logged once per outage); at the end, what is pending is tried once more."""
        sink = self.timeseries
        failing = False
        while sink is not None:
            if not self._ts_pending:
                if self._closing:
                    return
                self._ts_wake.clear()
                await self._ts_wake.wait()
                continue
            buf = self._ts_pending[0]
            try:
                self.stats.timeseries_rows += await asyncio.to_thread(sink.write, buf.part.channel, buf.rows)
            except TimeseriesError as exc:
                self.stats.timeseries_errors += 1
                if not failing:
                    log.error("recorder: %s (retrying every %.0f s)", exc, _RETRY_S)
                failing = True
                if self._closing:
                    return  # stopping: the rows are in Parquet; the pending count says what PostgreSQL lacks
                await asyncio.sleep(_RETRY_S)
                continue
            if failing:
                log.warning("recorder: writing to %s again", sink.where)
                failing = False
            self._ts_pending.popleft()

    @property
    def timeseries_pending(self) -> int:
        """Rows written to Parquet that PostgreSQL does not have yet."""
        return sum(len(b.rows) for b in self._ts_pending)
