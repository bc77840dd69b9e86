"""The order path kept warm between orders (config ``order_path_warm_ms``, default 1 ms; 0 = off).

An order that comes 40 ms after the last one finds the code and data it needs gone from the
CPU's caches. On the shared 2-core development machine a zlib CRC of 300 bytes takes 0.4 µs
when it ran 50 µs before and 10–17 µs when it last ran 10 ms before — whether the process slept
or spun meanwhile: the rest of the machine evicts it within a few milliseconds. The order path
is a few hundred such steps (decode, intent, params, signature, JSON), so a lone order pays that
cold cost on every one of them (``docs/performance.md``, "Session 9").

While the runner sends orders (from the first, until a minute after the last) the warmer
rehearses the path every ``interval_s`` — the same functions a real order calls, on a request
of each market kind the runner trades, with every effect left out: the command frame decoded,
the order record built, the journal intent encoded and its place in the intent log touched (not
written), the venue request built, signed and encoded (not sent, no budget charged, no id used).
It runs in the runner's event loop (the caches are the core's; another thread could run on the
other core), between the loop's other callbacks, so a real order waits at most one pass (~130 µs
p50 for spot and perp in the benchmark's runner). A rehearsal that raises is counted and logged
once; it never stops the warmer or the runner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
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

__all__ = ["OrderPathWarmer", "rehearsal_requests"]

REHEARSAL_CLIENT_ID = "tb-rehearsal"
IDLE_AFTER_S = 60.0  # rehearsals stop this long after the last order sent...
IDLE_POLL_S = 1.0  # ...and start again within this long of the next one


class RehearsesIntents(Protocol):
    """The journal's side (``journaling.RunnerJournal``)."""

    def rehearse_intent(self, request: OrderRequest) -> None: ...


def rehearsal_requests(
    keys: Sequence[InstrumentKey], instrument: Callable[[InstrumentKey], Instrument | None]
) -> list[OrderRequest]:
    """One LIMIT IOC buy per market kind among ``keys`` (the first instrument of each kind
    the venue lists): the path is the same for every instrument of a kind."""
    out: list[OrderRequest] = []
    kinds: set[object] = set()
    for key in keys:
        inst = instrument(key)
        if inst is None or key.kind in kinds:
            continue
        kinds.add(key.kind)
        out.append(
            OrderRequest(
                key=key,
                side=Side.BUY,
                type=OrderType.LIMIT,
                qty=max(inst.min_qty, inst.step_size),
                price=inst.tick_size * Decimal(100_000),
                tif=TimeInForce.IOC,
                client_id=REHEARSAL_CLIENT_ID,
            )
        )
    return out


class OrderPathWarmer:
    """Rehearses the order path every ``interval_s`` (see the module doc)."""

    def __init__(
        self,
        adapter: object,
        journal: RehearsesIntents | None,
        requests: Sequence[OrderRequest],
        interval_s: float,
        *,
        orders_sent: Callable[[], int] = lambda: 0,
        idle_after_s: float = IDLE_AFTER_S,
        idle_poll_s: float = IDLE_POLL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rehearse_order = adapter.rehearse_order if isinstance(adapter, RehearsesOrders) else None
        self.journal = journal
        self.interval_s = interval_s
        self.orders_sent = orders_sent
        self.idle_after_s = idle_after_s
        self.idle_poll_s = idle_poll_s
        self.monotonic = monotonic
        self.idle = True  # no order sent in the last idle_after_s: no rehearsals
        self._frames = [(encode(Header(id="rehearsal")), encode(SubmitOrder(order=r))) for r in requests]
        self.passes = 0
        self.failures = 0
        self.pass_ns = LatencyRing()  # what one pass costs the loop
        self._logged = False

    async def run(self) -> None:
        """Rehearse every ``interval_s`` while orders are being sent — from the first order to
        ``idle_after_s`` after the last — until cancelled (a task of the runner's TaskGroup).
        Idle, it looks for a new order every ``idle_poll_s`` and costs nothing else."""
        if not self._frames:
            return
        seen = self.orders_sent()
        last_order = -self.idle_after_s
        while True:
            now = self.monotonic()
            sent = self.orders_sent()
            if sent != seen:
                seen, last_order = sent, now
            self.idle = now - last_order >= self.idle_after_s
            if self.idle:
                await asyncio.sleep(self.idle_poll_s)
                continue
            await asyncio.sleep(self.interval_s)
            self.rehearse()

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
                self.failures += 1
                if not self._logged:
                    self._logged = True
                    logger.opt(exception=exc).warning(
                        "order path warmer: a rehearsal failed (logged once; counted); orders are not affected"
                    )
        self.passes += 1
        self.pass_ns.add(time.perf_counter_ns() - t0)
