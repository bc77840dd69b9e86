"""The SQLite writer commits small batches on the event loop: before such a commit it lets the
callbacks already due run first (a command's reply, the next order's send), so a journaled
event's commit never delays them by a commit's time — and what arrives meanwhile joins the
batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

from strategy_client.journal import EventRecord, Journal, ProcessInfo
from strategy_client.wire import OrderEvent, OrderEventKind

from .factories import order


def journal(tmp_path: Path) -> Journal:
    return Journal.open(process=ProcessInfo(role="runner", name="binance:yield"), data_dir=tmp_path)


def event(cid: str, seq: int) -> EventRecord:
    return EventRecord(event=OrderEvent(kind=OrderEventKind.NEW, order=order(cid)), seq=seq, topic=b"exec|binance|")


async def test_a_reply_due_in_the_same_turn_goes_before_the_commit(tmp_path: Path) -> None:
    j = journal(tmp_path)
    trail: list[str] = []
    loop = asyncio.get_running_loop()
    async with j.running():
        await asyncio.sleep(0.01)  # the writer is parked on its empty queue
        j.append_nowait(event("a", 1), on_commit=lambda: trail.append("committed"))
        loop.call_soon(trail.append, "reply sent")  # due in the same turn as the writer's wake-up
        await j.flush()
    assert trail == ["reply sent", "committed"]
    j.close()


async def test_records_appended_while_it_yields_share_the_commit(tmp_path: Path) -> None:
    j = journal(tmp_path)
    loop = asyncio.get_running_loop()
    async with j.running():
        await asyncio.sleep(0.01)
        batches = j.stats.batches
        j.append_nowait(event("a", 1))
        loop.call_soon(lambda: j.append_nowait(event("b", 2)))  # e.g. the position update after a fill
        await j.flush()
        assert j.stats.batches == batches + 1
    assert j.last_seq() == 2
    j.close()
