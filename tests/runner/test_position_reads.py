"""A REST position read never moves a position back past a newer user-stream patch.

The race (seen as the three-venue test's Binance position missing 15 s after its fill): a
position read is sent, the venue answers it before the fill, the fill's ACCOUNT_UPDATE patch
reaches the actor, then the older read arrives — and replaced the store with it, publishing the
fresh position as closed until the next periodic sync (30 s). The read here is held by the test
until the patch has been applied.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from exchange_runner.actors import position as position_actor
from exchange_runner.actors.position import PositionPatch, SyncPositions
from strategy_client.model import Position
from strategy_client.wire import PositionEvent, TopicKind

from ..helpers import eventually
from .fakes import PERP, FakeAdapter, fake_host, running

D = Decimal


class HeldReads(FakeAdapter):
    """``fetch_positions`` reads the venue's positions at once, then answers only when released."""

    def __init__(self, adapter: FakeAdapter) -> None:
        super().__init__(adapter.clock)
        self.release = asyncio.Event()
        self.reads = 0

    async def fetch_positions(self) -> list[Position]:
        self.reads += 1
        answer = list(self.positions)
        if self.reads == 1:
            await self.release.wait()
        return answer


def _pos(size: str, ts_ms: int, leverage: int = 0) -> Position:
    return Position(key=PERP, size=D(size), entry_price=D("100"), leverage=leverage, updated_ts_ms=ts_ms)


async def test_a_read_answered_before_a_fill_does_not_close_the_fills_position(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(position_actor, "PATCH_RESYNC_S", 0.05)
    async with fake_host() as host:
        venue = HeldReads(host.adapter)
        host.positions.adapter = venue
        async with running(host.positions):
            read = asyncio.create_task(host.positions.ask(SyncPositions("test"), 5.0))
            await eventually(lambda: venue.reads == 1 or None, timeout=5, what="the read sent")
            # the fill: the venue's state changes after it answered the read, and its patch arrives
            venue.positions = [_pos("0.01", 2_000, leverage=20)]
            await host.positions.tell(PositionPatch((_pos("0.01", 2_000),)))
            await eventually(lambda: host.positions.store.get(PERP), timeout=5, what="the patch applied")
            venue.release.set()
            assert await read == 1
            assert host.positions.store[PERP].size == D("0.01"), "the older read closed the fill's position"
            assert host.positions.stale_reads == 1
            closed = [e for k, e in host.publisher.events if k is TopicKind.POSITION and e.closed]
            assert closed == [], f"a closed position was published: {closed}"
            # the read again (a patch without leverage asks for one anyway) brings the venue's figures
            await eventually(
                lambda: host.positions.store[PERP].leverage == 20 or None, timeout=5, what="the position read again"
            )
            assert venue.reads >= 2


async def test_a_read_stamped_no_older_than_the_patch_is_applied() -> None:
    async with fake_host() as host:
        venue = HeldReads(host.adapter)
        host.positions.adapter = venue
        # the venue's read is stamped after the patch's time: it is the newer word, whenever it arrives
        venue.positions = [_pos("0.02", 2_500, leverage=20)]
        async with running(host.positions):
            read = asyncio.create_task(host.positions.ask(SyncPositions("test"), 5.0))
            await eventually(lambda: venue.reads == 1 or None, timeout=5, what="the read sent")
            await host.positions.tell(PositionPatch((_pos("0.01", 2_000, leverage=20),)))
            await eventually(lambda: host.positions.store.get(PERP), timeout=5, what="the patch applied")
            venue.release.set()
            await read
            assert host.positions.store[PERP].size == D("0.02")
            assert host.positions.stale_reads == 0
            sizes = [e.position.size for k, e in host.publisher.events if isinstance(e, PositionEvent)]
            assert sizes == [D("0.01"), D("0.02")]


async def test_a_read_that_began_after_the_patch_closes_the_position() -> None:
    async with fake_host() as host:
        host.adapter.positions = []
        async with running(host.positions):
            await host.positions.tell(PositionPatch((_pos("0.01", 2_000, leverage=20),)))
            await eventually(lambda: host.positions.store.get(PERP), timeout=5, what="the patch applied")
            assert await host.positions.ask(SyncPositions("test"), 5.0) == 0
            assert PERP not in host.positions.store
            closed = [e for k, e in host.publisher.events if k is TopicKind.POSITION and e.closed]
            assert len(closed) == 1
