"""Binance WebSocket payloads as msgspec Structs, with Binance's own field names.

Covers the market streams (§6), the futures user-data stream (§7), the spot user-data events
delivered over the WS-API (§8) and the WS-API / stream-control envelopes. Prices, quantities
and balances are JSON strings on the wire and decode straight to ``Decimal``; book levels
decode straight to :class:`~strategy_client.model.BookLevel` (``[price, qty]``).

Single-letter names are Binance's and are case-sensitive (``e``/``E``, ``t``/``T``...). Fields
we do not use are still declared when the docs show them, so the schema documents the
payload; anything newer is ignored by the decoder. User-data events are tagged unions on
``"e"``; an unknown ``"e"`` is a ``msgspec.ValidationError`` the caller counts and drops.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

import msgspec

from strategy_client.model import BookLevel

__all__ = [
    # envelopes and control
    "Combined",
    "ControlReply",
    "EventTag",
    "WsApiEnvelope",
    "WsApiError",
    "WsApiRateLimit",
    "RetryAfterData",
    "SubscribeResult",
    "UserEventEnvelope",
    # market data
    "SpotDepthPartial",
    "FuturesDepth",
    "SpotDepthDiff",
    "SpotBookTicker",
    "FuturesBookTicker",
    "MarkPriceUpdate",
    # futures user data
    "FuturesOrder",
    "OrderTradeUpdate",
    "FuturesBalance",
    "FuturesPosition",
    "FuturesAccountData",
    "AccountUpdateEvent",
    "ListenKeyExpiredEvent",
    "MarginCallPosition",
    "MarginCallEvent",
    "LeverageConfig",
    "MultiAssetsConfig",
    "AccountConfigUpdate",
    "TradeLite",
    "FuturesUserEvent",
    "FUTURES_IGNORED_EVENTS",
    # spot user data
    "ExecutionReport",
    "SpotBalance",
    "OutboundAccountPosition",
    "BalanceUpdate",
    "EventStreamTerminated",
    "ServerShutdown",
    "SpotUserEvent",
    "SPOT_IGNORED_EVENTS",
]

T = TypeVar("T")

ZERO = Decimal(0)

# ---------------------------------------------------------------------------------------------
# Envelopes and control messages


class Combined(msgspec.Struct, Generic[T], frozen=True, gc=False):
    """Combined-stream wrapper ``{"stream": "btcusdt@depth5@100ms", "data": {...}}``."""

    stream: str
    data: T


class ControlReply(msgspec.Struct, frozen=True, gc=False):
    """Reply to SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS/SET_PROPERTY on a stream connection.

    Success ``{"result": null, "id": 1}``; error ``{"code": 2, "msg": "Invalid request: ...", "id": 1}``.
    Every field has a default so any frame decodes; the caller checks ``id``.
    """

    id: int | str | None = None
    result: msgspec.Raw = msgspec.Raw()
    code: int | None = None
    msg: str | None = None


class EventTag(msgspec.Struct, frozen=True, gc=False):
    """Just the event type of a payload, to name what failed to decode."""

    e: str = ""


class WsApiRateLimit(msgspec.Struct, frozen=True, gc=False):
    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int
    count: int = 0


class WsApiError(msgspec.Struct, frozen=True, gc=False):
    code: int
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw()


class RetryAfterData(msgspec.Struct, frozen=True, gc=False):
    """``error.data`` of a WS-API 429/418: ``retryAfter`` is an epoch time in ms."""

    retryAfter: int | None = None


class WsApiEnvelope(msgspec.Struct, frozen=True, gc=False):
    """Everything a WS-API connection sends, decoded once.

    Reply: ``{"id", "status", "result" | "error", "rateLimits"}``. User-data event:
    ``{"subscriptionId": 0, "event": {...}}`` (``id`` absent). ``result``/``event`` stay raw
    bytes (empty when absent) so the caller decodes them with the right type.
    """

    id: int | str | None = None
    status: int = 0
    result: msgspec.Raw = msgspec.Raw()
    error: WsApiError | None = None
    rateLimits: list[WsApiRateLimit] | None = None
    subscriptionId: int | None = None
    event: msgspec.Raw = msgspec.Raw()


class SubscribeResult(msgspec.Struct, frozen=True, gc=False):
    """``result`` of ``userDataStream.subscribe[.signature]``."""

    subscriptionId: int


class UserEventEnvelope(msgspec.Struct, frozen=True, gc=False):
    """``{"subscriptionId": N, "event": {...}}`` with the event left raw."""

    subscriptionId: int
    event: msgspec.Raw


# ---------------------------------------------------------------------------------------------
# Market data (§6)


class SpotDepthPartial(msgspec.Struct, frozen=True, gc=False):
    """Spot ``<symbol>@depth{5,10,20}[@100ms]``: no symbol, no event time."""

    lastUpdateId: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


class FuturesDepth(msgspec.Struct, frozen=True, gc=False):
    """Futures partial (``@depth5@100ms``) and diff (``@depth@100ms``) depth."""

    e: str
    E: int
    T: int
    s: str
    U: int
    u: int
    pu: int
    b: tuple[BookLevel, ...]
    a: tuple[BookLevel, ...]


class SpotDepthDiff(msgspec.Struct, frozen=True, gc=False):
    """Spot diff depth ``<symbol>@depth[@100ms]``; quantities are absolute, 0 deletes."""

    e: str
    E: int
    s: str
    U: int
    u: int
    b: tuple[BookLevel, ...]
    a: tuple[BookLevel, ...]


class SpotBookTicker(msgspec.Struct, frozen=True, gc=False):
    u: int
    s: str
    b: Decimal
    B: Decimal
    a: Decimal
    A: Decimal


class FuturesBookTicker(msgspec.Struct, frozen=True, gc=False):
    e: str
    E: int
    T: int
    u: int
    s: str
    b: Decimal
    B: Decimal
    a: Decimal
    A: Decimal


class MarkPriceUpdate(msgspec.Struct, frozen=True, gc=False):
    """``<symbol>@markPrice[@1s]``: mark, index, est. settle, funding rate, next funding time."""

    e: str
    E: int
    s: str
    p: Decimal
    i: Decimal
    P: Decimal
    r: Decimal
    T: int


# ---------------------------------------------------------------------------------------------
# Futures user data (§7)


class FuturesOrder(msgspec.Struct, frozen=True, gc=False):
    """The ``o`` object of ORDER_TRADE_UPDATE. ``N``/``n`` are absent when there is no fee."""

    s: str
    c: str
    S: str
    o: str
    f: str
    q: Decimal
    p: Decimal
    ap: Decimal
    x: str
    X: str
    i: int
    l: Decimal  # noqa: E741  (Binance's name: last filled qty)
    z: Decimal
    L: Decimal
    T: int
    t: int = 0
    sp: Decimal = ZERO
    N: str | None = None
    n: Decimal = ZERO
    b: Decimal = ZERO
    a: Decimal = ZERO
    m: bool = False
    R: bool = False
    wt: str = ""
    ot: str = ""
    ps: str = "BOTH"
    cp: bool = False
    rp: Decimal = ZERO
    pP: bool = False
    V: str = ""
    pm: str = ""
    gtd: int = 0
    er: str = "0"


class OrderTradeUpdate(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="ORDER_TRADE_UPDATE"):
    E: int
    T: int
    o: FuturesOrder


class FuturesBalance(msgspec.Struct, frozen=True, gc=False):
    a: str
    wb: Decimal
    cw: Decimal = ZERO
    bc: Decimal = ZERO


class FuturesPosition(msgspec.Struct, frozen=True, gc=False):
    s: str
    pa: Decimal
    ep: Decimal
    up: Decimal = ZERO
    bep: Decimal = ZERO
    cr: Decimal = ZERO
    mt: str = "cross"
    iw: Decimal = ZERO
    ps: str = "BOTH"


class FuturesAccountData(msgspec.Struct, frozen=True, gc=False):
    """``a`` of ACCOUNT_UPDATE: reason ``m``, changed balances ``B`` and positions ``P``."""

    m: str
    B: tuple[FuturesBalance, ...] = ()
    P: tuple[FuturesPosition, ...] = ()
    S: str = ""  # newer payloads: symbol of a FUNDING_FEE


class AccountUpdateEvent(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="ACCOUNT_UPDATE"):
    E: int
    T: int
    a: FuturesAccountData


class ListenKeyExpiredEvent(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="listenKeyExpired"):
    """``E`` may arrive as a string (pitfall §11.3)."""

    E: int | str
    listenKey: str = ""


class MarginCallPosition(msgspec.Struct, frozen=True, gc=False):
    s: str
    pa: Decimal
    mt: str
    mp: Decimal
    up: Decimal
    mm: Decimal
    ps: str = "BOTH"
    iw: Decimal = ZERO


class MarginCallEvent(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="MARGIN_CALL"):
    E: int
    p: tuple[MarginCallPosition, ...]
    cw: Decimal | None = None


class LeverageConfig(msgspec.Struct, frozen=True, gc=False):
    s: str
    l: int  # noqa: E741  (Binance's name: leverage)


class MultiAssetsConfig(msgspec.Struct, frozen=True, gc=False):
    j: bool


class AccountConfigUpdate(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="ACCOUNT_CONFIG_UPDATE"):
    E: int
    T: int = 0
    ac: LeverageConfig | None = None
    ai: MultiAssetsConfig | None = None


class TradeLite(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="TRADE_LITE"):
    """Fast fill notice; the same fill also arrives as ORDER_TRADE_UPDATE, which we use."""

    E: int
    T: int = 0
    s: str = ""


FuturesUserEvent = (
    OrderTradeUpdate | AccountUpdateEvent | ListenKeyExpiredEvent | MarginCallEvent | AccountConfigUpdate | TradeLite
)

#: Event types the futures stream may send that we deliberately do not translate.
FUTURES_IGNORED_EVENTS = frozenset(
    {"TRADE_LITE", "ALGO_UPDATE", "STRATEGY_UPDATE", "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT"}
)

# ---------------------------------------------------------------------------------------------
# Spot user data (§8)


class ExecutionReport(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="executionReport"):
    E: int
    s: str
    c: str
    S: str
    o: str
    f: str
    q: Decimal
    p: Decimal
    x: str
    X: str
    i: int
    l: Decimal  # noqa: E741  (Binance's name: last executed qty)
    z: Decimal
    L: Decimal
    T: int
    P: Decimal = ZERO
    F: Decimal = ZERO
    g: int = -1
    C: str = ""
    r: str = "NONE"
    n: Decimal = ZERO
    N: str | None = None
    t: int = -1
    I: int = 0  # noqa: E741  (Binance's name: execution id)
    w: bool = False
    m: bool = False
    M: bool = False
    O: int = 0  # noqa: E741  (Binance's name: order creation time)
    Z: Decimal = ZERO
    Y: Decimal = ZERO
    Q: Decimal = ZERO
    W: int = 0
    V: str = ""
    eR: str = ""


class SpotBalance(msgspec.Struct, frozen=True, gc=False):
    a: str
    f: Decimal
    l: Decimal  # noqa: E741  (Binance's name: locked)


class OutboundAccountPosition(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="outboundAccountPosition"):
    E: int
    u: int
    B: tuple[SpotBalance, ...]


class BalanceUpdate(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="balanceUpdate"):
    """A deposit/withdrawal delta; absolute balances follow in outboundAccountPosition."""

    E: int
    a: str
    d: Decimal
    T: int


class EventStreamTerminated(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="eventStreamTerminated"):
    E: int


class ServerShutdown(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="serverShutdown"):
    E: int = 0


SpotUserEvent = ExecutionReport | OutboundAccountPosition | BalanceUpdate | EventStreamTerminated | ServerShutdown

#: Spot event types we deliberately do not translate.
SPOT_IGNORED_EVENTS = frozenset({"listStatus", "externalLockUpdate"})
