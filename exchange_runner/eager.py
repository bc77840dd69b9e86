"""Start a coroutine now, in the caller's turn of the event loop, and finish it in a task.

``asyncio`` runs a new task's first step on the loop's *next* turn. On the order path that turn
costs more than the work: between the order actor starting a placement and the placement
writing the request to the venue's socket, the loop polls its sockets and runs whatever else is
ready — 57–94 µs p50 per order on the shared 2-core development machine, measured with
wall-clock marks in the runner (``docs/performance.md``, "Where the order leg's time went").
Python 3.12's ``asyncio.eager_task_factory`` removes that turn; :func:`start_eager` does the
same for one coroutine on 3.11: its first step runs at once — for a placement: the venue
request built, signed and written to the socket, up to the first wait for the venue's answer —
and the task created for it carries on from there.

The first step runs as the task's own first step would: with the task as
``asyncio.current_task()`` (``asyncio.timeout`` inside it cancels that task, as it must), and
its result or failure reaches the returned future as a later step's would. Two cases start the
coroutine the ordinary way instead: a caller that is itself a task's step (a step cannot run
inside another task's step), and tracing on (spans live in context variables; a first step run
outside the task's own context would open a span the task could not close).

The task is made by ``spawn`` (an actor's :meth:`~exchange_runner.actors.base.Actor.spawn`: owned
by the actor's TaskGroup, an unexpected failure logged, never fatal to the group).
"""

from __future__ import annotations

import asyncio
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar, cast

from strategy_client.telemetry import tracing_enabled

__all__ = ["start_eager", "Spawn"]

R = TypeVar("R")
Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


async def _deliver(coro: Coroutine[Any, Any, R], out: asyncio.Future[R]) -> None:
    """Await ``coro``; its result or failure goes to ``out``. A failure nobody waits for any
    more (``out`` already settled) is raised on, for the task's guard to log."""
    try:
        value = await coro
    except asyncio.CancelledError:
        out.cancel()
        raise
    except Exception as exc:
        if out.done():
            raise
        out.set_exception(exc)
        return
    if not out.done():
        out.set_result(value)


class _Primed(Coroutine[Any, Any, None]):
    """A coroutine whose first step has already run (:meth:`prime`): the task's first
    ``send`` gets back what that step waits on instead of stepping it again; every later
    ``send``/``throw`` goes to the coroutine itself."""

    __slots__ = ("_coro", "_waiting", "_primed", "_finished")

    def __init__(self, coro: Coroutine[Any, Any, None]) -> None:
        self._coro = coro
        self._waiting: Any = None
        self._primed = False
        self._finished = False

    def prime(self) -> None:
        """Run the first step now. The coroutine delivers its own failures; anything that still
        escapes it (an exit) goes to the caller, and the task then ends at its first step."""
        self._primed = self._finished = True
        try:
            self._waiting = self._coro.send(None)
        except StopIteration:
            return
        self._finished = False

    def send(self, value: Any) -> Any:
        if self._primed:
            self._primed = False
            if self._finished:
                raise StopIteration(None)
            return self._waiting
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._primed = False
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, None]:
        return cast("Generator[Any, None, None]", self)  # send/throw/close delegate as a generator's would

    def __iter__(self) -> _Primed:
        return self

    def __next__(self) -> Any:
        return self.send(None)


def start_eager(spawn: Spawn, coro: Coroutine[Any, Any, R], name: str) -> asyncio.Future[R]:
    """Run ``coro`` up to its first wait now and the rest as the task ``spawn(…, name)`` makes;
    the future gets its result or its failure (see the module doc for when it is not eager)."""
    loop = asyncio.get_running_loop()
    out: asyncio.Future[R] = loop.create_future()
    delivery = _deliver(coro, out)
    if asyncio.current_task() is not None or tracing_enabled():
        spawn(delivery, name)
        return out
    primed = _Primed(delivery)
    task = spawn(primed, name)
    _enter_task(loop, task)
    try:
        primed.prime()
    finally:
        _leave_task(loop, task)
    return out
