"""Position and unified-wallet payloads: ``/v5/position/list``, ``/v5/account/wallet-balance``
and the private ``position`` / ``wallet`` topics (reference §5, §7).

The unified trading account (UTA) is one wallet per coin; the engine keeps a spot wallet and a
futures (margin) account. The wallet shown is their sum per coin: ``walletBalance`` = spot
free + locked + futures wallet, ``locked`` = spot order locks, ``totalOrderIM`` /
``totalPositionIM`` / ``totalPositionMM`` and ``unrealisedPnl`` from the futures account.
Account totals are in USD, coins valued at their spot reference price (USDT = 1).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import FuturesAccountView, PositionView
from strategy_client.model import MarketKind

from .core import BybitCore
from .numbers import money

__all__ = [
    "PositionRest",
    "PositionWs",
    "WalletCoin",
    "WalletAccount",
    "position_rest",
    "position_ws",
    "wallet",
    "flat_position",
]

ZERO = Decimal(0)
_RATE = Decimal("0.0001")


class _PositionBase(msgspec.Struct, kw_only=True):
    positionIdx: int
    riskId: int
    riskLimitValue: str
    symbol: str
    side: str
    size: str
    positionValue: str
    tradeMode: int
    autoAddMargin: int
    positionStatus: str
    leverage: str
    markPrice: str
    liqPrice: str
    bustPrice: str
    positionIM: str
    positionMM: str
    positionBalance: str
    takeProfit: str
    stopLoss: str
    trailingStop: str
    sessionAvgPrice: str
    unrealisedPnl: str
    curRealisedPnl: str
    cumRealisedPnl: str
    adlRankIndicator: int
    isReduceOnly: bool
    mmrSysUpdatedTime: str
    leverageSysUpdatedTime: str
    breakEvenPrice: str
    createdTime: str
    updatedTime: str
    seq: int


class PositionRest(_PositionBase, kw_only=True):
    avgPrice: str


class PositionWs(_PositionBase, kw_only=True):
    category: str
    entryPrice: str
    tpslMode: str


class WalletCoin(msgspec.Struct, kw_only=True):
    coin: str
    equity: str
    usdValue: str
    walletBalance: str
    free: str
    locked: str
    spotHedgingQty: str
    borrowAmount: str
    availableToWithdraw: str
    accruedInterest: str
    totalOrderIM: str
    totalPositionIM: str
    totalPositionMM: str
    unrealisedPnl: str
    cumRealisedPnl: str
    bonus: str
    marginCollateral: bool
    collateralSwitch: bool
    spotBorrow: str


class WalletAccount(msgspec.Struct, kw_only=True):
    accountType: str
    accountLTV: str
    accountIMRate: str
    accountMMRate: str
    accountIMRateByMp: str
    accountMMRateByMp: str
    totalInitialMarginByMp: str
    totalMaintenanceMarginByMp: str
    totalEquity: str
    totalWalletBalance: str
    totalMarginBalance: str
    totalAvailableBalance: str
    totalPerpUPL: str
    totalInitialMargin: str
    totalMaintenanceMargin: str
    coin: list[WalletCoin]


def _side(size: Decimal) -> str:
    if size > 0:
        return "Buy"
    if size < 0:
        return "Sell"
    return ""


def _common(core: BybitCore, p: PositionView, seq: int) -> dict[str, object]:
    fmt = core.fmt("linear", p.symbol)
    flat = p.size == 0
    return {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": p.symbol,
        "side": _side(p.size),
        "size": fmt.qty(abs(p.size)),
        "positionValue": "" if flat else money(abs(p.size) * p.entry_price),
        "tradeMode": 0,
        "autoAddMargin": 0,
        "positionStatus": "Normal",
        "leverage": str(p.leverage),
        "markPrice": fmt.price(p.mark),
        "liqPrice": "" if flat or p.liquidation_price <= 0 else fmt.price(p.liquidation_price),
        "bustPrice": "",
        "positionIM": money(p.initial_margin),
        "positionMM": money(p.maint_margin),
        "positionBalance": money(p.initial_margin),
        "takeProfit": "0",
        "stopLoss": "0",
        "trailingStop": "0",
        "sessionAvgPrice": "",
        "unrealisedPnl": money(p.unrealized),
        "curRealisedPnl": money(p.realized),
        "cumRealisedPnl": money(p.realized),
        "adlRankIndicator": 0 if flat else 2,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
        "breakEvenPrice": "" if flat else fmt.price(p.break_even_price),
        "createdTime": str(core.started_ms),
        "updatedTime": str(p.update_ms),
        "seq": seq,
    }


def position_rest(core: BybitCore, p: PositionView) -> PositionRest:
    fmt = core.fmt("linear", p.symbol)
    return PositionRest(avgPrice=fmt.price(p.entry_price) if p.size else "0", **_common(core, p, -1))  # type: ignore[arg-type]  # shared fields as one dict


def position_ws(core: BybitCore, p: PositionView) -> PositionWs:
    fmt = core.fmt("linear", p.symbol)
    return PositionWs(
        category="linear",
        entryPrice=fmt.price(p.entry_price) if p.size else "0",
        tpslMode="Full",
        **_common(core, p, core.next_seq()),  # type: ignore[arg-type]  # shared fields as one dict
    )


def flat_position(core: BybitCore, symbol: str) -> PositionView:
    """A flat position view (the engine lists only positions that exist)."""
    mark = core.venue.mark(symbol).mark
    return PositionView(
        symbol=symbol,
        size=ZERO,
        entry_price=ZERO,
        break_even_price=ZERO,
        mark=mark,
        unrealized=ZERO,
        realized=ZERO,
        leverage=core.venue.leverage(core.account, symbol),
        liquidation_price=ZERO,
        notional=ZERO,
        initial_margin=ZERO,
        maint_margin=ZERO,
        margin_asset=core.spec("linear", symbol).quote,
        update_ms=core.now_ms(),
    )


def _usd_price(core: BybitCore, coin: str) -> Decimal:
    if coin in ("USDT", "USDC", "USD"):
        return Decimal(1)
    symbol = coin + "USDT"
    if symbol in core.specs["spot"]:
        return core.venue.reference_price(MarketKind.SPOT, symbol)
    if symbol in core.specs["linear"]:
        return core.venue.mark(symbol).mark
    return ZERO


def _ratio(num: Decimal, den: Decimal) -> str:
    if den <= 0:
        return "0"
    return money((num / den).quantize(_RATE))


def wallet(core: BybitCore, coins: list[str] | None = None) -> WalletAccount:
    """The UTA wallet; ``coins`` limits the coin list (account totals always cover all)."""
    spot = core.venue.spot_balances(core.account)
    fut: FuturesAccountView = core.venue.futures_account(core.account)
    realized = sum((p.realized for p in fut.positions), ZERO)
    names = sorted(set(spot) | {fut.asset})
    rows: list[WalletCoin] = []
    total_equity = total_wallet = ZERO
    for name in names:
        free, locked = spot.get(name, (ZERO, ZERO))
        wallet_balance = free + locked
        upl = order_im = pos_im = pos_mm = cum = ZERO
        if name == fut.asset:
            wallet_balance += fut.wallet
            upl, order_im, pos_im, pos_mm, cum = (
                fut.unrealized,
                fut.open_order_initial_margin,
                fut.position_initial_margin,
                fut.maint_margin,
                realized,
            )
        equity = wallet_balance + upl
        price = _usd_price(core, name)
        total_equity += equity * price
        total_wallet += wallet_balance * price
        if coins is not None and name not in coins:
            continue
        rows.append(
            WalletCoin(
                coin=name,
                equity=money(equity),
                usdValue=money(equity * price),
                walletBalance=money(wallet_balance),
                free="",
                locked=money(locked),
                spotHedgingQty="0",
                borrowAmount="0",
                availableToWithdraw="",
                accruedInterest="0",
                totalOrderIM=money(order_im),
                totalPositionIM=money(pos_im),
                totalPositionMM=money(pos_mm),
                unrealisedPnl=money(upl),
                cumRealisedPnl=money(cum),
                bonus="0",
                marginCollateral=True,
                collateralSwitch=True,
                spotBorrow="0",
            )
        )
    initial = fut.initial_margin
    maint = fut.maint_margin
    margin_balance = total_wallet + fut.unrealized
    available = margin_balance - initial
    return WalletAccount(
        accountType="UNIFIED",
        accountLTV="0",
        accountIMRate=_ratio(initial, margin_balance),
        accountMMRate=_ratio(maint, margin_balance),
        accountIMRateByMp=_ratio(initial, margin_balance),
        accountMMRateByMp=_ratio(maint, margin_balance),
        totalInitialMarginByMp=money(initial),
        totalMaintenanceMarginByMp=money(maint),
        totalEquity=money(total_equity),
        totalWalletBalance=money(total_wallet),
        totalMarginBalance=money(margin_balance),
        totalAvailableBalance=money(max(ZERO, available)),
        totalPerpUPL=money(fut.unrealized),
        totalInitialMargin=money(initial),
        totalMaintenanceMargin=money(maint),
        coin=rows,
    )
