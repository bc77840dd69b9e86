"""The venue-agnostic simulator engine: matching, accounts, prices, funding (no I/O).

See ``docs/simulator-engine.md`` for the contract the venue dialects rely on.
"""

from .clock import ManualClock, SimClock, WallClock
from .config import DEFAULT_SYMBOLS, SimConfig, SymbolSpec
from .errors import RejectReason, SimReject
from .events import (
    BalanceReason,
    BalancesChanged,
    BookUpdated,
    ExecType,
    FundingSettled,
    LeverageChanged,
    MarkUpdated,
    OrderChanged,
    SimEvent,
    TradeExecuted,
)
from .orders import ALLOWED_TRANSITIONS, ExpireReason, SimFill, SimOrder
from .venue import MARKET_MAKER, SimVenue
from .views import (
    AssetBalance,
    BookView,
    FundingPaymentView,
    FundingRecord,
    FuturesAccountView,
    IncomeRecord,
    IncomeType,
    Level,
    MarkView,
    PositionView,
    PublicTrade,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AssetBalance",
    "BalanceReason",
    "BalancesChanged",
    "BookUpdated",
    "BookView",
    "DEFAULT_SYMBOLS",
    "ExecType",
    "ExpireReason",
    "FundingPaymentView",
    "FundingRecord",
    "FundingSettled",
    "FuturesAccountView",
    "IncomeRecord",
    "IncomeType",
    "LeverageChanged",
    "Level",
    "MARKET_MAKER",
    "ManualClock",
    "MarkUpdated",
    "MarkView",
    "OrderChanged",
    "PositionView",
    "PublicTrade",
    "RejectReason",
    "SimClock",
    "SimConfig",
    "SimEvent",
    "SimFill",
    "SimOrder",
    "SimReject",
    "SimVenue",
    "SymbolSpec",
    "TradeExecuted",
    "WallClock",
]
