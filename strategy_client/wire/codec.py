"""Encoding and decoding of frames with reused msgspec msgpack encoders/decoders.

Commands arriving at a runner come from anyone who can reach its ROUTER, so they are decoded by
:func:`decode_command_header` and :func:`decode_command`, which refuse with a :class:`FrameError`
carrying the error code to answer with — and nothing else escapes them:

* **nesting** is bounded *before* msgspec sees the bytes (its decoder recurses; a 1 KB frame
  nested 1,000 deep raised ``RecursionError``). :func:`check_nesting` counts the bytes that
  could open a map or an array (one C pass, ``bytes.translate``): a frame with at most
  :data:`MAX_DEPTH` of them cannot nest deeper, which is every real request. Otherwise a
  precise walk of the MessagePack structure (pure Python, stops at the first level past the
  bound; at most one step per byte of a frame bounded by ``MAX_FRAME_BYTES``) decides;
* **values** are checked by the types (``model/order.py``: numbers and client ids; string
  lengths in ``envelope.py`` and ``messages.py``): a violation is ``invalid_params``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .envelope import MAX_DEPTH, Header
from .errors import ErrorCode
from .messages import METHODS, Event, Reply, Request

__all__ = [
    "encode",
    "decode_header",
    "decode_request",
    "decode_reply",
    "decode_event",
    "decode_command_header",
    "decode_command",
    "check_nesting",
    "classify_request_error",
    "FrameError",
]

_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_header = msgspec.msgpack.Decoder(Header)
_request = msgspec.msgpack.Decoder(Request)
_reply = msgspec.msgpack.Decoder(Reply)
_event = msgspec.msgpack.Decoder(Event)
_any = msgspec.msgpack.Decoder()


class FrameError(ValueError):
    """A command frame refused at decode; ``code`` is the error code to answer with."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


# bytes that open a map or an array: fixmap, fixarray, array16/32, map16/32
_OPENERS = bytes(range(0x80, 0xA0)) + b"\xdc\xdd\xde\xdf"
# (length bytes, extra bytes) of each 0xc0-0xdf type; containers are handled apart
_SIZED: dict[int, tuple[int, int]] = {
    0xC0: (0, 0), 0xC2: (0, 0), 0xC3: (0, 0),  # nil, false, true
    0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),  # bin 8/16/32
    0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),  # ext 8/16/32 (+ type byte)
    0xCA: (0, 4), 0xCB: (0, 8),  # float 32/64
    0xCC: (0, 1), 0xCD: (0, 2), 0xCE: (0, 4), 0xCF: (0, 8),  # uint
    0xD0: (0, 1), 0xD1: (0, 2), 0xD2: (0, 4), 0xD3: (0, 8),  # int
    0xD4: (0, 2), 0xD5: (0, 3), 0xD6: (0, 5), 0xD7: (0, 9), 0xD8: (0, 17),  # fixext
    0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),  # str 8/16/32
}  # fmt: skip
_CONTAINERS: dict[int, tuple[int, int]] = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def check_nesting(data: bytes, what: str = "frame", limit: int = MAX_DEPTH) -> None:
    """Raise :class:`FrameError` (``decode_error``) when ``data`` nests maps/arrays deeper
    than ``limit``. Malformed or truncated input is left for the decoder to report."""
    if len(data) - len(data.translate(None, _OPENERS)) <= limit:
        return  # fewer openers than the limit: cannot nest deeper (every real frame)
    if _depth_exceeds(data, limit):
        raise FrameError(ErrorCode.DECODE_ERROR, f"{what}: maps/arrays nested deeper than {limit} levels")


def _depth_exceeds(data: bytes, limit: int) -> bool:  # one MessagePack walk
    n = len(data)
    pos = 0
    stack: list[int] = []  # values left in each enclosing container
    left = 1  # values left at the current level (the top holds one)
    while True:
        while left == 0:
            if not stack:
                return False
            left = stack.pop()
        if pos >= n:
            return False  # truncated: the decoder says so
        b = data[pos]
        pos += 1
        left -= 1
        if b < 0x80 or b >= 0xE0:  # fixint
            continue
        if b < 0xA0:  # fixmap / fixarray
            count = (b & 0x0F) * (2 if b < 0x90 else 1)
        elif b < 0xC0:  # fixstr
            pos += b & 0x1F
            continue
        elif b in _CONTAINERS:
            size, per = _CONTAINERS[b]
            count = int.from_bytes(data[pos : pos + size], "big") * per
            pos += size
        else:
            sized = _SIZED.get(b)
            if sized is None:  # 0xc1: never used; the decoder refuses it
                return False
            size, extra = sized
            length = int.from_bytes(data[pos : pos + size], "big") if size else 0
            pos += size + extra + length
            continue
        if len(stack) >= limit:  # this container opens level len(stack) + 1
            return True
        if count:
            stack.append(left)
            left = count


def decode_command_header(data: bytes) -> Header:
    """A command's header; :class:`FrameError` (``decode_error``) for anything else."""
    check_nesting(data, "header")
    try:
        return _header.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FrameError(ErrorCode.DECODE_ERROR, f"header: {exc}") from None


def decode_command(data: bytes) -> Request:
    """A command's request; :class:`FrameError` with ``decode_error``, ``unknown_method`` or
    ``invalid_params`` (a field missing, of the wrong type or out of range) for anything else."""
    check_nesting(data, "request")
    try:
        return _request.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        kind, method = classify_request_error(data)
        code = ErrorCode(kind)
        message = f"unknown method {method[:64]!r}" if code is ErrorCode.UNKNOWN_METHOD else str(exc)
        raise FrameError(code, message) from None


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def decode_header(data: bytes) -> Header:
    return _header.decode(data)


def decode_request(data: bytes) -> Request:
    return _request.decode(data)


def decode_reply(data: bytes) -> Reply:
    return _reply.decode(data)


def decode_event(data: bytes) -> Event:
    return _event.decode(data)


def classify_request_error(data: bytes) -> tuple[str, str]:
    """After a request failed to decode: ("unknown_method" | "invalid_params" | "decode_error", method)."""
    try:
        raw = _any.decode(data)
    except msgspec.DecodeError:
        return "decode_error", ""
    if not isinstance(raw, dict):
        return "decode_error", ""
    method = raw.get("method")
    if not isinstance(method, str):
        return "invalid_params", ""
    if method not in METHODS:
        return "unknown_method", method
    return "invalid_params", method
