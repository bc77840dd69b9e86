"""Reply items of the trade endpoints and the ``orders`` channel (reference §5, §7)."""

from __future__ import annotations

import msgspec

__all__ = ["OrderItem", "OrderPush", "PlaceResult", "CancelResult", "FillItem"]


class OrderItem(msgspec.Struct, kw_only=True):
    """``GET /api/v5/trade/order`` (also ``orders-pending`` and ``orders-history``)."""

    instType: str
    instId: str
    tgtCcy: str
    ccy: str = ""
    ordId: str
    clOrdId: str
    tag: str
    px: str
    pxUsd: str = ""
    pxVol: str = ""
    pxType: str = ""
    sz: str
    pnl: str
    ordType: str
    side: str
    posSide: str
    tdMode: str
    accFillSz: str
    fillPx: str
    tradeId: str
    fillSz: str
    fillTime: str
    avgPx: str
    state: str
    stpId: str = ""
    stpMode: str = "cancel_maker"
    lever: str
    attachAlgoClOrdId: str = ""
    tpTriggerPx: str = ""
    tpTriggerPxType: str = ""
    tpOrdPx: str = ""
    slTriggerPx: str = ""
    slTriggerPxType: str = ""
    slOrdPx: str = ""
    attachAlgoOrds: list[object] = msgspec.field(default_factory=list)
    feeCcy: str
    fee: str
    rebateCcy: str
    rebate: str = "0"
    source: str = ""
    category: str = "normal"
    reduceOnly: str
    isTpLimit: str = "false"
    cancelSource: str
    cancelSourceReason: str = ""
    quickMgnType: str = ""
    algoClOrdId: str = ""
    algoId: str = ""
    tradeQuoteCcy: str = ""
    uTime: str
    cTime: str


class OrderPush(OrderItem, kw_only=True):
    """An ``orders`` channel item: the order plus this update's fill (``fillSz`` etc.)."""

    fillFee: str
    fillFeeCcy: str
    fillPnl: str
    execType: str
    fillNotionalUsd: str = ""
    notionalUsd: str = ""
    fillMarkPx: str = ""
    fillIdxPx: str = ""
    amendResult: str = ""
    amendSource: str = ""
    reqId: str = ""
    code: str = "0"
    msg: str = ""
    lastPx: str = ""


class PlaceResult(msgspec.Struct, kw_only=True):
    clOrdId: str
    ordId: str
    tag: str
    ts: str
    sCode: str
    sMsg: str
    subCode: str = ""


class AmendResult(msgspec.Struct, kw_only=True):
    """One ``amend-order`` item's result."""

    clOrdId: str
    ordId: str
    ts: str
    reqId: str
    sCode: str
    sMsg: str


class CancelResult(msgspec.Struct, kw_only=True):
    clOrdId: str
    ordId: str
    ts: str
    sCode: str
    sMsg: str


class FillItem(msgspec.Struct, kw_only=True):
    """``GET /api/v5/trade/fills``."""

    instType: str
    instId: str
    tradeId: str
    ordId: str
    clOrdId: str
    billId: str
    subType: str
    tag: str
    fillPx: str
    fillSz: str
    fillIdxPx: str = ""
    fillPnl: str
    fillPxVol: str = ""
    fillPxUsd: str = ""
    fillMarkVol: str = ""
    fillFwdPx: str = ""
    fillMarkPx: str = ""
    side: str
    posSide: str
    execType: str
    feeCcy: str
    fee: str
    ts: str
    fillTime: str
    feeRate: str = ""
    tradeQuoteCcy: str = ""
