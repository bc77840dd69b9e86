"""Reply items of the public REST endpoints and market channels (reference §5, §6, §8).

Field names are OKX's own; every number is a string (``numbers.num``). Book levels are
``[px, sz, "0", numOrders]`` with swap sizes in contracts.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "ServerTime",
    "InstrumentItem",
    "BookItem",
    "TickerItem",
    "IndexTickerItem",
    "MarkPriceItem",
    "FundingRateItem",
    "FundingHistoryItem",
    "TradeItem",
    "PriceLimitItem",
    "CurrencyItem",
    "BookLevel",
]

BookLevel = tuple[str, str, str, str]


class ServerTime(msgspec.Struct):
    ts: str


class InstrumentItem(msgspec.Struct, kw_only=True):
    instType: str
    instId: str
    instIdCode: int
    uly: str
    instFamily: str
    baseCcy: str
    quoteCcy: str
    settleCcy: str
    ctVal: str
    ctMult: str
    ctValCcy: str
    ctType: str
    optType: str = ""
    stk: str = ""
    listTime: str
    auctionEndTime: str = ""
    contTdSwTime: str = ""
    expTime: str = ""
    lever: str
    tickSz: str
    lotSz: str
    minSz: str
    alias: str = ""
    state: str = "live"
    ruleType: str = "normal"
    maxLmtSz: str
    maxMktSz: str
    maxLmtAmt: str = "20000000"
    maxMktAmt: str = "1000000"
    maxTwapSz: str = ""
    maxIcebergSz: str = ""
    maxTriggerSz: str = ""
    maxStopSz: str = ""
    futureSettlement: bool = False
    tradeQuoteCcyList: list[str] = msgspec.field(default_factory=list)
    category: str = "1"


class BookItem(msgspec.Struct, kw_only=True):
    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: str
    seqId: int | msgspec.UnsetType = msgspec.UNSET


class TickerItem(msgspec.Struct, kw_only=True):
    instType: str
    instId: str
    last: str
    lastSz: str
    askPx: str
    askSz: str
    bidPx: str
    bidSz: str
    open24h: str
    high24h: str
    low24h: str
    volCcy24h: str
    vol24h: str
    ts: str
    sodUtc0: str
    sodUtc8: str


class IndexTickerItem(msgspec.Struct, kw_only=True):
    instId: str
    idxPx: str
    high24h: str
    low24h: str
    open24h: str
    sodUtc0: str
    sodUtc8: str
    ts: str


class MarkPriceItem(msgspec.Struct, kw_only=True):
    instType: str
    instId: str
    markPx: str
    ts: str


class FundingRateItem(msgspec.Struct, kw_only=True):
    instType: str
    instId: str
    method: str
    formulaType: str
    fundingRate: str
    nextFundingRate: str
    fundingTime: str
    nextFundingTime: str
    minFundingRate: str
    maxFundingRate: str
    interestRate: str
    impactValue: str
    premium: str
    settFundingRate: str
    settState: str
    sodUtc0: str = ""
    ts: str


class FundingHistoryItem(msgspec.Struct, kw_only=True):
    instType: str
    instId: str
    formulaType: str
    fundingRate: str
    realizedRate: str
    fundingTime: str
    method: str


class TradeItem(msgspec.Struct, kw_only=True):
    instId: str
    tradeId: str
    px: str
    sz: str
    side: str
    ts: str
    count: str = "1"
    source: str = "0"


class PriceLimitItem(msgspec.Struct, kw_only=True):
    instType: str
    instId: str
    buyLmt: str
    sellLmt: str
    ts: str
    enabled: bool = True


class CurrencyItem(msgspec.Struct, kw_only=True):
    ccy: str
    name: str
    chain: str
    canDep: bool = True
    canWd: bool = True
    canInternal: bool = True
    minDep: str = "0.00000001"
    minWd: str
    maxWd: str
    wdTickSz: str
    wdQuota: str = "10000000"
    usedWdQuota: str = "0"
    fee: str
    minFee: str
    maxFee: str
    mainNet: bool = True
    needTag: bool = False
    logoLink: str = ""
    ctAddr: str = ""
    depEstOpenTime: str = ""
    wdEstOpenTime: str = ""
    minDepArrivalConfirm: str = "1"
    minWdUnlockConfirm: str = "1"
    depQuotaFixed: str = ""
    usedDepQuotaFixed: str = ""
    depQuoteDailyLayer2: str = ""
