"""Request, reply and event messages: msgspec tagged unions encoded as msgpack.

Requests are tagged by ``method``, replies by ``type``, events by ``event``. Evolution rules:
a new field always has a default; decoders ignore fields they do not know; a new message
type is a new tag; removing or retyping a field needs a new protocol version.

Every request is declared a command (``@command``, :mod:`.commands`): its reply type (the
``Query[...]`` base), routing, permission, idempotency and scope, read by the runner's dispatch,
the client APIs and the permission check.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from ..model import (
    AccountSnapshot,
    Exchange,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    Position,
    RejectCode,
)
from ..model.order import CLIENT_ID_PATTERN, MAX_CLIENT_ID_LEN
from .commands import BY_METHOD, Permission, Query, Routing, Scope, command
from .errors import ErrorCode
from .gaps import GapAck, GapRange, ReportGap
from .market import (
    BarEvent,
    BarsReply,
    GetBars,
    GetQualityStats,
    QualityRejects,
    QualityStats,
    QualityStatsReply,
    TickerEvent,
    TradeEvent,
)
from .risk import GetRiskStatus, RiskGateEvent, RiskStatusReply, SetRiskLimit, SetTradingState, TradingStateReply

__all__ = [
    # requests
    "QueueStat",
    "ClientId",
    "VenueId",
    "MAX_VENUE_ID_LEN",
    "MAX_SNAPSHOT_KEYS",
    "SubmitOrder",
    "CancelOrder",
    "GetOrder",
    "GetOpenOrders",
    "GetPosition",
    "GetAllPositions",
    "GetInstrument",
    "GetAllInstruments",
    "GetReferencePrice",
    "GetFundingRate",
    "GetFundingRates",
    "GetAccountSnapshot",
    "SetLeverage",
    "GetBookSnapshot",
    "Ping",
    "ReportGap",
    "GapRange",
    "GetRiskStatus",
    "SetTradingState",
    "SetRiskLimit",
    "ReplayEvents",
    "ReconcileNow",
    "MAX_REPLAY_EVENTS",
    "GetQualityStats",
    "GetBars",
    "Request",
    "METHODS",
    # replies
    "OrderReply",
    "OrdersReply",
    "PositionReply",
    "PositionsReply",
    "InstrumentReply",
    "InstrumentsReply",
    "PriceReply",
    "FundingReply",
    "FundingRatesReply",
    "AccountReply",
    "LeverageReply",
    "BookSnapshotReply",
    "Pong",
    "ErrorReply",
    "GapAck",
    "RiskStatusReply",
    "TradingStateReply",
    "EventsReply",
    "ReconcileReply",
    "ReplayedEvent",
    "QualityStatsReply",
    "QualityStats",
    "QualityRejects",
    "BarsReply",
    "Reply",
    "PriceSource",
    "ReferencePrice",
    "TopicSeq",
    # events
    "OrderEventKind",
    "BookEvent",
    "OrderEvent",
    "PositionEvent",
    "FundingEvent",
    "FundingPaymentEvent",
    "AccountEvent",
    "RunnerStatusEvent",
    "RiskGateEvent",
    "TradeEvent",
    "TickerEvent",
    "BarEvent",
    "Event",
]


# ----------------------------------------------------------------------------- replies


class PriceSource(StrEnum):
    MID = "mid"  # book mid
    BID = "bid"
    ASK = "ask"
    MARK = "mark"
    INDEX = "index"


class _Rep(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class OrderReply(_Rep, frozen=True, tag="order"):
    order: Order


class OrdersReply(_Rep, frozen=True, tag="orders"):
    orders: tuple[Order, ...]


class PositionReply(_Rep, frozen=True, tag="position"):
    position: Position | None


class PositionsReply(_Rep, frozen=True, tag="positions"):
    positions: tuple[Position, ...]


class InstrumentReply(_Rep, frozen=True, tag="instrument"):
    instrument: Instrument


class InstrumentsReply(_Rep, frozen=True, tag="instruments"):
    instruments: tuple[Instrument, ...]


class ReferencePrice(msgspec.Struct, frozen=True, kw_only=True):
    key: InstrumentKey
    price: Decimal
    source: PriceSource
    ts_ms: int
    stale: bool = False
    age_ms: float = 0.0


class PriceReply(_Rep, frozen=True, tag="price"):
    price: ReferencePrice


class FundingReply(_Rep, frozen=True, tag="funding"):
    funding: FundingRate


class FundingRatesReply(_Rep, frozen=True, tag="funding_rates"):
    """``get_funding_rates``: the rate of each perpetual the runner serves, as last received from
    the venue (mark-price stream or REST poll); ``missing``: perpetuals it has no rate for yet."""

    rates: tuple[FundingRate, ...]
    missing: tuple[InstrumentKey, ...] = ()


class AccountReply(_Rep, frozen=True, tag="account"):
    account: AccountSnapshot


class LeverageReply(_Rep, frozen=True, tag="leverage"):
    key: InstrumentKey
    leverage: int


class TopicSeq(msgspec.Struct, frozen=True, array_like=True):
    topic: bytes
    seq: int


class QueueStat(msgspec.Struct, frozen=True, array_like=True):
    """One bounded queue inside the runner: current depth, capacity, items dropped (market data only)."""

    depth: int
    capacity: int
    dropped: int = 0


class BookSnapshotReply(_Rep, frozen=True, tag="book_snapshot"):
    books: tuple[OrderBook, ...]
    seqs: tuple[TopicSeq, ...] = ()


class Pong(_Rep, frozen=True, tag="pong"):
    exchange: Exchange
    runner_version: str
    protocol_version: int
    mode: str = "live"
    venue: str = "sim"
    ready: bool = True
    queues: dict[str, QueueStat] = {}


class ReplayedEvent(msgspec.Struct, frozen=True, array_like=True):
    """One journaled event: its journal sequence, topic, journal time (ns), whether a restart's
    reconcile learned it, and the event's wire encoding exactly as it was published."""

    jseq: int
    topic: bytes
    ts_ns: int
    reconciled: bool
    event: bytes


class EventsReply(_Rep, frozen=True, tag="events"):
    """``replay_events``: the events; ``more`` true when more are journaled after
    ``next_after`` (ask again from there); ``last_seq`` the journal's last sequence now."""

    events: tuple[ReplayedEvent, ...]
    more: bool = False
    next_after: int = 0
    last_seq: int = 0


class ReconcileReply(_Rep, frozen=True, tag="reconciled"):
    """``reconcile``: the runner asked the venue now — ``positions`` the positions it holds,
    ``open_orders`` the orders the venue lists open (the runner's state follows both)."""

    positions: int = 0
    open_orders: int = 0


class ErrorReply(_Rep, frozen=True, tag="error"):
    code: ErrorCode
    message: str
    retryable: bool = False
    venue_code: str = ""
    venue_message: str = ""
    reject_code: RejectCode | None = None  # a refusal's reason in the model's vocabulary


Reply = (
    OrderReply
    | OrdersReply
    | PositionReply
    | PositionsReply
    | InstrumentReply
    | InstrumentsReply
    | PriceReply
    | FundingReply
    | FundingRatesReply
    | AccountReply
    | LeverageReply
    | BookSnapshotReply
    | Pong
    | ErrorReply
    | GapAck
    | RiskStatusReply
    | TradingStateReply
    | EventsReply
    | ReconcileReply
    | QualityStatsReply
    | BarsReply
)


# ----------------------------------------------------------------------------- requests

#: A client order id in a request: what every venue accepts ("" = none; see ``model/order.py``).
ClientId = Annotated[str, msgspec.Meta(pattern=CLIENT_ID_PATTERN, max_length=MAX_CLIENT_ID_LEN)]
#: A venue's order id as a client quotes it back (digits, UUIDs, the paper venue's prefixes).
MAX_VENUE_ID_LEN = 64
VenueId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{0,64}$", max_length=MAX_VENUE_ID_LEN)]
#: Instruments one ``get_book_snapshot`` may name.
MAX_SNAPSHOT_KEYS = 1024


class _Req(msgspec.Struct, frozen=True, kw_only=True, tag_field="method"):
    pass


@command(route=Routing.ORDER, scope=Scope.ACCOUNT, permission=Permission.TRADE, idempotent=False)
class SubmitOrder(_Req, Query[OrderReply], frozen=True, tag="submit_order"):
    order: OrderRequest


@command(route=Routing.INSTRUMENT, scope=Scope.ACCOUNT, permission=Permission.TRADE, idempotent=False)
class CancelOrder(_Req, Query[OrderReply], frozen=True, tag="cancel_order"):
    key: InstrumentKey
    client_id: ClientId = ""
    venue_id: VenueId = ""


@command(route=Routing.INSTRUMENT, scope=Scope.ACCOUNT)
class GetOrder(_Req, Query[OrderReply], frozen=True, tag="get_order"):
    key: InstrumentKey
    client_id: ClientId = ""
    venue_id: VenueId = ""


@command(route=Routing.CALLER, scope=Scope.ACCOUNT)
class GetOpenOrders(_Req, Query[OrdersReply], frozen=True, tag="get_open_orders"):
    key: InstrumentKey | None = None
    kind: MarketKind | None = None


@command(route=Routing.INSTRUMENT, scope=Scope.ACCOUNT)
class GetPosition(_Req, Query[PositionReply], frozen=True, tag="get_position"):
    key: InstrumentKey


@command(route=Routing.EXCHANGE, scope=Scope.ACCOUNT)
class GetAllPositions(_Req, Query[PositionsReply], frozen=True, tag="get_all_positions"):
    exchange: Exchange


@command(route=Routing.INSTRUMENT, scope=Scope.MARKET)
class GetInstrument(_Req, Query[InstrumentReply], frozen=True, tag="get_instrument"):
    key: InstrumentKey


@command(route=Routing.EXCHANGE, scope=Scope.MARKET)
class GetAllInstruments(_Req, Query[InstrumentsReply], frozen=True, tag="get_all_instruments"):
    exchange: Exchange
    kind: MarketKind | None = None


@command(route=Routing.INSTRUMENT, scope=Scope.MARKET)
class GetReferencePrice(_Req, Query[PriceReply], frozen=True, tag="get_reference_price"):
    key: InstrumentKey
    source: PriceSource = PriceSource.MID


@command(route=Routing.INSTRUMENT, scope=Scope.MARKET)
class GetFundingRate(_Req, Query[FundingReply], frozen=True, tag="get_funding_rate"):
    key: InstrumentKey


@command(route=Routing.EXCHANGE, scope=Scope.MARKET)
class GetFundingRates(_Req, Query[FundingRatesReply], frozen=True, tag="get_funding_rates"):
    """Every perpetual's current funding rate in one call (a scan across instruments)."""

    exchange: Exchange


@command(route=Routing.EXCHANGE, scope=Scope.ACCOUNT)
class GetAccountSnapshot(_Req, Query[AccountReply], frozen=True, tag="get_account_snapshot"):
    exchange: Exchange


@command(route=Routing.INSTRUMENT, scope=Scope.ACCOUNT, permission=Permission.ADMIN)
class SetLeverage(_Req, Query[LeverageReply], frozen=True, tag="set_leverage"):
    key: InstrumentKey
    leverage: int


@command(route=Routing.CALLER, scope=Scope.MARKET)
class GetBookSnapshot(_Req, Query[BookSnapshotReply], frozen=True, tag="get_book_snapshot"):
    """Current books (all, or ``keys``) plus the per-topic sequence numbers they correspond to."""

    keys: Annotated[tuple[InstrumentKey, ...], msgspec.Meta(max_length=MAX_SNAPSHOT_KEYS)] = ()


@command(route=Routing.CALLER, scope=Scope.RUNNER)
class Ping(_Req, Query[Pong], frozen=True, tag="ping"):
    pass


#: The most events one ``replay_events`` reply carries (it also stops near 48 KB of payload).
MAX_REPLAY_EVENTS = 1000


@command(route=Routing.CALLER, scope=Scope.RUNNER)
class ReplayEvents(_Req, Query[EventsReply], frozen=True, tag="replay_events"):
    """The runner's journaled events (``exec``, ``pos``, ``acct``, funding payments) with journal
    sequence (the header's ``jseq``) greater than ``after_seq``, oldest first; ``topic`` (a topic
    or a prefix of one, empty: all) narrows them. A reply holds at most ``limit`` events; when it
    says ``more``, ask again with ``after_seq = next_after``."""

    after_seq: Annotated[int, msgspec.Meta(ge=0)] = 0
    topic: Annotated[bytes, msgspec.Meta(max_length=256)] = b""
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_REPLAY_EVENTS)] = MAX_REPLAY_EVENTS


@command(route=Routing.EXCHANGE, scope=Scope.RUNNER, permission=Permission.ADMIN)
class ReconcileNow(_Req, Query[ReconcileReply], frozen=True, tag="reconcile"):
    """Reconcile with the venue now (admin; what the runner does every ``reconcile_interval_s``):
    the account, the positions, then every open or unresolved order, each from the venue."""

    exchange: Exchange


Request = (
    SubmitOrder
    | CancelOrder
    | GetOrder
    | GetOpenOrders
    | GetPosition
    | GetAllPositions
    | GetInstrument
    | GetAllInstruments
    | GetReferencePrice
    | GetFundingRate
    | GetFundingRates
    | GetAccountSnapshot
    | SetLeverage
    | GetBookSnapshot
    | Ping
    | ReportGap
    | GetRiskStatus
    | SetTradingState
    | SetRiskLimit
    | ReplayEvents
    | ReconcileNow
    | GetQualityStats
    | GetBars
)

#: The methods a runner serves: every command of the registry (``Request`` is the same set).
METHODS: frozenset[str] = frozenset(BY_METHOD)


# ----------------------------------------------------------------------------- events


class OrderEventKind(StrEnum):
    NEW = "new"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL = "cancel"
    REJECT = "reject"
    EXPIRE = "expire"
    UNKNOWN = "unknown"  # the venue's answer was lost; the order is UNKNOWN until the venue says


class _Evt(msgspec.Struct, frozen=True, kw_only=True, tag_field="event"):
    pass


class BookEvent(_Evt, frozen=True, tag="book"):
    book: OrderBook
    stale: bool = False


class OrderEvent(_Evt, frozen=True, tag="order"):
    kind: OrderEventKind
    order: Order
    fill: Fill | None = None
    paper: bool = False


class PositionEvent(_Evt, frozen=True, tag="position"):
    position: Position
    closed: bool = False
    paper: bool = False


class FundingEvent(_Evt, frozen=True, tag="funding"):
    funding: FundingRate


class FundingPaymentEvent(_Evt, frozen=True, tag="funding_payment"):
    payment: FundingPayment
    paper: bool = False


class AccountEvent(_Evt, frozen=True, tag="account"):
    account: AccountSnapshot
    reason: str = ""
    paper: bool = False


class RunnerStatusEvent(_Evt, frozen=True, tag="runner_status"):
    exchange: Exchange
    status: str  # starting | ready | degraded | stopping
    detail: str = ""
    streams: dict[str, bool] = {}
    redis_ok: bool = True
    queues: dict[str, QueueStat] = {}
    warnings: tuple[str, ...] = ()  # e.g. a burst of market data the quality control rejects


Event = (
    BookEvent
    | OrderEvent
    | PositionEvent
    | FundingEvent
    | FundingPaymentEvent
    | AccountEvent
    | RunnerStatusEvent
    | RiskGateEvent
    | TradeEvent
    | TickerEvent
    | BarEvent
)
