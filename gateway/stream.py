"""The WebSocket stream: every runner's events fanned out to the gateway's clients, with resume.

One ``strategy_client`` subscription (every runner, every topic, gaps repaired from the runners'
journals or resynced with a snapshot) feeds :class:`Hub`; each event is encoded to JSON once
and offered to every client whose filter matches.

A client's send queue is bounded (``capacity`` per lane) — the overflow policy:

* market data (books, funding rates, status, trades, tickers, bars — never journaled): when its
  lane is full the oldest is dropped and counted; the client gets one ``dropped`` message
  when it catches up;
* journaled events (``jseq`` > 0), snapshots, gaps, risk events: never dropped. If that lane is
  full the client is disconnected (close code 4008, ``slow consumer: reconnect with since``):
  it resumes from its last ``jseq`` and loses nothing.

Resume (``since: {runner: jseq}``): the client is registered first, so live events that arrive
meanwhile are held; the runner's ``replay_events`` pages are sent (``replayed: true``); then
the held events after the last replayed ``jseq``. A runner that cannot replay (no journal, or
its journal no longer has ``jseq + 1``) sends a ``snapshot`` with reason ``resume`` instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from strategy_client import Gap, Received, Snapshot, Subscription, ZmqRouter
from strategy_client.errors import CoreApiError
from strategy_client.model import Exchange, InstrumentKey, InvalidInstrumentKey
from strategy_client.wire import Event, GetFundingRates, TopicKind, decode_event, parse_topic

from .models import Subscribe
from .problems import ApiError

__all__ = ["Hub", "Client", "TOPIC_NAMES", "CLOSE_SLOW", "CLOSE_UNAUTHORIZED", "CLOSE_FORBIDDEN"]

log = logging.getLogger("gateway.stream")

CLOSE_UNAUTHORIZED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_SLOW = 4008
DEFAULT_CAPACITY = 1000

#: the names a client subscribes by (the client library's), and the raw topic kinds
TOPIC_NAMES: dict[str, TopicKind] = {
    "book": TopicKind.BOOK,
    "exec": TopicKind.EXECUTION,
    "pos": TopicKind.POSITION,
    "funding": TopicKind.FUNDING,
    "account": TopicKind.ACCOUNT,
    "status": TopicKind.STATUS,
    "risk": TopicKind.RISK,
    **{k.value: k for k in TopicKind},
}
MARKET_DATA = frozenset(k for k in TopicKind if k.value in ("ob", "fund", "status", "trade", "tick", "bar"))


class StreamEvent(msgspec.Struct, kw_only=True, tag="event", tag_field="type"):
    runner: str
    topic: str
    kind: str
    seq: int
    jseq: int
    sent_ns: int = 0  # the runner's clock when it published (0: replayed from its journal)
    replayed: bool = False
    event: Event


class StreamSnapshot(msgspec.Struct, kw_only=True, tag="snapshot", tag_field="type"):
    runner: str
    reason: str
    snapshot: Snapshot


class StreamGap(msgspec.Struct, kw_only=True, tag="gap", tag_field="type"):
    runner: str
    topic: str
    expected: int
    received: int
    reason: str
    snapshot: Snapshot | None = None


_enc = msgspec.json.Encoder()


class Filter(msgspec.Struct, frozen=True):
    kinds: frozenset[TopicKind] | None = None
    exchange: Exchange | None = None
    key: InstrumentKey | None = None

    def wants(self, kind: TopicKind, exchange: Exchange, key: InstrumentKey | None) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.exchange is not None and exchange is not self.exchange:
            return False
        return self.key is None or key is None or key == self.key


def parse_subscribe(msg: Subscribe) -> Filter:
    """A ``subscribe`` message → its filter; ``ValueError`` names what is wrong."""
    kinds = None
    if msg.topics:
        unknown = [t for t in msg.topics if t not in TOPIC_NAMES]
        if unknown:
            raise ValueError(f"unknown topics {unknown} (known: book, exec, pos, funding, account, status, risk)")
        kinds = frozenset(TOPIC_NAMES[t] for t in msg.topics)
    exchange = None
    if msg.exchange:
        try:
            exchange = Exchange(msg.exchange.lower())
        except ValueError:
            raise ValueError(f"unknown exchange {msg.exchange!r}") from None
    key = None
    if msg.instrument:
        try:
            key = InstrumentKey.parse(msg.instrument)
        except InvalidInstrumentKey as exc:
            raise ValueError(str(exc)) from None
    return Filter(kinds, exchange, key)


class Client:
    """One WebSocket client: its filter, its two bounded lanes and its writer."""

    def __init__(self, ws: web.WebSocketResponse, key_id: str, capacity: int = DEFAULT_CAPACITY) -> None:
        self.ws = ws
        self.key_id = key_id
        self.capacity = capacity
        self.filter: Filter | None = None  # None until the first subscribe
        self.market: deque[bytes] = deque()
        self.durable: deque[bytes] = deque()
        self.dropped = 0  # market data dropped since the last ``dropped`` notice
        self.dropped_total = 0
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()  # set by the writer when the journaled lane is half empty
        self.closing: str = ""
        # runner → events held while its replay runs (live events with their jseq)
        self.holding: dict[str, list[tuple[int, bytes]]] = {}

    def offer(self, data: bytes, *, droppable: bool) -> None:
        if self.closing:
            return
        if droppable:
            if len(self.market) >= self.capacity:
                self.market.popleft()
                self.dropped += 1
                self.dropped_total += 1
            self.market.append(data)
        else:
            if len(self.durable) >= self.capacity:
                self.closing = "slow consumer: reconnect with since"
            else:
                self.durable.append(data)
        self.wake.set()

    def offer_live(self, runner: str, jseq: int, data: bytes, *, droppable: bool) -> None:
        held = self.holding.get(runner)
        if held is not None and not droppable:
            if len(held) >= self.capacity:
                self.closing = "slow consumer: reconnect with since"
                self.wake.set()
                return
            held.append((jseq, data))
            return
        self.offer(data, droppable=droppable)

    def send_json(self, value: Any) -> None:
        self.offer(_enc.encode(value), droppable=False)

    async def room(self) -> None:
        """Wait until the journaled lane is at most half full: a replay (which could hold more
        events than the lane) goes at the client's pace instead of overflowing it."""
        while len(self.durable) >= self.capacity // 2 and not self.closing and not self.ws.closed:
            self.drained.clear()
            await self.drained.wait()

    async def writer(self) -> None:
        try:
            await self._write()
        except ConnectionResetError:
            pass  # the client is gone; the reader ends too

    async def _write(self) -> None:
        ws = self.ws
        while not ws.closed:
            await self.wake.wait()
            self.wake.clear()
            if self.closing:
                await ws.close(code=CLOSE_SLOW, message=self.closing.encode())
                return
            while self.durable or self.market:
                if self.dropped and not self.durable:
                    count, self.dropped = self.dropped, 0
                    await ws.send_str(f'{{"type":"dropped","count":{count}}}')
                data = self.durable.popleft() if self.durable else self.market.popleft()
                await ws.send_frame(data, WSMsgType.TEXT)
                if len(self.durable) < self.capacity // 2:
                    self.drained.set()
                if self.closing:
                    break
            if self.closing:
                await ws.close(code=CLOSE_SLOW, message=self.closing.encode())
                return


class Hub:
    """The runners' events → the clients."""

    def __init__(
        self,
        router: ZmqRouter,
        *,
        capacity: int = DEFAULT_CAPACITY,
        timeout_s: float = 10.0,
        on_bad_input: Callable[[str, str], None] | None = None,
    ) -> None:
        self.router = router
        self.on_bad_input = on_bad_input or (lambda _kind, _sample: None)
        self.capacity = capacity
        self.timeout_s = timeout_s
        self.clients: set[Client] = set()
        self.last_jseq: dict[str, int] = {}
        self.last_status: dict[str, Any] = {}  # runner → its last RunnerStatusEvent
        self.events = 0
        self.replayed = 0
        self.snapshots_sent = 0
        self.disconnected_slow = 0
        self.sub: Subscription | None = None
        self.ready = asyncio.Event()

    # -- the runners' side ------------------------------------------------------------------
    async def pump(self) -> None:
        sub = await self.router.subscribe(snapshot=False, queue_size=50_000, wait=False)
        self.sub = sub
        self.ready.set()
        async with sub:
            while True:
                item = await sub.get()
                if item is None:
                    return
                self._take(item)
                for _ in range(255):
                    more = sub.get_nowait()
                    if more is None:
                        break
                    self._take(more)
                await asyncio.sleep(0)

    def _take(self, item: Any) -> None:
        if isinstance(item, Received):
            self._received(item)
        elif isinstance(item, Gap):
            data = _enc.encode(
                StreamGap(
                    runner=item.runner,
                    topic=item.topic,
                    expected=item.expected,
                    received=item.received,
                    reason=item.reason,
                    snapshot=item.snapshot,
                )
            )
            for c in self._matching(item.kind, item.exchange, item.key):
                c.offer(data, droppable=False)
        elif isinstance(item, Snapshot):
            data = _enc.encode(StreamSnapshot(runner=item.runner, reason=item.reason, snapshot=item))
            for c in self._matching(None, item.exchange, None):
                c.offer(data, droppable=False)

    def _received(self, item: Received) -> None:
        self.events += 1
        if item.jseq:
            self.last_jseq[item.runner] = max(self.last_jseq.get(item.runner, 0), item.jseq)
        if item.kind is TopicKind.STATUS:
            self.last_status[item.runner] = item.event
        if not self.clients:
            return
        data = _enc.encode(
            StreamEvent(
                runner=item.runner,
                topic=item.topic,
                kind=item.kind.value,
                seq=item.seq,
                jseq=item.jseq,
                sent_ns=item.sent_ns,
                event=item.event,
            )
        )
        droppable = item.jseq == 0 and item.kind in MARKET_DATA
        for c in self._matching(item.kind, item.exchange, item.key):
            c.offer_live(item.runner, item.jseq, data, droppable=droppable)

    def _matching(self, kind: TopicKind | None, exchange: Exchange, key: InstrumentKey | None) -> Iterable[Client]:
        for c in self.clients:
            f = c.filter
            if f is None:
                continue
            if kind is None:
                if f.exchange is None or f.exchange is exchange:
                    yield c
            elif f.wants(kind, exchange, key):
                yield c

    # -- a client's side ----------------------------------------------------------------------
    async def serve(self, ws: web.WebSocketResponse, key_id: str) -> None:
        client = Client(ws, key_id, self.capacity)
        self.clients.add(client)
        tasks: list[asyncio.Task[None]] = []
        try:
            async with asyncio.TaskGroup() as tg:
                tasks.append(tg.create_task(client.writer()))
                await self._read(client, tg, tasks)
                for t in tasks:  # the client left: its writer and any replay still running
                    t.cancel()
        finally:
            self.clients.discard(client)
            if client.closing:
                self.disconnected_slow += 1

    async def _read(self, client: Client, tg: asyncio.TaskGroup, tasks: list[asyncio.Task[None]]) -> None:
        async for msg in client.ws:
            if msg.type is not WSMsgType.TEXT:
                if msg.type in (WSMsgType.BINARY,):
                    self.on_bad_input("stream_bad_params", "a binary message")
                    client.send_json(_problem("bad_params", "send JSON text messages"))
                continue
            try:
                raw = msgspec.json.decode(msg.data)
                op = raw.get("op") if isinstance(raw, dict) else None
            except msgspec.DecodeError as exc:
                self.on_bad_input("stream_bad_json", f"{msg.data[:100]!r}: {exc}")
                client.send_json(_problem("bad_json", f"not JSON: {exc}"))
                continue
            if op == "ping":
                client.send_json({"type": "pong"})
            elif op == "subscribe":
                try:
                    sub = msgspec.convert(raw, Subscribe)
                    flt = parse_subscribe(sub)
                except (msgspec.ValidationError, ValueError) as exc:
                    self.on_bad_input("stream_bad_params", str(exc))
                    client.send_json(_problem("bad_params", str(exc)))
                    continue
                tasks.append(tg.create_task(self._subscribe(client, flt, sub.since or {})))
            else:
                self.on_bad_input("stream_bad_params", f"op {op!r}")
                client.send_json(_problem("bad_params", f"unknown op {op!r} (subscribe, ping)"))

    async def _subscribe(self, client: Client, flt: Filter, since: dict[str, int]) -> None:
        runners = self.router.runners()
        for name in since:
            client.holding[name] = []  # before the filter: no live event of it slips past the replay
        client.filter = flt
        client.send_json(
            {
                "type": "subscribed",
                "topics": sorted(k.value for k in flt.kinds or ()),
                "runners": {n: self.last_jseq.get(n, 0) for n in sorted(runners)},
            }
        )
        for name, after in since.items():
            try:
                last = await self._replay(client, name, after)
            finally:
                held = client.holding.pop(name, [])
            for jseq, data in held:
                if jseq == 0 or jseq > last:
                    client.offer(data, droppable=False)
        for name in sorted(set(runners) - set(since)):
            await self._snapshot(client, name, "initial")

    async def _replay(self, client: Client, name: str, after: int) -> int:
        """Send ``name``'s journaled events after ``after``; the last jseq sent (or covered)."""
        rec = self.router.runners().get(name)
        if rec is None:
            client.send_json(_problem("not_found", f"no runner named {name!r} is registered (since)"))
            return after
        api = self.router.runner(name)
        last = after
        flt = client.filter
        try:
            while True:
                reply = await api.replay_events(rec.exchange, last, timeout_s=self.timeout_s)
                if reply.events and reply.events[0].jseq != last + 1:
                    raise _CannotReplay(f"journal starts at {reply.events[0].jseq}, not {last + 1}")
                for ev in reply.events:
                    topic = parse_topic(ev.topic)
                    last = ev.jseq
                    if flt is not None and not flt.wants(topic.kind, topic.exchange, topic.key):
                        continue
                    event = decode_event(ev.event)
                    self.replayed += 1
                    await client.room()
                    client.offer(
                        _enc.encode(
                            StreamEvent(
                                runner=name,
                                topic=ev.topic.decode(),
                                kind=topic.kind.value,
                                seq=0,
                                jseq=ev.jseq,
                                replayed=True,
                                event=event,
                            )
                        ),
                        droppable=False,
                    )
                if not reply.more:
                    return last  # held live events after it follow (not last_seq: one committed since is held)
                last = reply.next_after
        except (CoreApiError, _CannotReplay, ValueError, msgspec.DecodeError) as exc:
            log.info("gateway: stream resume of %s after jseq %d: %s; a snapshot instead", name, after, exc)
            mark = self.last_jseq.get(name, last)  # what the snapshot reflects: events up to here
            await self._snapshot(client, name, "resume")
            return mark

    async def _snapshot(self, client: Client, name: str, reason: str) -> None:
        rec = self.router.runners().get(name)
        flt = client.filter
        if rec is None or flt is None:
            return
        if flt.exchange is not None and flt.exchange is not rec.exchange:
            return
        api = self.router.runner(name)
        kinds = flt.kinds
        errors: list[str] = []

        async def part(kind: TopicKind, coro: Any) -> Any:
            if kinds is not None and kind not in kinds:
                coro.close()
                return None
            try:
                return await coro
            except CoreApiError as exc:
                errors.append(f"{kind.value}: {exc}")
                return None

        t = self.timeout_s
        target: Any = flt.key or rec.exchange
        book = await part(TopicKind.BOOK, api.get_book_snapshot(target, timeout_s=t))
        orders = await part(TopicKind.EXECUTION, api.get_open_orders(target, timeout_s=t))
        positions = await part(TopicKind.POSITION, api.get_all_positions(rec.exchange, timeout_s=t))
        funding = await part(TopicKind.FUNDING, api.request(GetFundingRates(exchange=rec.exchange), timeout_s=t))
        account = await part(TopicKind.ACCOUNT, api.get_account_snapshot(rec.exchange, timeout_s=t))
        if flt.key is not None:
            positions = None if positions is None else tuple(p for p in positions if p.key == flt.key)
            funding = None if funding is None else tuple(f for f in funding.rates if f.key == flt.key)
        elif funding is not None:
            funding = funding.rates
        snap = Snapshot(
            runner=name,
            exchange=rec.exchange,
            reason=reason,
            books=None if book is None else book.books,
            orders=orders,
            positions=positions,
            funding=funding,
            account=account,
            error="; ".join(errors),
        )
        self.snapshots_sent += 1
        client.offer(_enc.encode(StreamSnapshot(runner=name, reason=reason, snapshot=snap)), droppable=False)


class _CannotReplay(Exception):
    pass


def _problem(code: str, detail: str) -> dict[str, Any]:
    """An ``error`` message: the problem document the REST API would answer."""
    return {"type": "error", "problem": ApiError(code, detail).problem}
