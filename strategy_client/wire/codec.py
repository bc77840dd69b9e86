"""Encoding and decoding of frames with reused msgspec msgpack encoders/decoders."""

from __future__ import annotations

from typing import Any, cast

import msgspec

from .envelope import Header
from .messages import METHODS, Event, Reply, Request

__all__ = [
    "encode",
    "decode_header",
    "decode_request",
    "decode_reply",
    "decode_event",
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
    pass


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def decode_header(data: bytes) -> Header:
    return _header.decode(data)


def decode_request(data: bytes) -> Request:
    return cast(Request, _request.decode(data))


def decode_reply(data: bytes) -> Reply:
    return cast(Reply, _reply.decode(data))


def decode_event(data: bytes) -> Event:
    return cast(Event, _event.decode(data))


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
