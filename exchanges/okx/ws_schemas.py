"""OKX v5 WebSocket messages as msgspec Structs (reference §2, §6, §7), OKX's field names.

Control events carry ``event``; pushes carry ``arg`` (+ ``action`` for books, ``eventType``
for positions/account) and ``data`` (always an array); order-operation replies carry ``op``
and ``id``. :data:`decode_head` reads just enough of any message to route it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from .rest_schemas import AccountBalance, FundingRateInfo, IndexTicker, MarkPrice, OkxOrder, OpItem, PositionInfo

__all__ = [
    "Arg",
    "Head",
    "WsEvent",
    "BookData",
    "BookMsg",
    "Push",
    "PagedPush",
    "OpReply",
    "decode_head",
    "decode_event",
    "decode_book",
    "decode_funding",
    "decode_mark",
    "decode_index",
    "decode_orders",
    "decode_positions",
    "decode_account",
    "decode_op_reply",
]

T = TypeVar("T")


class Arg(msgspec.Struct):
    channel: str
    instId: str = ""
    instType: str = ""
    ccy: str = ""


class Head(msgspec.Struct):
    """Routing fields of any message."""

    event: str = ""
    arg: Arg | None = None
    op: str = ""
    id: str = ""


class WsEvent(msgspec.Struct):
    event: str
    code: str = ""
    msg: str = ""
    arg: dict[str, str] | None = None
    connId: str = ""
    id: str = ""


class BookData(msgspec.Struct):
    asks: list[list[str]]
    bids: list[list[str]]
    ts: str
    checksum: int = 0
    prevSeqId: int | None = None
    seqId: int | None = None


class BookMsg(msgspec.Struct):
    arg: Arg
    data: list[BookData]
    action: str = "snapshot"


class Push(msgspec.Struct, Generic[T]):
    arg: Arg
    data: list[T]


class PagedPush(msgspec.Struct, Generic[T]):
    arg: Arg
    data: list[T]
    eventType: str = ""
    curPage: int = 1
    lastPage: bool = True


class OpReply(msgspec.Struct):
    id: str
    op: str
    code: str
    msg: str = ""
    data: list[OpItem] = msgspec.field(default_factory=list)


decode_head = msgspec.json.Decoder(Head).decode
decode_event = msgspec.json.Decoder(WsEvent).decode
decode_book = msgspec.json.Decoder(BookMsg).decode
decode_funding = msgspec.json.Decoder(Push[FundingRateInfo]).decode
decode_mark = msgspec.json.Decoder(Push[MarkPrice]).decode
decode_index = msgspec.json.Decoder(Push[IndexTicker]).decode
decode_orders = msgspec.json.Decoder(Push[OkxOrder]).decode
decode_positions = msgspec.json.Decoder(PagedPush[PositionInfo]).decode
decode_account = msgspec.json.Decoder(PagedPush[AccountBalance]).decode
decode_op_reply = msgspec.json.Decoder(OpReply).decode
