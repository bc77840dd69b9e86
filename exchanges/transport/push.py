"""A push-mode :class:`~exchanges.transport.ws.FrameSink` over per-connection parsers.

Each connection's frames go to its own parser (by ``Frame.source``, the connection's name); the
parser returns the items the frame held (none for a control or a bad frame, which it tallies
itself) and each is handed to ``emit``. Statuses go to ``on_status``. Quick and never raising,
as a ``FrameSink`` must be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from loguru import logger

from exchanges.base import StreamStatus

from .ws import Frame, ResilientWs

__all__ = ["ParsingSink", "Parser", "run_connections", "log_status"]

T = TypeVar("T")
Parser = Callable[[Frame], Iterable[T]]


class ParsingSink(Generic[T]):
    __slots__ = ("parsers", "_emit", "_on_status")

    def __init__(self, emit: Callable[[T], None], on_status: Callable[[StreamStatus], None]) -> None:
        self.parsers: dict[str, Parser[T]] = {}
        self._emit = emit
        self._on_status = on_status

    def frame(self, frame: Frame) -> None:
        emit = self._emit
        for item in self.parsers[frame.source](frame):
            emit(item)

    def status(self, status: StreamStatus) -> None:
        self._on_status(status)


def log_status(status: StreamStatus) -> None:
    logger.debug("{} connected={} {}", status.stream, status.connected, status.reason)


async def run_connections(conns: Sequence[ResilientWs[Any]]) -> None:
    """Run every connection until cancelled (one TaskGroup owns them)."""
    async with asyncio.TaskGroup() as tg:
        for ws in conns:
            tg.create_task(ws.run(), name=ws.name)
