"""PositionManager: the venue's derivatives positions.

Patches come from account updates (Binance ACCOUNT_UPDATE ``P``); a REST sync at start and
every ``sync_interval_s`` corrects anything missed. A patch without a leverage (Binance's carries
no leverage, mark or liquidation price) keeps the stored position's leverage and mark (and its
liquidation price while the side is the same), and the positions are read again over REST
``PATCH_RESYNC_S`` later (one read pending at a time) for the venue's current figures. A position
whose size reaches 0 is removed from the store and published as closed; any other change is
published as an upsert.

A REST read never moves a position backwards: a patch that reaches the actor while a read is in
flight may be newer than what the read says (the venue answered before the fill, its answer
arrived after the fill's patch). For a key patched since the read began, the read's value is
kept only when the venue stamped it no older than the patch (``updated_ts_ms``); otherwise the
patch stands — a position the read does not list is not closed on its word — and the positions
are read again ``PATCH_RESYNC_S`` later. Without this a fill's position could be published as
closed and stay gone until the next periodic sync.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from exchanges.base import ExchangeAdapter
from strategy_client.model import InstrumentKey, Position
from strategy_client.wire import (
    GetAllPositions,
    GetPosition,
    PositionEvent,
    PositionReply,
    PositionsReply,
    Query,
    TopicKind,
)

from ..publisher import Publisher
from .base import Actor

__all__ = ["PositionManager", "SyncPositions", "PositionPatch", "PATCH_RESYNC_S"]

PATCH_RESYNC_S = 0.5


class SyncPositions(Query[int], frozen=True):
    """Fetch the venue's positions and replace the store with them: answers how many there are."""

    reason: str = "periodic"


class PositionPatch(msgspec.Struct, frozen=True):
    positions: tuple[Position, ...]


class _Synced(Query[int], frozen=True):
    positions: list[Position]
    since: int  # the actor's patch count when the read began


Msg = GetPosition | GetAllPositions | SyncPositions | PositionPatch | _Synced


def _incomplete(p: Position) -> bool:
    """A patch that lacks what only the venue's REST position carries (leverage, liquidation price)."""
    return p.size != 0 and p.leverage == 0


def _carry(old: Position | None, new: Position) -> Position:
    """``new`` with the leverage and mark it lacks from ``old`` (and the liquidation price, same side only)."""
    if old is None or old.size == 0:
        return new
    same_side = (old.size > 0) == (new.size > 0)
    return msgspec.structs.replace(
        new,
        leverage=old.leverage,
        mark_price=new.mark_price or old.mark_price,
        liquidation_price=new.liquidation_price or (old.liquidation_price if same_side else Decimal(0)),
    )


def _material(a: Position, b: Position) -> bool:
    return (a.size, a.entry_price, a.leverage, a.unrealized_pnl) != (
        b.size,
        b.entry_price,
        b.leverage,
        b.unrealized_pnl,
    )


class PositionManager(Actor[Msg]):
    ANSWERS = (GetPosition, GetAllPositions)

    def __init__(self, adapter: ExchangeAdapter, publisher: Publisher, *, paper: bool = False) -> None:
        super().__init__("position")
        self.adapter = adapter
        self.publisher = publisher
        self.paper = paper
        self.store: dict[InstrumentKey, Position] = {}
        self.syncs = 0
        self.stale_reads = 0  # keys a REST read would have moved back past a newer patch
        self._resync_pending = False
        self._patches = 0
        self._patched: dict[InstrumentKey, tuple[int, int]] = {}  # key → (patch count, its venue ms)

    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, GetPosition):
            return PositionReply(position=self.store.get(msg.key))
        if isinstance(msg, GetAllPositions):
            return PositionsReply(positions=tuple(self.store.values()))
        if isinstance(msg, PositionPatch):
            self._patches += 1
            for reported in msg.positions:
                self._patched[reported.key] = (self._patches, reported.updated_ts_ms)
                p = reported
                if _incomplete(reported):
                    p = _carry(self.store.get(reported.key), reported)
                    self._resync_soon()
                self._upsert(p)
            return None
        if isinstance(msg, SyncPositions):
            fut = self._sync_future()
            return fut
        if isinstance(msg, _Synced):
            seen = set()
            stale = 0
            for p in msg.positions:
                seen.add(p.key)
                if self._older_than_patch(p.key, msg.since, p.updated_ts_ms):
                    stale += 1
                    continue
                self._upsert(p)
            for key in [k for k in self.store if k not in seen]:
                if self._older_than_patch(key, msg.since, 0):
                    stale += 1
                    continue
                self._upsert(msgspec.structs.replace(self.store[key], size=Decimal(0)))
            if stale:
                self.stale_reads += stale
                logger.info("position read older than {} patch(es) since it began: kept them, reading again", stale)
                self._resync_soon()
            return len(self.store)
        raise TypeError(f"unexpected message {type(msg).__name__}")

    def _older_than_patch(self, key: InstrumentKey, since: int, read_ms: int) -> bool:
        """Whether a patch of ``key`` arrived after the read began and the read is not known to be
        at least as new (the venue stamped both, the read no earlier)."""
        patched = self._patched.get(key)
        if patched is None or patched[0] <= since:
            return False
        patch_ms = patched[1]
        return not (read_ms and patch_ms and read_ms >= patch_ms)

    def _resync_soon(self) -> None:
        if self._resync_pending:
            return
        self._resync_pending = True

        async def run() -> None:
            await asyncio.sleep(PATCH_RESYNC_S)
            self._resync_pending = False
            await self.tell(SyncPositions("a patch without leverage or liquidation price"))

        self.spawn(run(), "resync")

    def _sync_future(self) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            since = self._patches
            try:
                positions = await self.adapter.fetch_positions()
            except Exception as exc:  # noqa: BLE001 - given to the caller
                logger.warning("position sync failed: {}", exc)
                if not fut.done():
                    fut.set_exception(exc)
                return
            self.syncs += 1
            n = await self.ask(_Synced(positions, since))
            if not fut.done():
                fut.set_result(n)

        self.spawn(run(), "sync")
        return fut

    def _upsert(self, pos: Position) -> None:
        old = self.store.get(pos.key)
        if pos.size == 0:
            if old is None:
                return
            del self.store[pos.key]
            self.publisher.publish(
                TopicKind.POSITION, PositionEvent(position=pos, closed=True, paper=self.paper), pos.key
            )
            return
        if old is not None and not _material(old, pos):
            self.store[pos.key] = pos
            return
        self.store[pos.key] = pos
        self.publisher.publish(TopicKind.POSITION, PositionEvent(position=pos, paper=self.paper), pos.key)
