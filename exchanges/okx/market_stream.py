"""OKX public market data as async iterators of domain objects.

- ``order_books(keys)``: the ``books`` channel per instrument on ``/ws/v5/public``, kept as a
  :class:`~exchanges.okx.books.LocalBook` under OKX's integrity rules (``seqId``/``prevSeqId``,
  CRC32 ``checksum`` when non-zero). Each accepted snapshot or update yields an
  :class:`OrderBook` of the top ``depth`` levels (sizes in base units, ``sequence`` = ``seqId``).
  A gap or a checksum mismatch drops that book and resubscribes it (a new snapshot follows;
  updates arriving meanwhile are skipped). When the venue sends no snapshot (OKX's planned 2026
  change; ``snapshot_grace_updates`` updates without one), the book is loaded from REST
  (``fetch_book``) and joined with the buffered updates on ``seqId``.
- ``funding(keys)``: ``funding-rate`` (rate, settlement times → interval) + ``mark-price`` +
  ``index-tickers`` per perp, merged into :class:`FundingRate` whenever one of them moves
  (a re-push of unchanged values yields nothing).

Frames go through one bounded buffer per iterator with the market-data policy (drop oldest,
counted in ``dropped``; a lost book update is then caught as a gap and resynced). Connection
changes are reported to ``on_status``. Bad frames are counted by kind in ``errors`` and
skipped. ``run_order_books(keys, sink)`` is the push mode the runner uses: no buffer and no
iterator — each frame is applied in the socket reader and the book handed to ``sink``; a
resubscribe or a REST snapshot sync runs as a task of its own meanwhile. Closing the iterator
cancels its connection task and waits for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from exchanges.base import BookSink, StreamStatus
from exchanges.errors import ExchangeError, MalformedPayload
from exchanges.transport.backoff import Backoff
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame, WsStats
from strategy_client.model import FundingRate, InstrumentKey, MarketKind, OrderBook

from .books import BookError, LocalBook, SnapshotSync
from .gate import ConnectGate
from .parse import dec, parse_book, parse_funding_rate
from .rest_schemas import BookSnapshot, FundingRateInfo
from .symbols import SymbolMap, VenueInstrument
from .urls import OkxUrls
from .ws import OkxWs
from .ws_schemas import BookData, decode_book, decode_funding, decode_head, decode_index, decode_mark

__all__ = ["OkxMarketStreams", "StatusCallback", "BookFetcher"]

StatusCallback = Callable[[StreamStatus], None]
BookFetcher = Callable[[str], Awaitable[BookSnapshot]]


def _log_status(status: StreamStatus) -> None:
    logger.debug("{} connected={} {}", status.stream, status.connected, status.reason)


class OkxMarketStreams:
    """Public market data for OKX spot and USDT swaps (see the module doc)."""

    def __init__(
        self,
        urls: OkxUrls,
        symbols: Callable[[], SymbolMap],
        *,
        fetch_book: BookFetcher | None = None,
        on_status: StatusCallback | None = None,
        depth: int = 20,
        verify_checksum: bool = True,
        snapshot_grace_updates: int = 10,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        ping_after_s: float = 20.0,
        pong_timeout_s: float = 10.0,
        gate: ConnectGate | None = None,
    ) -> None:
        self._urls = urls
        self._symbols = symbols
        self._fetch_book = fetch_book
        self._on_status = on_status or _log_status
        self._depth = depth
        self._verify = verify_checksum
        self._snapshot_grace = snapshot_grace_updates
        self._queue_size = queue_size
        self._ws_options: dict[str, Any] = {
            "backoff": backoff,
            "ping_interval_s": ping_after_s,
            "ping_timeout_s": pong_timeout_s,
            "gate": gate,
        }
        self.errors = ErrorTally("okx:market")
        self.resyncs: Counter[str] = Counter()
        self._connections: dict[str, OkxWs] = {}
        self._buffers: list[BoundedBuffer[Frame | StreamStatus]] = []
        self._serial = 0
        self._dropped_closed = 0

    # -- introspection -------------------------------------------------------------------------

    def stats(self) -> dict[str, WsStats]:
        return {name: ws.stats for name, ws in self._connections.items()}

    @property
    def dropped(self) -> int:
        return self._dropped_closed + sum(b.dropped for b in self._buffers)

    # -- iterators -----------------------------------------------------------------------------

    def _insts(self, keys: Sequence[InstrumentKey], *, perps_only: bool = False) -> list[VenueInstrument]:
        if not keys:
            raise ValueError("no instrument keys given")
        symbols = self._symbols()
        out = []
        for key in dict.fromkeys(keys):
            inst = symbols.by_key(key)
            if inst is None:
                raise ValueError(f"{key} is not a loaded OKX instrument")
            if perps_only and key.kind is not MarketKind.PERP:
                raise ValueError(f"funding needs perpetuals, got {key}")
            out.append(inst)
        return out

    def order_books(self, keys: Sequence[InstrumentKey]) -> AsyncGenerator[OrderBook, None]:
        insts = self._insts(keys)
        args = [{"channel": "books", "instId": i.inst_id} for i in insts]
        return self._books(insts, args)

    def funding(self, keys: Sequence[InstrumentKey]) -> AsyncGenerator[FundingRate, None]:
        insts = self._insts(keys, perps_only=True)
        args: list[dict[str, str]] = []
        for inst in insts:
            args += [
                {"channel": "funding-rate", "instId": inst.inst_id},
                {"channel": "mark-price", "instId": inst.inst_id},
                {"channel": "index-tickers", "instId": inst.family},
            ]
        return self._funding(insts, args)

    # -- plumbing ----------------------------------------------------------------------------

    def _ws(self, what: str, args: list[dict[str, str]], **where: Any) -> OkxWs:
        self._serial += 1
        ws = OkxWs(
            f"okx:public:{what}#{self._serial}",
            self._urls.ws_public,
            subscriptions=args,
            tally=self.errors,
            **where,
            **self._ws_options,
        )
        self._connections[ws.name] = ws
        return ws

    def _open(self, what: str, args: list[dict[str, str]]) -> tuple[OkxWs, BoundedBuffer[Frame | StreamStatus]]:
        buffer: BoundedBuffer[Frame | StreamStatus] = BoundedBuffer(self._queue_size, Overflow.DROP_OLDEST)
        self._buffers.append(buffer)
        return self._ws(what, args, buffer=buffer), buffer

    async def _run(self, ws: OkxWs, buffer: BoundedBuffer[Frame | StreamStatus]) -> None:
        try:
            await ws.run()
        except BaseException as exc:
            buffer.fail(exc if isinstance(exc, Exception) else RuntimeError(f"market stream stopped: {exc!r}"))
            raise

    async def _close(self, ws: OkxWs, buffer: BoundedBuffer[Frame | StreamStatus], task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            logger.error("okx market stream {} stopped: {!r}", ws.name, task.exception())
        self._connections.pop(ws.name, None)
        self._buffers.remove(buffer)
        self._dropped_closed += buffer.dropped

    # -- books -------------------------------------------------------------------------------

    async def _books(self, insts: list[VenueInstrument], args: list[dict[str, str]]) -> AsyncGenerator[OrderBook, None]:
        ws, buffer = self._open("books", args)
        out: list[OrderBook] = []
        work: list[Coroutine[Any, Any, None]] = []
        state = _Books(self, ws, insts, out.append, work.append)
        task = asyncio.create_task(self._run(ws, buffer), name=f"{ws.name}:connection")
        try:
            while True:
                item = await buffer.get()
                if isinstance(item, StreamStatus):
                    state.status(item)
                    continue
                state.frame(item)
                while work:  # a resubscribe or a REST sync, in order, before the next frame
                    await work.pop(0)
                while out:
                    yield out.pop(0)
        finally:
            for pending in work:
                pending.close()
            await self._close(ws, buffer, task)

    async def run_order_books(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """The books of :meth:`order_books`, pushed: each frame applied in the socket reader and
        the book handed to ``sink`` (no buffer, no iterator); a resubscribe or a REST sync runs
        as a task of its own meanwhile. Runs until cancelled."""
        insts = self._insts(keys)
        args = [{"channel": "books", "instId": i.inst_id} for i in insts]
        ws: OkxWs | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                state = _Books(self, None, insts, sink, tg.create_task)
                ws = state.ws = self._ws("books", args, sink=state)
                tg.create_task(ws.run(), name=f"{ws.name}:connection")
        finally:
            if ws is not None:
                self._connections.pop(ws.name, None)

    def _snapshot(self, inst: VenueInstrument, book: LocalBook, recv_ns: int) -> OrderBook:
        bids, asks = book.top(self._depth)
        return parse_book(
            inst,
            [list(b) for b in bids],
            [list(a) for a in asks],
            str(book.ts_ms),
            local_ts_ns=recv_ns or time.time_ns(),
            sequence=book.seq_id or 0,
        )

    # -- funding -----------------------------------------------------------------------------

    async def _funding(
        self, insts: list[VenueInstrument], args: list[dict[str, str]]
    ) -> AsyncGenerator[FundingRate, None]:
        ws, buffer = self._open("funding", args)
        by_id = {i.inst_id: i for i in insts}
        by_family = {i.family: i for i in insts}
        rates: dict[str, FundingRateInfo] = {}
        marks: dict[str, Decimal] = {}
        indexes: dict[str, Decimal] = {}
        last: dict[str, tuple[object, ...]] = {}
        task = asyncio.create_task(self._run(ws, buffer), name=f"{ws.name}:connection")
        try:
            while True:
                item = await buffer.get()
                if isinstance(item, StreamStatus):
                    self._on_status(item)
                    continue
                try:
                    inst = self._funding_frame(item.data, by_id, by_family, rates, marks, indexes)
                except (msgspec.DecodeError, msgspec.ValidationError, MalformedPayload) as exc:
                    self.errors.record("funding:malformed", item.data, exc)
                    continue
                if inst is None:
                    continue
                rate = rates.get(inst.inst_id)
                mark = marks.get(inst.inst_id)
                index = indexes.get(inst.family)
                if rate is None or mark is None or index is None:
                    continue
                state = (rate.fundingRate, rate.fundingTime, rate.nextFundingTime, mark, index)
                if last.get(inst.inst_id) == state:
                    continue  # nothing moved (e.g. a periodic re-push)
                last[inst.inst_id] = state
                try:
                    yield parse_funding_rate(rate, inst, mark, index, ts_ms=time.time_ns() // 1_000_000)
                except MalformedPayload as exc:
                    self.errors.record("funding:malformed", item.data, exc)
        finally:
            await self._close(ws, buffer, task)

    def _funding_frame(
        self,
        data: bytes,
        by_id: dict[str, VenueInstrument],
        by_family: dict[str, VenueInstrument],
        rates: dict[str, FundingRateInfo],
        marks: dict[str, Decimal],
        indexes: dict[str, Decimal],
    ) -> VenueInstrument | None:
        head = decode_head(data)
        channel = head.arg.channel if head.arg is not None else ""
        if channel == "funding-rate":
            for r in decode_funding(data).data:
                if r.instId in by_id:
                    dec(r.fundingRate, "fundingRate")
                    rates[r.instId] = r
                    return by_id[r.instId]
        elif channel == "mark-price":
            for m in decode_mark(data).data:
                if m.instId in by_id:
                    marks[m.instId] = dec(m.markPx, "markPx")
                    return by_id[m.instId]
        elif channel == "index-tickers":
            for x in decode_index(data).data:
                if x.instId in by_family:
                    indexes[x.instId] = dec(x.idxPx, "idxPx")
                    return by_family[x.instId]
        else:
            self.errors.record(f"funding:unexpected:{channel}", data)
        return None


class _Books:
    """The local books of one ``order_books``/``run_order_books`` call (see the module doc): a
    frame in, a book out (``emit``); async work — a resubscribe, a REST snapshot to sync from —
    handed to ``schedule`` (a task in push mode; awaited before the next frame by the iterator)."""

    def __init__(
        self,
        owner: OkxMarketStreams,
        ws: OkxWs | None,
        insts: list[VenueInstrument],
        emit: Callable[[OrderBook], None],
        schedule: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self._owner = owner
        self.ws = ws
        self._emit = emit
        self._schedule = schedule
        self._by_id = {i.inst_id: i for i in insts}
        self._books = {i.inst_id: LocalBook(verify_checksum=owner._verify) for i in insts}
        self._waiting: dict[str, SnapshotSync] = {}
        # updates seen per book while a WS snapshot is expected (after (re)subscribing)
        self._expecting: dict[str, int] = dict.fromkeys(self._by_id, 0)

    def status(self, status: StreamStatus) -> None:
        if not status.connected:
            for book in self._books.values():
                book.reset()
            self._waiting.clear()
            self._expecting = dict.fromkeys(self._by_id, 0)
        self._owner._on_status(status)

    def frame(self, frame: Frame) -> None:
        owner = self._owner
        try:
            msg = decode_book(frame.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            owner.errors.record("books:malformed", frame.data, exc)
            self._resync_unknown(frame.data)
            return
        inst = self._by_id.get(msg.arg.instId)
        if inst is None or msg.arg.channel != "books" or not msg.data:
            owner.errors.record("books:unexpected", frame.data)
            return
        book = self._books[inst.inst_id]
        expecting = self._expecting
        if msg.action == "snapshot":
            expecting.pop(inst.inst_id, None)
        elif inst.inst_id in expecting and not book.synced:
            expecting[inst.inst_id] += 1
            if expecting[inst.inst_id] <= owner._snapshot_grace:
                return  # an update of the old subscription, or the snapshot is on its way
            expecting.pop(inst.inst_id)  # no snapshot is coming: sync from REST
        self._apply(msg.action, msg.data[0], book, inst, frame.recv_ns)

    def _apply(self, action: str, data: BookData, book: LocalBook, inst: VenueInstrument, recv_ns: int) -> None:
        try:
            if action == "snapshot":
                self._waiting.pop(inst.inst_id, None)
                book.load(data)
                applied = True
            elif book.synced:
                applied = book.apply(data)
            else:
                self._sync_from_rest(inst, book, data)
                return
        except BookError as exc:
            self._resync(inst, book, exc)
            return
        if applied:
            self._emit(self._owner._snapshot(inst, book, recv_ns))

    def _sync_from_rest(self, inst: VenueInstrument, book: LocalBook, data: BookData) -> None:
        """No snapshot from the venue: buffer the update, load the REST book, join on seqId."""
        sync = self._waiting.get(inst.inst_id)
        if sync is not None:  # a REST fetch is on its way: it replays this update too
            sync.add(data)
            return
        if self._owner._fetch_book is None:
            raise BookError("update before any snapshot and no REST book to sync from")
        sync = self._waiting[inst.inst_id] = SnapshotSync()
        sync.add(data)
        self._schedule(self._fetch(self._owner._fetch_book, inst, book, sync))

    async def _fetch(self, fetch: BookFetcher, inst: VenueInstrument, book: LocalBook, sync: SnapshotSync) -> None:
        try:
            rest = await fetch(inst.inst_id)
        except ExchangeError as exc:
            if self._waiting.get(inst.inst_id) is sync:
                logger.warning("okx books {}: REST snapshot failed ({}); resubscribing", inst.inst_id, exc)
                self._resync(inst, book, BookError(str(exc)))
            return
        if self._waiting.get(inst.inst_id) is not sync:
            return  # superseded meanwhile (a reconnect or a resync)
        try:
            if rest.seqId is None:
                raise BookError("the REST book carries no seqId to sync with")
            sync.replay(book, BookData(asks=rest.asks, bids=rest.bids, ts=rest.ts, seqId=rest.seqId))
        except BookError as exc:
            self._resync(inst, book, exc)
            return
        self._waiting.pop(inst.inst_id, None)
        self._emit(self._owner._snapshot(inst, book, 0))

    def _resync(self, inst: VenueInstrument, book: LocalBook, exc: Exception) -> None:
        kind = "checksum" if "checksum" in str(exc) else "gap"
        self._owner.resyncs[kind] += 1
        logger.warning("okx books {}: {} ({}); resubscribing for a new snapshot", inst.inst_id, kind, exc)
        book.reset()
        self._waiting.pop(inst.inst_id, None)
        self._expecting[inst.inst_id] = 0
        assert self.ws is not None
        self._schedule(self.ws.resubscribe([{"channel": "books", "instId": inst.inst_id}]))

    def _resync_unknown(self, data: bytes) -> None:
        """A frame that could not be read: if it names a book, that book may now miss an update."""
        try:
            head = decode_head(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        inst_id = head.arg.instId if head.arg is not None else ""
        inst = self._by_id.get(inst_id)
        if inst is not None:
            self._resync(inst, self._books[inst_id], BookError("unreadable frame"))
