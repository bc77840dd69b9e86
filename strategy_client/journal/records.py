"""What the journal writes and what it reads back: msgspec Structs over the domain model.

Writes are :data:`JournalRecord` values passed to :meth:`Journal.append`; the order intent is
written synchronously by :meth:`Journal.write_intent`. History rows are flat (one scalar per
field) so that they render as a table, JSON or CSV without further work.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from ..model import AccountSnapshot, Fill, FundingPayment, Order, OrderRequest, Position
from ..wire.messages import Event

__all__ = [
    "ProcessInfo",
    "Run",
    "OrderIntent",
    "EventRecord",
    "OrderRecord",
    "FillRecord",
    "FundingRecord",
    "PositionSnapshot",
    "BalanceSnapshot",
    "PnlComponents",
    "PairState",
    "Decision",
    "JournalRecord",
    "JournaledEvent",
    "HistoryFilter",
    "OrderRow",
    "FillRow",
    "FundingRow",
    "PairPnlRow",
    "DayPnlRow",
    "DecisionRow",
    "BalanceRow",
    "JournalStats",
    "PruneReport",
]

ZERO = Decimal(0)


class ProcessInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who writes: ``role`` ``runner``/``strategy``/``tool`` and a ``name`` such as
    ``binance:main`` (runner exchange:account) or ``spotperp`` (strategy). ``stream`` =
    ``role:name`` keys every row, so several processes can share one PostgreSQL schema."""

    role: str
    name: str
    version: str = ""
    exchange: str = ""
    account: str = ""
    strategy: str = ""

    @property
    def stream(self) -> str:
        return f"{self.role}:{self.name}"


class Run(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    stream: str
    role: str
    name: str
    version: str
    exchange: str
    account: str
    strategy: str
    pid: int
    host: str
    started_ms: int
    stopped_ms: int | None
    stop_reason: str


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True):
    """An order as asked for, committed before it left for the venue."""

    id: int
    stream: str
    run_id: str
    client_id: str
    ts_ns: int
    origin: str
    request: OrderRequest


# ----------------------------------------------------------------------------- records to append


class EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A runner event as published on PUB, with the runner's event sequence (the outbox row).

    Besides the replayable ``events`` row the journal files what the event says into its typed
    tables: an :class:`~strategy_client.wire.messages.OrderEvent` updates the order and, with a
    fill, adds the fill; a funding payment, a position and an account snapshot likewise.
    """

    event: Event
    seq: int
    topic: bytes = b""
    reconciled: bool = False
    ts_ns: int = 0  # 0: stamped when appended
    payload: bytes = b""  # the event's wire encoding if the caller already has it (else encoded here)


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An order's new state that is not (or not yet) a wire event, e.g. ``unknown`` after a timeout."""

    order: Order
    kind: str
    seq: int | None = None
    reconciled: bool = False
    detail: str = ""
    ts_ns: int = 0


class FillRecord(msgspec.Struct, frozen=True, kw_only=True):
    fill: Fill
    seq: int | None = None
    reconciled: bool = False


class FundingRecord(msgspec.Struct, frozen=True, kw_only=True):
    payment: FundingPayment
    seq: int | None = None
    reconciled: bool = False


class PositionSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    positions: tuple[Position, ...]
    ts_ms: int
    seq: int | None = None
    reconciled: bool = False


class BalanceSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    account: AccountSnapshot
    seq: int | None = None
    reconciled: bool = False


class PnlComponents(msgspec.Struct, frozen=True, kw_only=True):
    """Realised PnL by component, in the pair's quote currency: total = basis + funding − fees − slippage
    (the strategy computes them; the journal stores what it is given)."""

    basis: Decimal = ZERO
    funding: Decimal = ZERO
    fees: Decimal = ZERO
    slippage: Decimal = ZERO
    total: Decimal = ZERO


class PairState(msgspec.Struct, frozen=True, kw_only=True):
    """The two-leg position at one transition. ``state`` is the strategy's own object encoded
    (msgpack by default); the other fields are the indexed columns history and resume read.
    ``version`` increases with every transition of the pair (the latest version wins)."""

    strategy: str
    pair_id: str
    version: int
    ts_ms: int
    phase: str
    leg_a: str  # instrument key text of the long leg
    leg_b: str  # instrument key text of the short leg
    base_a: Decimal = ZERO  # signed base held on each leg
    base_b: Decimal = ZERO
    closed: bool = False
    realized: PnlComponents = PnlComponents()
    funding_accrued: Decimal = ZERO
    state: bytes = b""
    state_format: str = "msgpack"


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy decision and the edge terms it was made on (``terms``: name → exact value)."""

    strategy: str
    ts_ms: int
    action: str
    reason: str = ""
    pair_id: str = ""
    keys: str = ""
    terms: dict[str, Decimal] = {}
    detail: str = ""


JournalRecord = (
    EventRecord | OrderRecord | FillRecord | FundingRecord | PositionSnapshot | BalanceSnapshot | PairState | Decision
)


# ----------------------------------------------------------------------------- reads


class JournaledEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One outbox row read back for replay: publish ``event`` on ``topic`` with ``seq``."""

    seq: int
    topic: bytes
    ts_ns: int
    event: Event
    reconciled: bool


class HistoryFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Filters shared by the history queries; empty means "any". Times are epoch ms, UTC.
    ``key`` matches an instrument key text exactly (``binance:perp:BTCUSDT``) or, without colons,
    a symbol on any venue."""

    since_ms: int | None = None
    until_ms: int | None = None
    key: str = ""
    strategy: str = ""
    stream: str = ""
    pair_id: str = ""
    limit: int | None = None


class OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    client_id: str
    venue_id: str
    key: str
    side: str
    type: str
    tif: str
    price: Decimal | None
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    status: str
    reduce_only: bool
    intent_ts_ns: int | None
    created_ts_ms: int
    updated_ts_ms: int
    reject_reason: str
    reconciled: bool
    origin: str
    reject_code: str = ""


class FillRow(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    ts_ms: int
    key: str
    client_id: str
    venue_id: str
    trade_id: str
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    realized_pnl: Decimal
    reconciled: bool


class FundingRow(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    ts_ms: int
    key: str
    asset: str
    amount: Decimal
    rate: Decimal
    reconciled: bool


class PairPnlRow(msgspec.Struct, frozen=True, kw_only=True):
    strategy: str
    pair_id: str
    phase: str
    closed: bool
    leg_a: str
    leg_b: str
    opened_ms: int
    last_ms: int
    transitions: int
    basis: Decimal
    funding: Decimal
    fees: Decimal
    slippage: Decimal
    total: Decimal
    funding_accrued: Decimal


class DayPnlRow(msgspec.Struct, frozen=True, kw_only=True):
    """Realised PnL booked on one UTC day. From pair states (strategy journals: the change of each
    pair's cumulative components over the day), or — ``source`` ``venue`` — from fills'
    realised PnL, fees and funding payments (runner journals)."""

    day: str
    source: str
    name: str  # pair id (pairs) or instrument key (venue)
    basis: Decimal
    funding: Decimal
    fees: Decimal
    slippage: Decimal
    total: Decimal


class BalanceRow(msgspec.Struct, frozen=True, kw_only=True):
    """A wallet balance as last journaled: ``wallet`` ``spot`` (free/locked) or ``margin``
    (``free`` holds the wallet balance)."""

    ts_ms: int
    exchange: str
    wallet: str
    asset: str
    free: Decimal
    locked: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal
    available_balance: Decimal


class DecisionRow(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    strategy: str
    pair_id: str
    ts_ms: int
    action: str
    reason: str
    keys: str
    terms: dict[str, Decimal]
    detail: str


class JournalStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters a process exports as metrics."""

    intents: int
    intent_errors: int
    appended: int
    committed: int
    batches: int
    queue_depth: int
    queue_capacity: int
    duplicate_fills: int
    duplicate_events: int
    duplicate_funding: int
    write_errors: int
    callback_errors: int
    fault: str
    intent_log: str = ""  # the intent log's path; "" when intents are committed synchronously
    intent_log_fallback: str = ""  # why the intent log could not be used ("" when it is, or is not wanted)
    intents_logged: int = 0  # intents written to the log (the rest were committed synchronously)
    intents_recovered: int = 0  # intents imported from the log at open (a killed process's) or at close
    intents_torn: int = 0  # torn last records ignored at open
    intents_corrupt: int = 0  # records of a damaged log not imported (the file was copied aside)


class PruneReport(msgspec.Struct, frozen=True, kw_only=True):
    cutoff_ms: int
    deleted: dict[str, int]
