"""OKX's dialect of the shared resilient WebSocket (:mod:`exchanges.transport.ws`).

What is OKX's own:

- a private socket logs in first (``login`` op, timestamp in seconds from the server clock;
  OKX answers ``{"event":"login","code":"0"}``, or an error such as 60009 and closes 4001); a
  refused login is reported (``StreamStatus`` reason ``login failed: ...``) and retried with
  backoff, never a tight loop;
- subscriptions are argument objects (``{"channel": "books", "instId": "BTC-USDT"}``), sent as
  ``{"id":..., "op":"subscribe","args":[...]}`` well under OKX's 64 KB a request; the
  ``subscribe``/``unsubscribe``/``error`` events are consumed here;
- keep-alive is the text ``ping`` after ``ping_interval_s`` (< 30 s) without any message; no
  ``pong`` (or other traffic) within ``ping_timeout_s`` means a dead link. The server closes
  idle connections after 30 s (4004);
- connection attempts wait at a shared :class:`~exchanges.okx.gate.ConnectGate` (OKX: 3 per
  second per IP);
- a service-upgrade ``notice`` (64008) and a refused operation for the per-connection budget
  (60014: 480 subscribe/unsubscribe/login an hour) are planned reconnects.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from typing import Literal, Unpack

import msgspec
from loguru import logger

from exchanges.credentials import Credentials
from exchanges.transport.clock import ServerClock
from exchanges.transport.ws import Keepalive, LoginRefused, ResilientWs, Send, WsDialect, WsOptions

from .gate import ConnectGate
from .signing import sign_ws_login
from .ws_schemas import WsEvent, decode_event

__all__ = ["OkxDialect", "OkxWs", "arg_key", "LOGIN_CODES"]

Arg = dict[str, str]
_SUBSCRIBE_BYTES = 4000  # args per subscribe request, well under OKX's 64 KB
LOGIN_CODES = frozenset({"60004", "60005", "60006", "60007", "60009", "60024", "60013", "60022", "60023"})


def arg_key(arg: Arg) -> str:
    """A stable identity of one subscription argument."""
    return "|".join(f"{k}={arg[k]}" for k in sorted(arg))


class OkxDialect(WsDialect[Arg]):
    """login, subscribe by id, text ping, events (see the module doc)."""

    keepalive = Keepalive(text=lambda: b"ping", after_silence=True)

    def __init__(
        self, credentials: Credentials | None, clock: ServerClock | None, gate: ConnectGate | None = None
    ) -> None:
        self._credentials = credentials
        self.has_login = credentials is not None
        self._clock = clock or ServerClock()
        self._gate = gate
        self._ids = itertools.count(1)
        self._pending: dict[str, str] = {}
        self._login_result: asyncio.Future[None] | None = None

    def key(self, sub: Arg) -> str:
        return arg_key(sub)

    def reset(self) -> None:
        self._pending.clear()

    async def before_connect(self) -> None:
        if self._gate is not None:
            await self._gate.wait()

    async def login(self, send: Send) -> None:
        creds = self._credentials
        assert creds is not None
        ts = str(self._clock.now_ms() // 1000)
        args = {"apiKey": creds.api_key, "passphrase": creds.passphrase, "timestamp": ts}
        args["sign"] = sign_ws_login(creds.api_secret, ts)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._login_result = fut
        try:
            await send(msgspec.json.encode({"op": "login", "args": [args]}))
            await fut
        finally:
            self._login_result = None

    def connection_lost(self) -> None:
        self._fail_login("connection closed before the login reply")

    def _fail_login(self, why: str) -> None:
        fut = self._login_result
        if fut is not None and not fut.done():
            fut.set_exception(LoginRefused(why))

    def control_frames(self, op: Literal["subscribe", "unsubscribe"], subs: list[Arg]) -> list[bytes]:
        frames: list[bytes] = []
        chunk: list[Arg] = []
        size = 0
        for arg in subs:
            encoded = len(msgspec.json.encode(arg))
            if chunk and size + encoded > _SUBSCRIBE_BYTES:
                frames.append(self._frame(op, chunk))
                chunk, size = [], 0
            chunk.append(arg)
            size += encoded
        if chunk:
            frames.append(self._frame(op, chunk))
        return frames

    def _frame(self, op: str, args: list[Arg]) -> bytes:
        req_id = f"{op[:3]}{next(self._ids)}"
        self._pending[req_id] = op
        return msgspec.json.encode({"id": req_id, "op": op, "args": args})

    def on_message(self, data: bytes) -> bool:
        if data == b"pong":
            return True
        if data[:9] == b'{"event":' or (data[:1] == b"{" and b'"event":' in data[:120]):
            self._handle_event(data)
            return True
        return False

    def _handle_event(self, data: bytes) -> None:
        try:
            ev = decode_event(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.ws.stats.decode_errors.record("event", data, exc)
            return
        if ev.event == "login":
            fut = self._login_result
            if ev.code == "0" and fut is not None and not fut.done():
                fut.set_result(None)
        elif ev.event in ("subscribe", "unsubscribe", "channel-conn-count"):
            self._pending.pop(ev.id, None)
        elif ev.event == "notice":
            logger.warning("{}: notice {} {}; reconnecting", self.ws.name, ev.code, ev.msg)
            self.ws.request_reconnect(f"notice {ev.code}")
        elif ev.event == "error":
            self._on_error(ev)
        else:
            self.ws.stats.decode_errors.record(f"event:{ev.event}", data)

    def _on_error(self, ev: WsEvent) -> None:
        if self._login_result is not None and (ev.code in LOGIN_CODES or ev.code.startswith("600")):
            self._fail_login(f"{ev.code} {ev.msg}")
            return
        stats = self.ws.stats
        stats.control_errors += 1
        op = self._pending.pop(ev.id, "request")
        stats.last_error = f"{ev.code} {ev.msg}"
        logger.error("{}: {} failed: code {} {}", self.ws.name, op, ev.code, ev.msg)
        if ev.code == "60014":  # the per-connection operation budget is spent: a new one
            self.ws.request_reconnect("operation limit (60014)")


class OkxWs(ResilientWs[Arg]):
    """An OKX socket: :class:`ResilientWs` with the :class:`OkxDialect` (8 MB frames)."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        credentials: Credentials | None = None,
        clock: ServerClock | None = None,
        gate: ConnectGate | None = None,
        subscriptions: Iterable[Arg] = (),
        **options: Unpack[WsOptions],
    ) -> None:
        options.setdefault("max_message_bytes", 8 * 1024 * 1024)
        super().__init__(
            name, url, OkxDialect(credentials, clock, gate), subscriptions=[dict(a) for a in subscriptions], **options
        )
