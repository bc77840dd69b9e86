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

import msgspec

__all__ = ["PROTOCOL_VERSION", "MAX_FRAME_BYTES", "Header", "new_message_id", "now_ns"]

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1 << 20  # a request frame above this gets an OVERSIZED error reply

_prefix = os.urandom(4).hex()
_counter = itertools.count(1)


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
    waits (commands; 0 = unspecified). Empty/zero fields are not sent (``omit_defaults``)."""

    v: int = PROTOCOL_VERSION
    id: str = ""
    cid: str = ""
    ts: int = 0
    seq: int = 0
    tp: str = ""
    timeout_ms: int = 0
    tst: str = ""
