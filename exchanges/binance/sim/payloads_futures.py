"""USD-M futures REST / WS-API result payloads (Binance's names, order and types) and builders."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import (
    FundingRecord,
    FuturesAccountView,
    IncomeRecord,
    MarkView,
    PositionView,
    SimFill,
    SimOrder,
)

from .numbers import fixed, money
from .vocab import PerpFormat, futures_type_tif, side_text, status_text

__all__ = [
    "FuturesOrder",
    "FuturesOrderQuery",
    "PremiumIndex",
    "FundingRateItem",
    "FundingInfoItem",
    "LeverageResult",
    "LeverageBrackets",
    "Bracket",
    "CodeMsg",
    "IncomeItem",
    "ListenKeyReply",
    "UserTrade",
    "PositionRiskV2",
    "PositionRiskV3",
    "AccountV2",
    "AccountV3",
    "BalanceV2",
    "SymbolConfig",
    "DualSide",
    "order_object",
    "order_query",
    "premium_index",
    "funding_item",
    "income_item",
    "user_trade",
    "position_v2",
    "position_v3",
    "account_v2",
    "account_v3",
    "balances_v2",
    "MAX_NOTIONAL",
]

STP_MODE = "EXPIRE_MAKER"
MAX_NOTIONAL = "1000000000"  # leverage brackets are not modelled: one bracket, this cap


class FuturesOrder(msgspec.Struct, kw_only=True):
    """POST / DELETE ``/fapi/v1/order`` reply (``avgPrice``/``cumQuote`` only on GET since 2026)."""

    orderId: int
    symbol: str
    status: str
    clientOrderId: str
    price: str
    origQty: str
    executedQty: str
    cumQty: str
    timeInForce: str
    type: str
    origType: str
    reduceOnly: bool
    closePosition: bool
    side: str
    positionSide: str
    stopPrice: str
    workingType: str
    priceProtect: bool
    priceMatch: str
    selfTradePreventionMode: str
    goodTillDate: int
    updateTime: int


class FuturesOrderQuery(msgspec.Struct, kw_only=True):
    """GET ``/fapi/v1/order`` and ``openOrders`` items."""

    avgPrice: str
    clientOrderId: str
    cumQuote: str
    executedQty: str
    orderId: int
    origQty: str
    origType: str
    price: str
    reduceOnly: bool
    side: str
    positionSide: str
    status: str
    stopPrice: str
    closePosition: bool
    symbol: str
    time: int
    timeInForce: str
    type: str
    updateTime: int
    workingType: str
    priceProtect: bool
    priceMatch: str
    selfTradePreventionMode: str
    goodTillDate: int


class PremiumIndex(msgspec.Struct, kw_only=True):
    symbol: str
    markPrice: str
    indexPrice: str
    estimatedSettlePrice: str
    lastFundingRate: str
    interestRate: str
    nextFundingTime: int
    time: int


class FundingRateItem(msgspec.Struct, kw_only=True):
    symbol: str
    fundingRate: str
    fundingTime: int
    markPrice: str


class FundingInfoItem(msgspec.Struct, kw_only=True):
    symbol: str
    adjustedFundingRateCap: str
    adjustedFundingRateFloor: str
    fundingIntervalHours: int
    disclaimer: bool


class LeverageResult(msgspec.Struct, kw_only=True):
    leverage: int
    maxNotionalValue: str
    symbol: str


class Bracket(msgspec.Struct, kw_only=True):
    """Leverage bracket (Binance sends these as JSON numbers, not strings)."""

    bracket: int
    initialLeverage: int
    notionalCap: int
    notionalFloor: int
    maintMarginRatio: float
    cum: float


class LeverageBrackets(msgspec.Struct, kw_only=True):
    symbol: str
    notionalCoef: float
    brackets: list[Bracket]


class CodeMsg(msgspec.Struct, kw_only=True):
    code: int
    msg: str


class IncomeItem(msgspec.Struct, kw_only=True):
    symbol: str
    incomeType: str
    income: str
    asset: str
    info: str
    time: int
    tranId: int
    tradeId: str


class ListenKeyReply(msgspec.Struct, kw_only=True):
    listenKey: str


class UserTrade(msgspec.Struct, kw_only=True):
    buyer: bool
    commission: str
    commissionAsset: str
    id: int
    maker: bool
    orderId: int
    price: str
    qty: str
    quoteQty: str
    realizedPnl: str
    side: str
    positionSide: str
    symbol: str
    time: int


class PositionRiskV2(msgspec.Struct, kw_only=True):
    entryPrice: str
    breakEvenPrice: str
    marginType: str
    isAutoAddMargin: str
    isolatedMargin: str
    leverage: str
    liquidationPrice: str
    markPrice: str
    maxNotionalValue: str
    positionAmt: str
    notional: str
    isolatedWallet: str
    symbol: str
    unRealizedProfit: str
    positionSide: str
    updateTime: int


class PositionRiskV3(msgspec.Struct, kw_only=True):
    symbol: str
    positionSide: str
    positionAmt: str
    entryPrice: str
    breakEvenPrice: str
    markPrice: str
    unRealizedProfit: str
    liquidationPrice: str
    isolatedMargin: str
    notional: str
    marginAsset: str
    isolatedWallet: str
    initialMargin: str
    maintMargin: str
    positionInitialMargin: str
    openOrderInitialMargin: str
    adl: int
    bidNotional: str
    askNotional: str
    updateTime: int


class AccountAsset(msgspec.Struct, kw_only=True):
    asset: str
    walletBalance: str
    unrealizedProfit: str
    marginBalance: str
    maintMargin: str
    initialMargin: str
    positionInitialMargin: str
    openOrderInitialMargin: str
    crossWalletBalance: str
    crossUnPnl: str
    availableBalance: str
    maxWithdrawAmount: str
    marginAvailable: bool
    updateTime: int


class AccountPositionV2(msgspec.Struct, kw_only=True):
    symbol: str
    initialMargin: str
    maintMargin: str
    unrealizedProfit: str
    positionInitialMargin: str
    openOrderInitialMargin: str
    leverage: str
    isolated: bool
    entryPrice: str
    maxNotional: str
    bidNotional: str
    askNotional: str
    positionSide: str
    positionAmt: str
    updateTime: int


class AccountPositionV3(msgspec.Struct, kw_only=True):
    symbol: str
    positionSide: str
    positionAmt: str
    unrealizedProfit: str
    isolatedMargin: str
    notional: str
    isolatedWallet: str
    initialMargin: str
    maintMargin: str
    updateTime: int


class AccountTotals(msgspec.Struct, kw_only=True):
    totalInitialMargin: str
    totalMaintMargin: str
    totalWalletBalance: str
    totalUnrealizedProfit: str
    totalMarginBalance: str
    totalPositionInitialMargin: str
    totalOpenOrderInitialMargin: str
    totalCrossWalletBalance: str
    totalCrossUnPnl: str
    availableBalance: str
    maxWithdrawAmount: str


class AccountV2(AccountTotals, kw_only=True):
    feeTier: int
    canTrade: bool
    canDeposit: bool
    canWithdraw: bool
    updateTime: int
    multiAssetsMargin: bool
    tradeGroupId: int
    assets: list[AccountAsset]
    positions: list[AccountPositionV2]


class AccountV3(AccountTotals, kw_only=True):
    assets: list[AccountAsset]
    positions: list[AccountPositionV3]


class BalanceV2(msgspec.Struct, kw_only=True):
    accountAlias: str
    asset: str
    balance: str
    crossWalletBalance: str
    crossUnPnl: str
    availableBalance: str
    maxWithdrawAmount: str
    marginAvailable: bool
    updateTime: int


class SymbolConfig(msgspec.Struct, kw_only=True):
    symbol: str
    marginType: str
    isAutoAddMargin: bool
    leverage: int
    maxNotionalValue: str


class DualSide(msgspec.Struct, kw_only=True):
    dualSidePosition: bool


# -- builders ---------------------------------------------------------------------------------


def order_object(order: SimOrder, fmt: PerpFormat, *, as_new: bool = False) -> FuturesOrder:
    """POST/DELETE reply. ``as_new``: the ACK view (status NEW, nothing executed yet)."""
    otype, tif = futures_type_tif(order)
    executed = Decimal(0) if as_new else order.executed_qty
    return FuturesOrder(
        orderId=order.order_id,
        symbol=order.symbol,
        status="NEW" if as_new else status_text(order.status),
        clientOrderId=order.client_order_id,
        price=fmt.price(order.price),
        origQty=fmt.qty(order.qty),
        executedQty=fmt.qty(executed),
        cumQty=fmt.qty(executed),
        timeInForce=tif,
        type=otype,
        origType=otype,
        reduceOnly=order.reduce_only,
        closePosition=False,
        side=side_text(order.side),
        positionSide="BOTH",
        stopPrice="0",
        workingType="CONTRACT_PRICE",
        priceProtect=False,
        priceMatch="NONE",
        selfTradePreventionMode=STP_MODE,
        goodTillDate=0,
        updateTime=order.created_ms if as_new else (order.updated_ms or order.created_ms),
    )


def order_query(order: SimOrder, fmt: PerpFormat) -> FuturesOrderQuery:
    otype, tif = futures_type_tif(order)
    return FuturesOrderQuery(
        avgPrice=fmt.avg(order.avg_price),
        clientOrderId=order.client_order_id,
        cumQuote=money(order.cum_quote),
        executedQty=fmt.qty(order.executed_qty),
        orderId=order.order_id,
        origQty=fmt.qty(order.qty),
        origType=otype,
        price=fmt.price(order.price),
        reduceOnly=order.reduce_only,
        side=side_text(order.side),
        positionSide="BOTH",
        status=status_text(order.status),
        stopPrice="0",
        closePosition=False,
        symbol=order.symbol,
        time=order.created_ms,
        timeInForce=tif,
        type=otype,
        updateTime=order.updated_ms or order.created_ms,
        workingType="CONTRACT_PRICE",
        priceProtect=False,
        priceMatch="NONE",
        selfTradePreventionMode=STP_MODE,
        goodTillDate=0,
    )


def premium_index(mark: MarkView, fmt: PerpFormat) -> PremiumIndex:
    return PremiumIndex(
        symbol=mark.symbol,
        markPrice=money(mark.mark),
        indexPrice=money(mark.index),
        estimatedSettlePrice=money(mark.estimated_settle),
        lastFundingRate=fixed(mark.funding_rate, 8),
        interestRate=fixed(mark.interest_rate, 8),
        nextFundingTime=mark.next_funding_ms,
        time=mark.ts_ms,
    )


def funding_item(record: FundingRecord) -> FundingRateItem:
    return FundingRateItem(
        symbol=record.symbol,
        fundingRate=fixed(record.rate, 8),
        fundingTime=record.funding_ms,
        markPrice=money(record.mark),
    )


def income_item(record: IncomeRecord) -> IncomeItem:
    return IncomeItem(
        symbol=record.symbol,
        incomeType=record.income_type.value,
        income=money(record.income),
        asset=record.asset,
        info=record.info,
        time=record.time_ms,
        tranId=record.tran_id,
        tradeId=str(record.trade_id) if record.trade_id else "",
    )


def user_trade(fill: SimFill, fmt: PerpFormat) -> UserTrade:
    side = side_text(fill.side)
    return UserTrade(
        buyer=side == "BUY",
        commission=money(fill.fee),
        commissionAsset=fill.fee_asset,
        id=fill.trade_id,
        maker=fill.is_maker,
        orderId=fill.order_id,
        price=fmt.price(fill.price),
        qty=fmt.qty(fill.qty),
        quoteQty=money(fill.quote_qty),
        realizedPnl=money(fill.realized_pnl),
        side=side,
        positionSide="BOTH",
        symbol=fill.symbol,
        time=fill.ts_ms,
    )


def position_v2(pos: PositionView, fmt: PerpFormat) -> PositionRiskV2:
    return PositionRiskV2(
        entryPrice=money(pos.entry_price),
        breakEvenPrice=money(pos.break_even_price),
        marginType="cross",
        isAutoAddMargin="false",
        isolatedMargin="0",
        leverage=str(pos.leverage),
        liquidationPrice=money(pos.liquidation_price),
        markPrice=money(pos.mark),
        maxNotionalValue=MAX_NOTIONAL,
        positionAmt=fmt.qty(pos.size),
        notional=money(pos.notional),
        isolatedWallet="0",
        symbol=pos.symbol,
        unRealizedProfit=money(pos.unrealized),
        positionSide="BOTH",
        updateTime=pos.update_ms,
    )


def position_v3(
    pos: PositionView, fmt: PerpFormat, bid_notional: Decimal, ask_notional: Decimal, order_margin: Decimal
) -> PositionRiskV3:
    return PositionRiskV3(
        symbol=pos.symbol,
        positionSide="BOTH",
        positionAmt=fmt.qty(pos.size),
        entryPrice=money(pos.entry_price),
        breakEvenPrice=money(pos.break_even_price),
        markPrice=money(pos.mark),
        unRealizedProfit=money(pos.unrealized),
        liquidationPrice=money(pos.liquidation_price),
        isolatedMargin="0",
        notional=money(pos.notional),
        marginAsset=pos.margin_asset,
        isolatedWallet="0",
        initialMargin=money(pos.initial_margin + order_margin),
        maintMargin=money(pos.maint_margin),
        positionInitialMargin=money(pos.initial_margin),
        openOrderInitialMargin=money(order_margin),
        adl=0,
        bidNotional=money(bid_notional),
        askNotional=money(ask_notional),
        updateTime=pos.update_ms,
    )


def _totals(acct: FuturesAccountView) -> dict[str, str]:
    return {
        "totalInitialMargin": money(acct.initial_margin),
        "totalMaintMargin": money(acct.maint_margin),
        "totalWalletBalance": money(acct.wallet),
        "totalUnrealizedProfit": money(acct.unrealized),
        "totalMarginBalance": money(acct.margin_balance),
        "totalPositionInitialMargin": money(acct.position_initial_margin),
        "totalOpenOrderInitialMargin": money(acct.open_order_initial_margin),
        "totalCrossWalletBalance": money(acct.wallet),
        "totalCrossUnPnl": money(acct.unrealized),
        "availableBalance": money(acct.available),
        "maxWithdrawAmount": money(max(Decimal(0), min(acct.available, acct.wallet))),
    }


def _asset(acct: FuturesAccountView) -> AccountAsset:
    return AccountAsset(
        asset=acct.asset,
        walletBalance=money(acct.wallet),
        unrealizedProfit=money(acct.unrealized),
        marginBalance=money(acct.margin_balance),
        maintMargin=money(acct.maint_margin),
        initialMargin=money(acct.initial_margin),
        positionInitialMargin=money(acct.position_initial_margin),
        openOrderInitialMargin=money(acct.open_order_initial_margin),
        crossWalletBalance=money(acct.wallet),
        crossUnPnl=money(acct.unrealized),
        availableBalance=money(acct.available),
        maxWithdrawAmount=money(max(Decimal(0), min(acct.available, acct.wallet))),
        marginAvailable=True,
        updateTime=acct.ts_ms,
    )


def account_v3(acct: FuturesAccountView, fmts: dict[str, PerpFormat], open_order_symbols: set[str]) -> AccountV3:
    """v3: only positions with a size or open orders."""
    positions = [
        AccountPositionV3(
            symbol=p.symbol,
            positionSide="BOTH",
            positionAmt=fmts[p.symbol].qty(p.size),
            unrealizedProfit=money(p.unrealized),
            isolatedMargin="0",
            notional=money(p.notional),
            isolatedWallet="0",
            initialMargin=money(p.initial_margin),
            maintMargin=money(p.maint_margin),
            updateTime=p.update_ms,
        )
        for p in acct.positions
        if p.size != 0 or p.symbol in open_order_symbols
    ]
    return AccountV3(**_totals(acct), assets=[_asset(acct)], positions=positions)


def account_v2(
    acct: FuturesAccountView,
    fmts: dict[str, PerpFormat],
    all_positions: list[PositionView],
    notionals: dict[str, tuple[Decimal, Decimal]],
) -> AccountV2:
    """v2: every symbol's position, with leverage."""
    positions = []
    for p in all_positions:
        bid, ask = notionals.get(p.symbol, (Decimal(0), Decimal(0)))
        positions.append(
            AccountPositionV2(
                symbol=p.symbol,
                initialMargin=money(p.initial_margin),
                maintMargin=money(p.maint_margin),
                unrealizedProfit=money(p.unrealized),
                positionInitialMargin=money(p.initial_margin),
                openOrderInitialMargin="0",
                leverage=str(p.leverage),
                isolated=False,
                entryPrice=money(p.entry_price),
                maxNotional=MAX_NOTIONAL,
                bidNotional=money(bid),
                askNotional=money(ask),
                positionSide="BOTH",
                positionAmt=fmts[p.symbol].qty(p.size),
                updateTime=p.update_ms,
            )
        )
    return AccountV2(
        **_totals(acct),
        feeTier=0,
        canTrade=True,
        canDeposit=True,
        canWithdraw=True,
        updateTime=0,
        multiAssetsMargin=False,
        tradeGroupId=-1,
        assets=[_asset(acct)],
        positions=positions,
    )


def balances_v2(acct: FuturesAccountView, alias: str) -> list[BalanceV2]:
    return [
        BalanceV2(
            accountAlias=alias,
            asset=acct.asset,
            balance=money(acct.wallet),
            crossWalletBalance=money(acct.wallet),
            crossUnPnl=money(acct.unrealized),
            availableBalance=money(acct.available),
            maxWithdrawAmount=money(max(Decimal(0), min(acct.available, acct.wallet))),
            marginAvailable=True,
            updateTime=acct.ts_ms,
        )
    ]
