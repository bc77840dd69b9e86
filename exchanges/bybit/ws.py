"""Bybit's dialect of the shared resilient WebSocket (:mod:`exchanges.transport.ws`).

What is Bybit's own:

- a private stream sends ``{"op":"auth","args":[key, expires, signature]}`` first and waits
  for its answer; a refusal is reported (``StreamStatus`` reason ``auth failed: ...``) and
  retried with backoff (a wrong key keeps backing off);
- subscriptions are topics, sent as ``{"req_id":..., "op":"subscribe","args":[...]}`` (at most
  ``max_args`` a request: 10 on spot); acknowledgements are consumed here, refusals counted and
  logged;
- keep-alive is the text ``{"op":"ping"}`` every ``ping_interval_s`` (20 s recommended); no
  message at all within ``ping_timeout_s`` after it closes the connection.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from typing import Literal, Unpack

import msgspec
from loguru import logger

from exchanges.transport.ws import Keepalive, LoginRefused, ResilientWs, Send, WsDialect, WsOptions

__all__ = ["BybitDialect", "BybitWs", "AuthArgs"]

AuthArgs = Callable[[], list[object]]
"""Builds the ``args`` of the auth request (key, expires, signature) right before it is sent."""


class _Control(msgspec.Struct, kw_only=True):
    """Any non-data message: replies to auth/subscribe/unsubscribe/ping."""

    op: str = ""
    success: bool | None = None
    ret_msg: str = ""
    req_id: str | int | None = None
    topic: str | None = None


_decode_control = msgspec.json.Decoder(_Control).decode
_CONTROL_OPS = frozenset({"auth", "subscribe", "unsubscribe", "ping", "pong"})


class BybitDialect(WsDialect[str]):
    """auth, subscribe by ``req_id``, JSON ping (see the module doc)."""

    login_word = "auth"

    def __init__(self, auth: AuthArgs | None = None, max_args: int = 10) -> None:
        self._auth = auth
        self.has_login = auth is not None
        self._max_args = max(1, max_args)
        self._req_ids = itertools.count(1)
        self._pending: dict[str, tuple[str, list[str]]] = {}
        self._auth_reply: asyncio.Future[_Control] | None = None
        self.keepalive = Keepalive(text=self._ping)

    def _ping(self) -> bytes:
        return msgspec.json.encode({"req_id": f"ping-{next(self._req_ids)}", "op": "ping"})

    def reset(self) -> None:
        self._pending.clear()

    async def login(self, send: Send) -> None:
        assert self._auth is not None
        reply_fut: asyncio.Future[_Control] = asyncio.get_running_loop().create_future()
        self._auth_reply = reply_fut
        try:
            req_id = f"auth-{next(self._req_ids)}"
            await send(msgspec.json.encode({"req_id": req_id, "op": "auth", "args": self._auth()}))
            reply = await reply_fut
        finally:
            self._auth_reply = None
        if not reply.success:
            raise LoginRefused(reply.ret_msg or "refused")

    def connection_lost(self) -> None:
        fut = self._auth_reply
        if fut is not None and not fut.done():
            fut.set_exception(LoginRefused("connection closed before the answer"))

    def control_frames(self, op: Literal["subscribe", "unsubscribe"], subs: list[str]) -> list[bytes]:
        frames = []
        for i in range(0, len(subs), self._max_args):
            chunk = subs[i : i + self._max_args]
            req_id = f"{op[:5]}-{next(self._req_ids)}"
            self._pending[req_id] = (op, chunk)
            frames.append(msgspec.json.encode({"req_id": req_id, "op": op, "args": chunk}))
        return frames

    def on_message(self, data: bytes) -> bool:
        """True when ``data`` was a control reply (consumed here), False for a data frame."""
        try:
            msg = _decode_control(data)
        except msgspec.DecodeError:
            return False  # malformed: the consumer counts it
        if msg.topic is not None:
            return False
        if msg.op not in _CONTROL_OPS and msg.success is None:
            return False
        if msg.op == "auth":
            if self._auth_reply is not None and not self._auth_reply.done():
                self._auth_reply.set_result(msg)
            return True
        if msg.op in ("ping", "pong") or msg.ret_msg == "pong":
            return True
        pending = self._pending.pop(str(msg.req_id), None) if msg.req_id is not None else None
        if msg.success is False:
            self.ws.stats.control_errors += 1
            logger.error("{}: {} {} refused: {}", self.ws.name, msg.op or "request", pending, msg.ret_msg)
        return True


class BybitWs(ResilientWs[str]):
    """A Bybit stream: :class:`ResilientWs` with the :class:`BybitDialect`."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        topics: Iterable[str] = (),
        auth: AuthArgs | None = None,
        max_args: int = 10,
        **options: Unpack[WsOptions],
    ) -> None:
        super().__init__(name, url, BybitDialect(auth, max_args), subscriptions=topics, **options)
