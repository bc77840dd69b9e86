"""The order path kept warm between orders (config ``order_path_warm_ms``, default 1 ms; 0 = off).

An order that comes 40 ms after the last one finds the code and data it needs gone from the
CPU's caches. On the shared 2-core development machine a zlib CRC of 300 bytes takes 0.4 µs
when it ran 50 µs before and 10–17 µs when it last ran 10 ms before — whether the process slept
or spun meanwhile: the rest of the machine evicts it within a few milliseconds. The order path
is a few hundred such steps (decode, intent, params, signature, JSON), so a lone order pays that
cold cost on every one of them (``docs/performance.md``, "Session 9").

While the runner sends orders (from an instrument's first, until a minute after its last) the
warmer rehearses the path every ``interval_s`` — the same functions a real order calls, on a
request of the instrument ordered last of each market kind, with every effect left out: the command frame decoded,
the order record built, the journal intent encoded and its place in the intent log touched (not
written), the venue request built, signed and encoded (not sent, no budget charged, no id used).
It runs in the runner's event loop (the caches are the core's; another thread could run on the
other core), between the loop's other callbacks, so a real order waits at most one pass (~60 µs
per instrument rehearsed). A rehearsal that raises is counted and logged
once; it never stops the warmer or the runner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol

import msgspec
from loguru import logger

from exchanges.base import RehearsesOrders
from strategy_client.model import (
    Instrument,
    InstrumentKey,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.wire import Header, SubmitOrder, encode
from strategy_client.wire.codec import decode_command, decode_command_header

from .latency_ring import LatencyRing

__all__ = ["OrderPathWarmer", "rehearsal_request"]

REHEARSAL_CLIENT_ID = "tb-rehearsal"
IDLE_AFTER_S = 60.0  # rehearsals stop this long after the last order sent...
IDLE_POLL_S = 1.0  # ...and start again within this long of the next one


class RehearsesIntents(Protocol):
    """The journal's side (``journaling.RunnerJournal``)."""

    def rehearse_intent(self, request: OrderRequest) -> None: ...


def rehearsal_request(inst: Instrument) -> OrderRequest:
    """A LIMIT IOC buy of ``inst`` on its grids (never sent)."""
    return OrderRequest(
        key=inst.key,
        side=Side.BUY,
        type=OrderType.LIMIT,
        qty=max(inst.min_qty, inst.step_size),
        price=inst.tick_size * Decimal(100_000),
        tif=TimeInForce.IOC,
        client_id=REHEARSAL_CLIENT_ID,
    )


class OrderPathWarmer:
    """Rehearses the order path every ``interval_s`` for the instruments being ordered (see the
    module doc): per market kind, the instrument of that kind ordered most recently, while its
    last order is less than ``idle_after_s`` old. ``orders_by_key`` is the runner's count of
    orders sent per instrument; it is looked at every ``idle_poll_s``."""

    def __init__(
        self,
        adapter: object,
        journal: RehearsesIntents | None,
        instrument: Callable[[InstrumentKey], Instrument | None],
        interval_s: float,
        *,
        orders_by_key: Callable[[], Mapping[InstrumentKey, int]],
        idle_after_s: float = IDLE_AFTER_S,
        idle_poll_s: float = IDLE_POLL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rehearse_order = adapter.rehearse_order if isinstance(adapter, RehearsesOrders) else None
        self.journal = journal
        self.instrument = instrument
        self.interval_s = interval_s
        self.orders_by_key = orders_by_key
        self.idle_after_s = idle_after_s
        self.idle_poll_s = idle_poll_s
        self.monotonic = monotonic
        self.keys: tuple[InstrumentKey, ...] = ()  # what each pass rehearses now; () = idle
        self.passes = 0
        self.failures = 0
        self.pass_ns = LatencyRing()  # what one pass costs the loop
        self._frames: list[tuple[bytes, bytes]] = []
        self._encoded: dict[InstrumentKey, tuple[bytes, bytes]] = {}
        self._seen: dict[InstrumentKey, int] = {}
        self._ordered_at: dict[InstrumentKey, float] = {}
        self._logged = False

    @property
    def idle(self) -> bool:
        return not self.keys

    async def run(self) -> None:
        """Rehearse every ``interval_s`` while orders are being sent — from an instrument's
        first order to ``idle_after_s`` after its last — until cancelled (a task of the runner's
        TaskGroup). Idle, it looks for a new order every ``idle_poll_s`` and costs nothing else."""
        next_look = self.monotonic()
        while True:
            now = self.monotonic()
            if now >= next_look:
                next_look = now + self.idle_poll_s
                try:
                    self.look(now)
                except Exception as exc:  # noqa: BLE001 - never fatal to the runner's TaskGroup
                    self._failed(exc)
            if not self._frames:
                await asyncio.sleep(self.idle_poll_s)
                continue
            await asyncio.sleep(self.interval_s)
            self.rehearse()

    def look(self, now: float) -> None:
        """Which instruments to rehearse: per kind, the one ordered last, if recently."""
        for key, sent in self.orders_by_key().items():
            if self._seen.get(key) != sent:
                self._seen[key] = sent
                self._ordered_at[key] = now
        latest: dict[object, InstrumentKey] = {}
        for key, at in self._ordered_at.items():
            if now - at < self.idle_after_s:
                best = latest.get(key.kind)
                if best is None or at >= self._ordered_at[best]:
                    latest[key.kind] = key
        keys = tuple(sorted(latest.values()))
        if keys == self.keys:
            return
        frames = []
        for key in keys:
            encoded = self._encoded.get(key)
            if encoded is None:
                inst = self.instrument(key)
                if inst is None:
                    continue
                encoded = (encode(Header(id="rehearsal")), encode(SubmitOrder(order=rehearsal_request(inst))))
                self._encoded[key] = encoded
            frames.append(encoded)
        self.keys, self._frames = keys, frames

    def rehearse(self) -> None:
        """One pass: each request through every step of the order path that has no effect."""
        t0 = time.perf_counter_ns()
        for raw_header, raw_body in self._frames:
            try:
                decode_command_header(raw_header)
                command = decode_command(raw_body)
                assert isinstance(command, SubmitOrder)
                request = msgspec.structs.replace(command.order, client_id=REHEARSAL_CLIENT_ID)
                Order.from_request(request, REHEARSAL_CLIENT_ID, status=OrderStatus.PENDING, created_ts_ms=0)
                if self.journal is not None:
                    self.journal.rehearse_intent(request)
                if self.rehearse_order is not None:
                    self.rehearse_order(request)
            except Exception as exc:  # noqa: BLE001 - a rehearsal must never cost the runner anything
                self._failed(exc)
        self.passes += 1
        self.pass_ns.add(time.perf_counter_ns() - t0)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if not self._logged:
            self._logged = True
            logger.opt(exception=exc).warning(
                "order path warmer: a rehearsal failed (logged once; counted); orders are not affected"
            )
