"""Connection state of a ZeroMQ socket to one endpoint, from libzmq's monitor events.

ZeroMQ reconnects by itself and hides connection state; a client that must fail fast when its
runner is gone needs it. :class:`ConnectionMonitor` reads the socket's monitor (a PAIR socket)
from the event loop's reader callback — no task — and reports *up* after a completed ZMTP
handshake and *down* on a disconnect or a failed handshake. Events about any endpoint other
than the current target (say, a late disconnect of the endpoint the socket just left) are ignored.

A CURVE handshake the runner refuses (this client's key is not in its allow-list) is final for
libzmq — it does not reconnect after a protocol error — so the monitor dials the endpoint again
every ``redial_s`` (2 s) itself: a key added to the runner's allow-list later is admitted
without restarting the client. The reason then names the refusal.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from typing import Any, cast

import zmq

__all__ = ["ConnectionMonitor", "fd_of", "readable", "recv_frames"]

log = logging.getLogger("strategy_client.connection")

_WATCHED = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_CONNECT_RETRIED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_FAILED = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
_HEAD = struct.Struct("=Hi")

StateCallback = Callable[[bool, str], None]


def fd_of(sock: zmq.Socket[Any]) -> int:
    return cast(int, sock.getsockopt(zmq.FD))


# The compiled calls under pyzmq's Python wrappers, with integer flags: per event, the wrappers
# (``recv_multipart``, ``getsockopt``, the enum flag arithmetic) and a ``zmq.Again`` raised at
# the end of every read-out cost more than libzmq's reads themselves (docs/performance.md).
_recv = zmq.backend.Socket.recv
_get = zmq.backend.Socket.get
_EVENTS, _POLLIN, _RCVMORE, _NOBLOCK = int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.RCVMORE), int(zmq.NOBLOCK)


def readable(sock: zmq.Socket[Any]) -> bool:
    """A whole message is queued on ``sock`` (``EVENTS & POLLIN``; resets the fd's edge)."""
    return bool(cast(int, _get(sock, _EVENTS)) & _POLLIN)


def recv_frames(sock: zmq.Socket[Any]) -> list[bytes]:
    """The next message's frames, without blocking (``zmq.Again`` when none is queued)."""
    frames: list[bytes] = [_recv(sock, _NOBLOCK)]
    while _get(sock, _RCVMORE):
        frames.append(_recv(sock, _NOBLOCK))
    return frames


class ConnectionMonitor:
    """``up`` is True between a handshake and the next disconnect of the target endpoint."""

    def __init__(self, sock: zmq.Socket[Any], target: str, on_change: StateCallback, *, redial_s: float = 2.0) -> None:
        self.target = target
        self.redial_s = redial_s
        self.refusals = 0  # handshakes the peer refused (CURVE key not admitted)
        self._redial: asyncio.TimerHandle | None = None
        self.up = False
        self.ever_up = False
        self.reason = "connecting"
        self.changed_at = time.monotonic()
        self.disconnects = 0
        self._on_change = on_change
        self._loop = asyncio.get_running_loop()
        self._mon = cast(zmq.Socket[bytes], sock.get_monitor_socket(_WATCHED))
        self._owner = sock
        self._fd = fd_of(self._mon)
        self._loop.add_reader(self._fd, self._on_readable)
        self._loop.call_soon(self._on_readable)  # events queued before the reader was registered

    def retarget(self, target: str) -> None:
        self.target = target
        self.ever_up = False
        self._set(False, "connecting")

    def close(self) -> None:
        if self._redial is not None:
            self._redial.cancel()
            self._redial = None
        try:
            self._loop.remove_reader(self._fd)
        except (RuntimeError, ValueError):  # loop already closed
            pass
        try:
            self._owner.disable_monitor()
        except zmq.ZMQError:
            pass
        self._mon.close(linger=0)

    def _dial_again(self, target: str) -> None:
        self._redial = None
        if target != self.target:
            return  # retargeted meanwhile: the socket already dialled the new endpoint
        try:
            self._owner.disconnect(target)
        except zmq.ZMQError:
            pass  # libzmq already dropped the endpoint
        try:
            self._owner.connect(target)
        except zmq.ZMQError as exc:
            log.debug("dialling %s again failed: %s", target, exc)

    def since_s(self) -> float:
        return time.monotonic() - self.changed_at

    def _set(self, up: bool, reason: str) -> None:
        if up == self.up:
            self.reason = reason
            return
        self.up = up
        self.reason = reason
        self.changed_at = time.monotonic()
        if up:
            self.ever_up = True
        else:
            self.disconnects += 1
        self._on_change(up, reason)

    def _on_readable(self) -> None:
        mon = self._mon
        try:
            while cast(int, mon.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                frames = mon.recv_multipart(zmq.NOBLOCK)
                if len(frames) != 2 or len(frames[0]) != _HEAD.size:
                    continue
                event, _value = _HEAD.unpack(frames[0])
                if frames[1].decode(errors="replace") != self.target:
                    continue
                self._apply(event)
        except zmq.Again:
            return
        except zmq.ZMQError as exc:  # the socket was closed under us
            log.debug("monitor of %s stopped: %s", self.target, exc)

    def _apply(self, event: int) -> None:
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._set(True, "connected")
        elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self.refusals += 1
            self._set(False, "the runner refused this client's CURVE key (not in its allow-list?)")
            if self._redial is None:
                self._redial = self._loop.call_later(self.redial_s, self._dial_again, self.target)
        elif event == zmq.EVENT_DISCONNECTED:
            if self._redial is None:  # (after a refusal, keep its reason)
                self._set(False, "connection lost")
        elif event == zmq.EVENT_CONNECT_RETRIED:
            self._set(False, "nothing answers there (retrying)")
        elif event & _FAILED:
            self._set(False, "handshake failed (not a ZeroMQ peer of this protocol?)")
