"""The gateway's API shapes: msgspec Structs with constraints at the edge.

Requests decode straight into these (a bad body is a 400 problem document naming the field);
responses are these and the wire's own models (``strategy_client.model``/``.wire``), so the
OpenAPI document (:mod:`gateway.openapi`) is generated from the same types the wire uses.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from strategy_client.model import (
    AccountSnapshot,
    FundingRate,
    OrderBook,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.model.order import CLIENT_ID_PATTERN, MAX_CLIENT_ID_LEN
from strategy_client.model.risk import TradingState
from strategy_client.wire import QueueStat, ReferencePrice
from strategy_client.wire.risk import RiskStatus

__all__ = [
    "Role",
    "KeyText",
    "Problem",
    "HealthView",
    "RunnerView",
    "BookView",
    "BalanceView",
    "TradingStateView",
    "StrategyView",
    "PnlTerms",
    "OrderTicket",
    "CancelTicket",
    "CancelAllTicket",
    "LeverageTicket",
    "TradingStateTicket",
    "KillSwitchTicket",
    "SyncTicket",
    "SessionRequest",
    "SessionView",
    "CommandStatus",
    "CommandView",
    "Accepted",
    "FilterChange",
    "RiskVerdict",
    "Preview",
    "ApiKeyInfo",
    "AuditRow",
    "Subscribe",
    "FundingRate",
    "AccountSnapshot",
    "RiskStatus",
    "ReferencePrice",
]


class Role(StrEnum):
    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = (Role.READ, Role.TRADE, Role.ADMIN)
        return order.index(self) >= order.index(needed)


#: an instrument key's text form (``binance:perp:BTCUSDT``)
KeyText = Annotated[str, msgspec.Meta(min_length=5, max_length=64, pattern=r"^[A-Za-z]+:[A-Za-z]+:[A-Za-z0-9_.-]+$")]
RunnerName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Reason = Annotated[str, msgspec.Meta(max_length=200)]
ClientIdText = Annotated[str, msgspec.Meta(pattern=CLIENT_ID_PATTERN, max_length=MAX_CLIENT_ID_LEN)]
VenueIdText = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{0,64}$", max_length=64)]


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem document; ``code`` is the wire's error code or the gateway's own."""

    type: str
    title: str
    status: int
    detail: str = ""
    code: str
    retryable: bool  # always present: whether the same request may simply be sent again
    instance: str = ""
    reject_code: str | None = None
    venue_code: str = ""
    venue_message: str = ""
    retry_after_s: float | None = None


class HealthView(msgspec.Struct, kw_only=True):
    status: str
    version: str
    runners: int
    uptime_s: float


class RunnerView(msgspec.Struct, kw_only=True):
    name: str
    exchange: str
    mode: str
    venue: str
    status: str  # the registration's status (starting | ready | degraded | stopping)
    connected: bool
    host: str
    pid: int
    started_ms: int
    heartbeat_ms: int
    symbols: tuple[str, ...] = ()
    unlisted: bool = False  # its Redis record is gone; kept while it answers pings
    last_status: str = ""  # the last runner_status event's status
    last_status_detail: str = ""
    streams: dict[str, bool] = {}
    ready: bool | None = None  # from a ping (GET /runners/{name})
    queues: dict[str, QueueStat] = {}
    last_jseq: int = 0  # the last journal sequence the gateway saw from it


class BookView(msgspec.Struct, kw_only=True):
    runner: str
    book: OrderBook
    seq: int


class BalanceView(msgspec.Struct, kw_only=True):
    runner: str
    account: AccountSnapshot


class TradingStateView(msgspec.Struct, kw_only=True):
    runner: str
    state: TradingState | None
    reason: str = ""
    error: str = ""


class PnlTerms(msgspec.Struct, kw_only=True):
    basis: Decimal
    funding: Decimal
    fees: Decimal
    slippage: Decimal
    total: Decimal
    funding_accrued: Decimal = Decimal(0)


class StrategyView(msgspec.Struct, kw_only=True):
    name: str
    stream: str
    journal: str
    lifecycle: str | None = None  # the lifecycle state when the journal has one (docs/strategies.md)
    lifecycle_since_ms: int | None = None
    lifecycle_reason: str = ""
    mode: str | None = None  # live | paper (from the lifecycle row)
    alive: bool | None = None  # its process is running (heartbeat fresh)
    strategies: tuple[str, ...] = ()
    open_pairs: int = 0
    closed_pairs: int = 0
    realized: PnlTerms
    last_run_started_ms: int | None = None
    last_run_stopped_ms: int | None = None


# --- requests ------------------------------------------------------------------------------


class OrderTicket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: KeyText
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    runner: RunnerName | None = None


class CancelTicket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: KeyText
    client_id: ClientIdText = ""
    venue_id: VenueIdText = ""
    runner: RunnerName | None = None


class CancelAllTicket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    runner: RunnerName | None = None
    exchange: str | None = None
    key: KeyText | None = None


class LeverageTicket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: KeyText
    leverage: Annotated[int, msgspec.Meta(ge=1, le=125)]
    runner: RunnerName | None = None


class TradingStateTicket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    state: TradingState
    reason: Reason = ""
    force: bool = False
    runner: RunnerName | None = None


class KillSwitchTicket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = "kill switch (gateway)"


class SyncTicket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    runner: RunnerName = ""  # from the path


class SessionRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    api_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SessionView(msgspec.Struct, kw_only=True):
    key_id: str
    role: Role
    label: str
    expires_ms: int


# --- the command flow -----------------------------------------------------------------------


class CommandStatus(StrEnum):
    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


class CommandView(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    status: CommandStatus
    key_id: str
    created_ms: int
    updated_ms: int
    attempts: int
    client_id: str
    request: Any
    result: Any = None
    error: Problem | None = None
    idempotency_key: str | None = None


class Accepted(msgspec.Struct, kw_only=True):
    command: CommandView


class FilterChange(msgspec.Struct, kw_only=True):
    field: str  # qty | price
    asked: Decimal | None
    fitted: Decimal | None
    why: str


class RiskVerdict(msgspec.Struct, kw_only=True):
    ok: bool
    state: TradingState | None = None
    limit: str = ""
    message: str = ""
    checked: bool = True  # False: the runner's gate status could not be read (no verdict)


class Preview(msgspec.Struct, kw_only=True):
    runner: str
    order: OrderRequest  # the order as it would be sent (fitted to the filters)
    changes: tuple[FilterChange, ...] = ()
    valid: bool = True  # False: no rounding makes it pass the filters (``problem`` says which)
    problem: str = ""
    reference: Decimal | None = None
    notional: Decimal | None = None
    risk: RiskVerdict


class ApiKeyInfo(msgspec.Struct, kw_only=True):
    key_id: str
    role: Role
    label: str
    created_ms: int
    revoked_ms: int | None = None


class AuditRow(msgspec.Struct, kw_only=True):
    id: int
    ts_ms: int
    key_id: str
    method: str
    path: str
    body: str
    status: int
    outcome: str
    command_id: str | None
    remote: str


# --- the stream ------------------------------------------------------------------------------


class Subscribe(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    op: str
    topics: Annotated[list[str], msgspec.Meta(max_length=16)] | None = None
    exchange: str | None = None
    instrument: KeyText | None = None
    since: Annotated[dict[str, Annotated[int, msgspec.Meta(ge=0)]], msgspec.Meta(max_length=256)] | None = None
