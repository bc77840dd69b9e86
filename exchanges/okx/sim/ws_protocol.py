"""Frames of the OKX WebSocket protocol the venue sends (reference §2, §6, §7).

Events: ``{"id"?,"event":"subscribe"|"unsubscribe","arg":{...},"connId":...}``,
``{"event":"login","code":"0","msg":"","connId":...}``,
``{"id"?,"event":"error","code":"600xx","msg":...,"connId":...}``, ``{"event":"notice",...}``.
Pushes: ``{"arg":{...},"data":[...]}`` (+ ``action`` for books, ``eventType``/``curPage``/
``lastPage`` for positions and account). Order-operation replies: the REST envelope plus
``id`` and ``op``.
"""

from __future__ import annotations

import msgspec

__all__ = ["SubscribeEvent", "ErrorEvent", "LoginEvent", "OpReply", "Push", "BookPush", "PagedPush", "encode"]

_enc = msgspec.json.Encoder()


def encode(obj: object) -> bytes:
    return _enc.encode(obj)


class SubscribeEvent(msgspec.Struct, omit_defaults=True):
    event: str
    arg: dict[str, str]
    connId: str
    id: str = ""


class ErrorEvent(msgspec.Struct, omit_defaults=True):
    event: str
    code: str
    msg: str
    connId: str
    id: str = ""


class LoginEvent(msgspec.Struct):
    event: str
    code: str
    msg: str
    connId: str


class OpReply(msgspec.Struct, omit_defaults=True):
    id: str
    op: str
    code: str
    msg: str
    data: list[object]
    inTime: str = ""
    outTime: str = ""


class Push(msgspec.Struct):
    arg: dict[str, str]
    data: list[object]


class BookPush(msgspec.Struct):
    arg: dict[str, str]
    action: str
    data: list[object]


class PagedPush(msgspec.Struct):
    arg: dict[str, str]
    eventType: str
    curPage: int
    lastPage: bool
    data: list[object]
