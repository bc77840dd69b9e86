"""tradebus domain model: frozen msgspec Structs, exact decimals, no I/O."""

from .account import AccountSnapshot, Balance, MarginBalance, Position
from .book import BookLevel, BookWalk, OrderBook, walk_book
from .enums import (
    FINAL_STATUSES,
    Exchange,
    InstrumentStatus,
    MarketKind,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from .funding import HOUR_MS, FundingPayment, FundingRate
from .instrument import Instrument
from .key import InstrumentKey, InvalidInstrumentKey
from .order import Fill, Order, OrderRequest
from .refusal import ExecType, RejectCode
from .risk import (
    DrawdownAction,
    InstrumentLimits,
    LimitName,
    RiskBreach,
    RiskEvent,
    RiskEventKind,
    RiskLimits,
    TradingState,
)
from .rounding import (
    FilterViolation,
    FittedOrder,
    OrderTooSmall,
    PriceOutOfRange,
    check_order,
    fit_order,
    round_down,
    round_price,
    round_qty,
    round_up,
    to_plain,
)

__all__ = [
    "AccountSnapshot",
    "Balance",
    "BookLevel",
    "BookWalk",
    "DrawdownAction",
    "Exchange",
    "ExecType",
    "FINAL_STATUSES",
    "Fill",
    "FilterViolation",
    "FittedOrder",
    "FundingPayment",
    "FundingRate",
    "HOUR_MS",
    "Instrument",
    "InstrumentKey",
    "InstrumentLimits",
    "InstrumentStatus",
    "InvalidInstrumentKey",
    "LimitName",
    "MarginBalance",
    "MarketKind",
    "Order",
    "OrderBook",
    "OrderRequest",
    "OrderStatus",
    "OrderTooSmall",
    "OrderType",
    "Position",
    "PriceOutOfRange",
    "RejectCode",
    "RiskBreach",
    "RiskEvent",
    "RiskEventKind",
    "RiskLimits",
    "Side",
    "TimeInForce",
    "TradingState",
    "check_order",
    "fit_order",
    "round_down",
    "round_price",
    "round_qty",
    "round_up",
    "to_plain",
    "walk_book",
]
