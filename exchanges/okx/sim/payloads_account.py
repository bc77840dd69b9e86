"""Reply items of the account endpoints and the ``account``/``positions`` channels (reference §5, §7)."""

from __future__ import annotations

import msgspec

__all__ = [
    "BalanceDetail",
    "BalanceItem",
    "PositionItem",
    "LeverageItem",
    "AccountConfigItem",
    "BillItem",
]


class BalanceDetail(msgspec.Struct, kw_only=True):
    ccy: str
    eq: str
    cashBal: str
    availBal: str
    availEq: str
    frozenBal: str
    ordFrozen: str
    upl: str
    uplLiab: str = "0"
    imr: str
    mmr: str
    isoEq: str = "0"
    isoUpl: str = "0"
    liab: str = "0"
    crossLiab: str = "0"
    isoLiab: str = "0"
    interest: str = "0"
    maxLoan: str = ""
    mgnRatio: str = ""
    notionalLever: str = "0"
    disEq: str
    eqUsd: str
    borrowFroz: str = "0"
    fixedBal: str = "0"
    spotInUseAmt: str = ""
    clSpotInUseAmt: str = ""
    maxSpotInUse: str = ""
    spotIsoBal: str = "0"
    stgyEq: str = "0"
    twap: str = "0"
    rewardBal: str = "0"
    spotBal: str = ""
    openAvgPx: str = ""
    accAvgPx: str = ""
    spotUpl: str = ""
    spotUplRatio: str = ""
    totalPnl: str = ""
    totalPnlRatio: str = ""
    uTime: str


class BalanceItem(msgspec.Struct, kw_only=True):
    totalEq: str
    adjEq: str
    isoEq: str = "0"
    ordFroz: str
    imr: str
    mmr: str
    borrowFroz: str = "0"
    mgnRatio: str
    notionalUsd: str
    notionalUsdForBorrow: str = "0"
    notionalUsdForSwap: str = "0"
    notionalUsdForFutures: str = "0"
    notionalUsdForOption: str = "0"
    upl: str
    details: list[BalanceDetail]
    uTime: str


class PositionItem(msgspec.Struct, kw_only=True):
    instType: str
    instId: str
    instIdCode: int
    mgnMode: str
    posId: str
    posSide: str
    pos: str
    availPos: str
    posCcy: str = ""
    ccy: str
    avgPx: str
    nonSettleAvgPx: str = ""
    markPx: str
    idxPx: str
    last: str
    usdPx: str = ""
    bePx: str
    upl: str
    uplRatio: str
    uplLastPx: str
    uplRatioLastPx: str
    lever: str
    liqPx: str
    imr: str
    margin: str = ""
    mgnRatio: str
    mmr: str
    liab: str = ""
    liabCcy: str = ""
    interest: str = "0"
    notionalUsd: str
    optVal: str = ""
    adl: str = "1"
    realizedPnl: str
    pnl: str
    fee: str
    fundingFee: str
    liqPenalty: str = "0"
    settledPnl: str = ""
    closeOrderAlgo: list[object] = msgspec.field(default_factory=list)
    tradeId: str = ""
    cTime: str
    uTime: str
    pTime: str = ""
    bizRefId: str = ""
    bizRefType: str = ""


class LeverageItem(msgspec.Struct, kw_only=True):
    instId: str
    mgnMode: str
    posSide: str
    lever: str
    ccy: str = ""


class AccountConfigItem(msgspec.Struct, kw_only=True):
    uid: str
    mainUid: str
    acctLv: str = "2"
    acctStpMode: str = "cancel_maker"
    posMode: str = "net_mode"
    autoLoan: bool = False
    greeksType: str = "PA"
    level: str = "Lv1"
    levelTmp: str = ""
    ctIsoMode: str = "automatic"
    mgnIsoMode: str = "automatic"
    spotOffsetType: str = ""
    roleType: str = "0"
    traderInsts: list[str] = msgspec.field(default_factory=list)
    spotRoleType: str = "0"
    spotTraderInsts: list[str] = msgspec.field(default_factory=list)
    opAuth: str = "0"
    kycLv: str = "2"
    label: str = "tradebus-sim"
    ip: str = ""
    perm: str = "read_only,trade"
    liquidationGear: str = "-1"
    enableSpotBorrow: bool = False
    spotBorrowAutoRepay: bool = False
    type: str = "0"
    settleCcy: str = "USDT"
    settleCcyList: list[str] = msgspec.field(default_factory=lambda: ["USDT"])


class BillItem(msgspec.Struct, kw_only=True):
    bal: str
    balChg: str
    billId: str
    ccy: str
    clOrdId: str = ""
    execType: str = ""
    fee: str
    fillTime: str = ""
    instId: str
    instType: str
    interest: str = "0"
    mgnMode: str
    notes: str = ""
    ordId: str = ""
    pnl: str
    posBal: str = "0"
    posBalChg: str = "0"
    px: str = ""
    subType: str
    sz: str
    tag: str = ""
    tradeId: str = ""
    ts: str
    type: str
