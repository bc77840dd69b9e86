"""OKX v5 REST payloads as msgspec Structs (reference §3, §5, §8), OKX's own field names.

Every number arrives as a string and many are ``""`` when they do not apply (``avgPx`` before a
fill, ``ctVal`` on spot), so numeric fields are ``str`` here and ``parse.py`` converts them,
naming the field when one is malformed. Unknown fields are ignored; fields a payload may omit
have defaults. Decoders are built once and reused.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

import msgspec

__all__ = [
    "Envelope",
    "ErrorEnvelope",
    "OpItem",
    "ServerTime",
    "InstrumentInfo",
    "BookSnapshot",
    "Ticker",
    "IndexTicker",
    "MarkPrice",
    "FundingRateInfo",
    "FundingHistory",
    "OkxOrder",
    "BalanceDetail",
    "AccountBalance",
    "PositionInfo",
    "LeverageInfo",
    "AccountConfig",
    "decoder",
    "ERROR_DECODER",
]

T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T]):
    """``{"code":"0","msg":"","data":[...]}``; order operations add per-item ``sCode``."""

    code: str
    msg: str = ""
    data: list[T] = msgspec.field(default_factory=list)
    inTime: str = ""
    outTime: str = ""


class ErrorEnvelope(msgspec.Struct):
    """Just enough of any reply to read its code and message."""

    code: str = ""
    msg: str = ""


class OpItem(msgspec.Struct):
    """One item of an order operation's reply (place, cancel, batch)."""

    ordId: str = ""
    clOrdId: str = ""
    tag: str = ""
    ts: str = ""
    sCode: str = "0"
    sMsg: str = ""
    subCode: str = ""


class ServerTime(msgspec.Struct):
    ts: str


class InstrumentInfo(msgspec.Struct):
    instType: str
    instId: str
    tickSz: str
    lotSz: str
    minSz: str
    state: str = "live"
    baseCcy: str = ""
    quoteCcy: str = ""
    settleCcy: str = ""
    ctVal: str = ""
    ctMult: str = ""
    ctValCcy: str = ""
    ctType: str = ""
    uly: str = ""
    instFamily: str = ""
    lever: str = ""
    maxLmtSz: str = ""
    maxMktSz: str = ""
    maxMktAmt: str = ""
    instIdCode: int | None = None


BookLevelRaw = list[str]  # [px, sz, "0", numOrders]


class BookSnapshot(msgspec.Struct):
    asks: list[BookLevelRaw]
    bids: list[BookLevelRaw]
    ts: str
    seqId: int | None = None


class Ticker(msgspec.Struct):
    instId: str
    last: str = ""
    bidPx: str = ""
    bidSz: str = ""
    askPx: str = ""
    askSz: str = ""
    ts: str = ""


class IndexTicker(msgspec.Struct):
    instId: str
    idxPx: str
    ts: str = ""


class MarkPrice(msgspec.Struct):
    instId: str
    markPx: str
    ts: str = ""


class FundingRateInfo(msgspec.Struct):
    instId: str
    fundingRate: str
    fundingTime: str
    nextFundingTime: str = ""
    settFundingRate: str = ""
    interestRate: str = ""
    premium: str = ""
    ts: str = ""


class FundingHistory(msgspec.Struct):
    instId: str
    fundingRate: str
    fundingTime: str
    realizedRate: str = ""


class OkxOrder(msgspec.Struct):
    """An order (``GET trade/order``, ``orders-pending``) or an ``orders`` channel item."""

    instType: str
    instId: str
    ordId: str
    clOrdId: str
    px: str
    sz: str
    ordType: str
    side: str
    state: str
    accFillSz: str = "0"
    avgPx: str = ""
    tgtCcy: str = ""
    posSide: str = ""
    tdMode: str = ""
    reduceOnly: str = "false"
    cancelSource: str = ""
    cancelSourceReason: str = ""
    fee: str = ""
    feeCcy: str = ""
    fillPx: str = ""
    fillSz: str = ""
    fillTime: str = ""
    fillFee: str = ""
    fillFeeCcy: str = ""
    fillPnl: str = ""
    tradeId: str = ""
    execType: str = ""
    pnl: str = ""
    lever: str = ""
    cTime: str = ""
    uTime: str = ""


class BalanceDetail(msgspec.Struct):
    ccy: str
    eq: str = ""
    cashBal: str = ""
    availBal: str = ""
    availEq: str = ""
    frozenBal: str = ""
    ordFrozen: str = ""
    upl: str = ""
    imr: str = ""
    mmr: str = ""
    uTime: str = ""


class AccountBalance(msgspec.Struct):
    details: list[BalanceDetail]
    totalEq: str = ""
    uTime: str = ""


class PositionInfo(msgspec.Struct):
    instType: str
    instId: str
    pos: str
    posSide: str = "net"
    mgnMode: str = "cross"
    avgPx: str = ""
    markPx: str = ""
    upl: str = ""
    lever: str = ""
    liqPx: str = ""
    ccy: str = ""
    fundingFee: str = ""
    realizedPnl: str = ""
    uTime: str = ""
    cTime: str = ""


class LeverageInfo(msgspec.Struct):
    instId: str
    lever: str
    mgnMode: str = ""
    posSide: str = ""


class AccountConfig(msgspec.Struct):
    uid: str = ""
    acctLv: str = ""
    posMode: str = ""


_decoders: dict[object, msgspec.json.Decoder[object]] = {}


def decoder(item: type[T]) -> msgspec.json.Decoder[Envelope[T]]:
    """The (cached) decoder of ``Envelope[item]``."""
    dec = _decoders.get(item)
    if dec is None:
        envelope: Any = Envelope  # parameterised at run time: a variable is not a type to mypy
        dec = _decoders[item] = msgspec.json.Decoder(envelope[item])
    return cast("msgspec.json.Decoder[Envelope[T]]", dec)


ERROR_DECODER = msgspec.json.Decoder(ErrorEnvelope)
