"""Actor plumbing: an inbox of messages, replies through futures, owned tasks.

An actor's state is touched only by its own loop (``_handle``). Work that waits on the venue
runs as a task in the actor's TaskGroup and sends its result back through the inbox, so the
loop never blocks on I/O and never shares state with another task.

While tracing is on, a message carries its sender's context (``Envelope.ctx``) and the actor
handles it inside that context, so the tasks it spawns for the message (a venue call) continue
the sender's trace. While tracing is off, ``ctx`` is None and nothing is copied.

:meth:`Actor.ask_nowait` hands a message over without waiting. When the actor is idle — its
loop parked on an empty inbox, nothing half-handled — the message is handled at once, in the
caller's turn of the event loop, exactly as the loop would handle it next (run to completion;
order is kept because nothing is queued before it). Otherwise it is queued. This saves the
command path one turn of the event loop (``docs/performance.md``); the state is still touched
only by ``_handle``, one message at a time.

:meth:`Actor.ask` is typed by the message: a message is a
:class:`~strategy_client.wire.Query` of what the actor answers it with — the wire requests of
the command registry carry their reply type, and an actor that answers one (``ANSWERS``) answers
with that reply; internal messages say what they answer (``Query[int]``...).
"""

from __future__ import annotations

import asyncio
import contextvars
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Generic, TypeVar, cast

from loguru import logger

from strategy_client.telemetry import capture_context
from strategy_client.wire import Query

from ..bus import BlockingQueue

__all__ = ["Actor", "Envelope", "mapped"]

M = TypeVar("M")
R = TypeVar("R")


class Envelope(Generic[M]):
    __slots__ = ("msg", "reply", "ctx")

    def __init__(self, msg: M, reply: asyncio.Future[Any] | None, ctx: contextvars.Context | None = None) -> None:
        self.msg = msg
        self.reply = reply
        self.ctx = ctx


class _Continue:
    """A handler's coroutine result, to be awaited by the actor's loop (see ``_deliver``)."""

    __slots__ = ("coro",)

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro


class Actor(ABC, Generic[M]):
    #: The registry's requests this actor answers, each with its declared reply: the runner's
    #: command service hands such a request, routed and checked, straight to this actor.
    ANSWERS: ClassVar[tuple[type, ...]] = ()

    def __init__(self, name: str, inbox_size: int = 4096) -> None:
        self.name = name
        self.inbox: BlockingQueue[Envelope[M]] = BlockingQueue(inbox_size, name=f"{name}.inbox")
        self._tg: asyncio.TaskGroup | None = None
        self._idle = False  # True while the loop waits on an empty inbox
        self.errors = 0
        self.handled_at_once = 0  # messages ask_nowait handled without queueing

    async def ask(self, msg: Query[R], timeout_s: float = 30.0) -> R:
        """Send ``msg`` and wait for the actor's answer; ``TimeoutError`` after ``timeout_s``.

        The reply future is awaited directly with a timer beside it (not ``asyncio.wait_for``,
        which in Python 3.11 relays the result through a second future: two more turns of the
        event loop on every command)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        await self.inbox.put(Envelope(cast(M, msg), fut, capture_context()))
        timer = loop.call_later(timeout_s, _expire, fut)
        try:
            return await fut
        finally:
            timer.cancel()

    def ask_nowait(self, msg: Query[R]) -> asyncio.Future[R] | None:
        """Hand ``msg`` over without waiting: the future the actor answers through, or None
        when the inbox is full (the caller then uses :meth:`ask`, which waits for room). An
        idle actor handles it at once (see the module doc). The caller owns the timeout."""
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        ctx = capture_context()
        if self._idle and ctx is None and not self.inbox.depth:
            self.handled_at_once += 1
            self._idle = False
            try:
                self._deliver(cast(M, msg), fut)
            finally:
                self._idle = not self.inbox.depth
            return fut
        if not self.inbox.try_put(Envelope(cast(M, msg), fut, ctx)):
            return None
        return fut

    def _deliver(self, msg: M, reply: asyncio.Future[Any]) -> None:
        """Handle ``msg`` now (the actor is idle); a coroutine result is awaited by the loop next."""
        try:
            result = self._handle(msg)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, actor keeps running
            reply.set_exception(exc)
            return
        if asyncio.iscoroutine(result):
            # the inbox was empty: the loop takes this next and awaits the coroutine, as it would have
            self.inbox.try_put(cast("Envelope[M]", Envelope(_Continue(result), reply)))
        elif isinstance(result, asyncio.Future):
            _chain(result, reply)
        else:
            reply.set_result(result)

    async def tell(self, msg: M) -> None:
        await self.inbox.put(Envelope(msg, None, capture_context()))

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        if self._tg is None:
            raise RuntimeError(f"actor {self.name} is not running")
        return self._tg.create_task(self._guard(coro, name), name=f"{self.name}.{name}")

    def _future(self, coro: Coroutine[Any, Any, R], name: str = "call") -> asyncio.Future[R]:
        """Run ``coro`` as a task of this actor; the future it returns gets its result or its
        failure (an answer that waits on the venue: return this future from ``_handle``)."""
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                res = await coro
            except asyncio.CancelledError:
                # cancelled, not failed: a future holding a CancelledError that nobody awaits (a
                # reconcile told, not asked, cut short at shutdown) is logged by asyncio as
                # "Future exception was never retrieved" when collected; a cancelled one is not
                fut.cancel()
                raise
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller, who decides
                if not fut.done():
                    fut.set_exception(exc)
                return
            if not fut.done():
                fut.set_result(res)

        self.spawn(run(), name)
        return fut

    async def _guard(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one task fails alone: logged, counted, the actor runs on
            self.errors += 1
            logger.exception("{}: task {} failed", self.name, name)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            self.on_start()
            try:
                while True:
                    self._idle = not self.inbox.depth
                    env = await self.inbox.get()
                    self._idle = False
                    await self._process(env)
            finally:
                self._idle = False

    async def _process(self, env: Envelope[Any]) -> None:
        try:
            if isinstance(env.msg, _Continue):
                result = await env.msg.coro
            else:
                result = self._handle(env.msg) if env.ctx is None else env.ctx.run(self._handle, env.msg)
                if asyncio.iscoroutine(result):
                    result = await result
        except Exception as exc:  # noqa: BLE001 - handed to the caller, actor keeps running
            if env.reply is not None and not env.reply.done():
                env.reply.set_exception(exc)
            else:
                self.errors += 1
                logger.exception("{}: handling {} failed", self.name, type(env.msg).__name__)
            return
        if env.reply is not None and not env.reply.done():
            if isinstance(result, asyncio.Future):
                _chain(result, env.reply)
            else:
                env.reply.set_result(result)

    def on_start(self) -> None:
        """Start the actor's own background tasks (called inside its TaskGroup)."""

    @abstractmethod
    def _handle(self, msg: M) -> Any:
        """Apply one message to the actor's state; may return a value, a coroutine or a future."""


def mapped(src: asyncio.Future[Any], fn: Callable[[Any], R]) -> asyncio.Future[R]:
    """A future answered with ``fn`` of ``src``'s result (or ``src``'s failure): how an actor
    whose answer waits on a fetch answers with the declared reply."""
    out: asyncio.Future[R] = asyncio.get_running_loop().create_future()

    def done(f: asyncio.Future[Any]) -> None:
        if out.done():
            return
        if f.cancelled():
            out.cancel()
        elif (exc := f.exception()) is not None:
            out.set_exception(exc)
        else:
            out.set_result(fn(f.result()))

    src.add_done_callback(done)
    return out


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


def _chain(src: asyncio.Future[Any], dst: asyncio.Future[Any]) -> None:
    def done(f: asyncio.Future[Any]) -> None:
        if dst.done():
            return
        if f.cancelled():
            dst.cancel()
        elif (failure := f.exception()) is not None:
            dst.set_exception(failure)
        else:
            dst.set_result(f.result())

    src.add_done_callback(done)
