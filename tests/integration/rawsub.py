"""A bare SUB socket that records every event (what a client in another language would see)."""

from __future__ import annotations

import asyncio

import zmq
import zmq.asyncio

from strategy_client.wire import Event, decode_event, decode_header

__all__ = ["Sub"]


class Sub:
    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.asyncio.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.events: list[tuple[bytes, int, Event]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            topic, header, body = await self.sock.recv_multipart()
            self.events.append((topic, decode_header(header).seq, decode_event(body)))

    def of(self, cls: type) -> list[Event]:
        return [e for _, _, e in self.events if isinstance(e, cls)]

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.sock.close(linger=0)
