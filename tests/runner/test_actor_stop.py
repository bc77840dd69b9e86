"""An actor stopped while a venue call it answers through (``Actor._future``) is under way: the
call's future ends cancelled — nobody is told "Future exception was never retrieved" when a
future that was told, not asked, is collected (a runner's log at shutdown held that line)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from exchange_runner.actors.base import Actor
from tests.helpers import eventually


class Slow(Actor[Any]):
    def __init__(self) -> None:
        super().__init__("slow")
        self.started = asyncio.Event()

    def _handle(self, msg: Any) -> Any:
        async def venue_call() -> int:
            self.started.set()
            await asyncio.get_running_loop().create_future()  # a venue that never answers
            return 1

        return self._future(venue_call(), "venue")


async def test_a_call_cut_short_by_the_stop_ends_cancelled_and_nothing_is_logged() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        actor = Slow()
        task = asyncio.create_task(actor.run())
        await eventually(lambda: actor._idle, what="actor idle")
        told = actor.ask_nowait("reconcile")  # the caller never awaits it
        asked = actor.ask_nowait("query")
        assert told is not None and asked is not None
        await asyncio.wait_for(actor.started.wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert asked.cancelled()  # an awaiting caller sees the cancellation, as before
        del told, asked
        gc.collect()  # a future's finalizer reports to the loop's handler synchronously
        assert not [c for c in reported if "never retrieved" in str(c.get("message"))], reported
    finally:
        loop.set_exception_handler(previous)
