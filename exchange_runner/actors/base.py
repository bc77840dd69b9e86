"""Actor plumbing: an inbox of messages, replies through futures, owned tasks.

An actor's state is touched only by its own loop (``_handle``). Work that waits on the venue
runs as a task in the actor's TaskGroup and sends its result back through the inbox, so the
loop never blocks on I/O and never shares state with another task.

While tracing is on, a message carries its sender's context (``Envelope.ctx``) and the actor
handles it inside that context, so the tasks it spawns for the message (a venue call) continue
the sender's trace. While tracing is off, ``ctx`` is None and nothing is copied.
"""

from __future__ import annotations

import asyncio
import contextvars
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

from loguru import logger

from strategy_client.telemetry import capture_context

from ..bus import BlockingQueue

__all__ = ["Actor", "Envelope"]

M = TypeVar("M")


class Envelope(Generic[M]):
    __slots__ = ("msg", "reply", "ctx")

    def __init__(self, msg: M, reply: asyncio.Future[Any] | None, ctx: contextvars.Context | None = None) -> None:
        self.msg = msg
        self.reply = reply
        self.ctx = ctx


class Actor(ABC, Generic[M]):
    def __init__(self, name: str, inbox_size: int = 4096) -> None:
        self.name = name
        self.inbox: BlockingQueue[Envelope[M]] = BlockingQueue(inbox_size, name=f"{name}.inbox")
        self._tg: asyncio.TaskGroup | None = None
        self.errors = 0

    async def ask(self, msg: M, timeout_s: float = 30.0) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.inbox.put(Envelope(msg, fut, capture_context()))
        return await asyncio.wait_for(fut, timeout_s)

    async def tell(self, msg: M) -> None:
        await self.inbox.put(Envelope(msg, None, capture_context()))

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        if self._tg is None:
            raise RuntimeError(f"actor {self.name} is not running")
        return self._tg.create_task(self._guard(coro, name), name=f"{self.name}.{name}")

    async def _guard(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            self.errors += 1
            logger.exception("{}: task {} failed", self.name, name)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            self.on_start()
            while True:
                env = await self.inbox.get()
                try:
                    result = self._handle(env.msg) if env.ctx is None else env.ctx.run(self._handle, env.msg)
                    if asyncio.iscoroutine(result):
                        result = await result
                except Exception as exc:  # noqa: BLE001 - handed to the caller, actor keeps running
                    if env.reply is not None and not env.reply.done():
                        env.reply.set_exception(exc)
                    else:
                        self.errors += 1
                        logger.exception("{}: handling {} failed", self.name, type(env.msg).__name__)
                    continue
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


def _chain(src: asyncio.Future[Any], dst: asyncio.Future[Any]) -> None:
    def done(f: asyncio.Future[Any]) -> None:
        if dst.done():
            return
        if f.cancelled():
            dst.cancel()
        elif f.exception() is not None:
            dst.set_exception(f.exception())  # type: ignore[arg-type]
        else:
            dst.set_result(f.result())

    src.add_done_callback(done)
