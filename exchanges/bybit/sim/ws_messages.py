"""WebSocket request and reply frames shared by the public and private endpoints (§6, §7).

Requests: ``{"op": "subscribe"|"unsubscribe"|"ping"|"auth", "args": [...], "req_id": "..."}``.
Replies: ``{"success", "ret_msg", "conn_id", "req_id"?, "op"}`` (``req_id`` echoed when sent);
the private ping answer is ``{"req_id", "op": "pong", "args": ["<ms>"], "conn_id"}``.
"""

from __future__ import annotations

import msgspec

__all__ = ["WsRequest", "OpReply", "PrivatePong", "decode_request", "BadRequest"]


class WsRequest(msgspec.Struct, kw_only=True):
    op: str
    args: list[object] = msgspec.field(default_factory=list)
    req_id: str | int | None = None


class OpReply(msgspec.Struct, kw_only=True, omit_defaults=True):
    success: bool
    ret_msg: str
    conn_id: str
    req_id: str = ""
    op: str = ""


class PrivatePong(msgspec.Struct, kw_only=True, omit_defaults=True):
    req_id: str = ""
    op: str
    args: list[str]
    conn_id: str


class BadRequest(Exception):
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


_decode = msgspec.json.Decoder(WsRequest).decode


def decode_request(raw: bytes) -> WsRequest:
    """The request in ``raw``; :class:`BadRequest` with Bybit's text when unreadable."""
    try:
        req = _decode(raw)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"error:invalid request: {exc}") from None
    except msgspec.DecodeError:
        raise BadRequest("error:invalid json") from None
    return req
