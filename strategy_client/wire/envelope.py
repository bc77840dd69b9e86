"""The envelope: frame layout and the header every frame carries.

Frames (ZeroMQ multipart):

* command, client DEALER → runner ROUTER: ``[header, request]`` (the ROUTER prepends the peer
  identity on receipt and the runner addresses its reply with it);
* reply, runner → client: ``[header, reply]`` with ``header.cid`` = the request's ``id``;
* event, runner PUB → client SUB: ``[topic, header, event]`` with ``header.seq`` the per-topic
  sequence number (1, 2, 3… per topic; a jump means the subscriber missed events).
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Annotated

import msgspec

__all__ = [
    "PROTOCOL_VERSION",
    "MAX_FRAME_BYTES",
    "MAX_DEPTH",
    "MAX_ID_LEN",
    "MAX_TRACESTATE_LEN",
    "Header",
    "MESSAGE_ID_PREFIX",
    "new_message_id",
    "next_message_number",
    "now_ns",
]

PROTOCOL_VERSION = 1
#: A command (header + request) above this many bytes gets an ``oversized`` error reply. The
#: largest real request, ``get_book_snapshot`` naming every instrument, is a few KiB.
MAX_FRAME_BYTES = 64 * 1024
#: Maps/arrays nested deeper than this in a header or request: ``decode_error``, refused
#: before the decoder (which recurses) sees the frame. Real requests nest 3 deep.
MAX_DEPTH = 32
MAX_ID_LEN = 128  # ``id``, ``cid``, ``tp``
MAX_TRACESTATE_LEN = 512  # W3C: at most 32 entries

_Id = Annotated[str, msgspec.Meta(max_length=MAX_ID_LEN)]

_prefix = os.urandom(4).hex()
_counter = itertools.count(1)

#: What every :func:`new_message_id` of this process starts with (``<prefix>-``), and the
#: counter's next number: a hot publisher builds the same ids inline (exchange_runner/publisher.py).
MESSAGE_ID_PREFIX = _prefix + "-"
next_message_number = _counter.__next__


def new_message_id() -> str:
    """Unique per process run: random prefix + counter (cheaper than uuid4 on the hot path)."""
    return f"{_prefix}-{next(_counter)}"


def now_ns() -> int:
    return time.time_ns()


class Header(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``v`` protocol version; ``id`` message id; ``cid`` correlation id (on replies, the
    request id); ``ts`` sender wall clock (ns since epoch) at send; ``seq`` per-topic sequence
    (events only); ``tp`` W3C ``traceparent`` and ``tst`` W3C ``tracestate`` for tracing across
    processes (optional; see ``strategy_client.telemetry``); ``timeout_ms`` how long the caller
    waits (commands; 0 = unspecified); ``ep`` the runner instance's epoch id (replies: a new
    value means a new runner process); ``jseq`` on a journaled event (exec, pos, acct, funding
payments) the runner's journal sequence, runner-wide and continued across restarts
(``ReplayEvents`` replays after it). Empty/zero fields are not sent (``omit_defaults``)."""

    v: int = PROTOCOL_VERSION
    id: _Id = ""
    cid: _Id = ""
    ts: int = 0
    seq: int = 0
    tp: _Id = ""
    timeout_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    tst: Annotated[str, msgspec.Meta(max_length=MAX_TRACESTATE_LEN)] = ""
    ep: _Id = ""
    jseq: Annotated[int, msgspec.Meta(ge=0)] = 0  # events the runner journaled: its journal sequence (replay after it)
