"""Pure functions: Binance WebSocket Structs → domain model and ``exchanges.base`` events.

No I/O and no state. A value the domain model cannot express (an unknown order status, a
stream name without a symbol) raises :class:`PayloadError` with a short ``kind``; the stream
that called us counts it, logs the first sample per kind and drops the payload.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, TypeVar

import msgspec

from exchanges.base import AccountUpdate, ExecType, OrderUpdate
from strategy_client.model import (
    Balance,
    BookLevel,
    Exchange,
    Fill,
    FundingPayment,
    FundingRate,
    InstrumentKey,
    MarginBalance,
    MarketKind,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TextLevels,
    TimeInForce,
)

from .ws_schemas import (
    AccountConfigUpdate,
    AccountUpdateEvent,
    ExecutionReport,
    FuturesBookTicker,
    FuturesDepth,
    ListenKeyExpiredEvent,
    MarginCallEvent,
    MarkPriceUpdate,
    OrderTradeUpdate,
    OutboundAccountPosition,
    SpotBookTicker,
    SpotDepthPartial,
)

__all__ = [
    "PayloadError",
    "DEFAULT_FUNDING_INTERVAL_MS",
    "symbol_from_stream",
    "parse_spot_depth",
    "parse_futures_depth",
    "SpotDepthText",
    "FuturesDepthText",
    "FastSpotDepthText",
    "FastFuturesDepthText",
    "FastTextLevels",
    "DecimalTextCheck",
    "DIGITS",
    "key_of",
    "parse_spot_book_ticker",
    "parse_futures_book_ticker",
    "parse_mark_price",
    "parse_order_trade_update",
    "parse_account_update",
    "parse_margin_call",
    "parse_account_config_update",
    "parse_execution_report",
    "parse_outbound_account_position",
    "listen_key_expired_ms",
]

EXCHANGE = Exchange.BINANCE
ZERO = Decimal(0)
DEFAULT_FUNDING_INTERVAL_MS = 8 * 3_600_000

V = TypeVar("V")


class PayloadError(ValueError):
    """A payload that decoded but cannot be translated; ``kind`` names the problem."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@lru_cache(maxsize=8192)  # one key object per listed instrument, not one per message
def _key(symbol: str, kind: MarketKind) -> InstrumentKey:
    return InstrumentKey(EXCHANGE, symbol.upper(), kind)


key_of = _key
"""``key_of(symbol, kind)``: the venue's instrument key, one object per instrument (cached)."""


@lru_cache(maxsize=8192)
def symbol_from_stream(stream: str) -> str:
    """``"btcusdt@depth5@100ms"`` → ``"BTCUSDT"`` (spot partial depth carries no symbol)."""
    symbol, sep, _ = stream.partition("@")
    if not sep or not symbol:
        raise PayloadError("stream_name", f"stream name {stream!r} has no symbol")
    return symbol.upper()


# ---------------------------------------------------------------------------------------------
# Market data


def parse_spot_depth(msg: SpotDepthPartial, symbol: str, local_ts_ns: int) -> OrderBook:
    """Spot partial depth. It has no event time, so ``venue_ts_ms`` is our receive time."""
    return OrderBook(
        key=_key(symbol, MarketKind.SPOT),
        bids=msg.bids,
        asks=msg.asks,
        venue_ts_ms=local_ts_ns // 1_000_000,
        local_ts_ns=local_ts_ns,
        sequence=msg.lastUpdateId,
    )


def parse_futures_depth(msg: FuturesDepth, local_ts_ns: int) -> OrderBook:
    return OrderBook(
        key=_key(msg.s, MarketKind.PERP),
        bids=msg.b,
        asks=msg.a,
        venue_ts_ms=msg.E,
        local_ts_ns=local_ts_ns,
        sequence=msg.u,
    )


# -- the same partial depth with its levels kept as the venue's text (the runner's hot path) -----

_Text = Annotated[str, msgspec.Meta(min_length=2)]
#: Levels as text, each string at least 2 characters long (checked by the decoder, in C): with
#: :class:`DecimalTextCheck`'s skeleton, what makes the fast path's strings decimal numbers.
FastTextLevels = tuple[tuple[_Text, _Text], ...]


class SpotDepthText(msgspec.Struct, frozen=True, gc=False):
    """Spot partial depth, levels as text (:class:`~strategy_client.model.TextBook`)."""

    lastUpdateId: int
    bids: TextLevels
    asks: TextLevels


class FuturesDepthText(msgspec.Struct, frozen=True, gc=False):
    """Futures partial depth, levels as text; the fields a book needs only (the others —
    ``e``, ``T``, ``U``, ``pu`` — are skipped by the decoder, not built)."""

    E: int
    s: str
    u: int
    b: TextLevels
    a: TextLevels


class FastSpotDepthText(msgspec.Struct, frozen=True, gc=False):
    """:class:`SpotDepthText` whose level strings are at least 2 characters long."""

    lastUpdateId: int
    bids: FastTextLevels
    asks: FastTextLevels


class FastFuturesDepthText(msgspec.Struct, frozen=True, gc=False):
    """:class:`FuturesDepthText` whose level strings are at least 2 characters long."""

    E: int
    s: str
    u: int
    b: FastTextLevels
    a: FastTextLevels


DIGITS = b"0123456789"  # what a skeleton is without


def _plain(text: str) -> bool:
    """Digits with at most one ``.`` and at least one digit: ``12``, ``0.5``, ``.5``, ``5.``."""
    rest = text.strip("0123456789")
    return (rest == "" or rest == ".") and len(rest) < len(text)


class DecimalTextCheck:
    """Vouches, cheaply, that every level string of a depth frame is a decimal number.

    Strictly, a frame passes when ``Decimal(s)`` takes each of its level strings (what decoding
    them as Decimals accepted before). That costs about what the Decimals themselves cost, so a
    frame decoded with :data:`FastTextLevels` (every level string ≥ 2 characters, checked by the
    decoder) is checked whole instead (:meth:`known`): its bytes with the digits deleted — one
    ``bytes.translate``; the *skeleton*: the JSON's structure, keys, symbol and, per string, its
    characters other than digits — must be one seen before on a frame whose level strings were
    all plain decimals (digits and at most one ``.``; :meth:`strict` checks them one by one and
    learns the skeleton, at most ``limit`` kept). Each level string of such a frame is then
    digits and the same at most one ``.``, at least 2 characters: a decimal number. Any other
    frame — a new symbol or depth, a 1-character string, an escape, an exponent, a sign,
    letters — takes :meth:`strict`.
    """

    __slots__ = ("skeletons", "last", "limit", "strict_checks")

    def __init__(self, limit: int = 4096) -> None:
        self.skeletons: set[bytes] = set()  # of plain frames
        # per stream (a name the caller picks: a symbol), the skeleton its last frame had when
        # known: most frames repeat it, and comparing two bytes is cheaper than hashing one
        self.last: dict[str, bytes] = {}
        self.limit = limit
        self.strict_checks = 0  # frames that took the strict path

    def known(self, data: bytes) -> bool:
        """The fast path: ``data``'s skeleton is a known plain one (its levels decoded as
        :data:`FastTextLevels`)."""
        return data.translate(None, DIGITS) in self.skeletons

    def check(self, name: str, skeleton: bytes, data: bytes, sides: Iterable[TextLevels]) -> bool:
        """The check of a frame of stream ``name`` (levels decoded as :data:`FastTextLevels`)
        whose ``skeleton`` (``data.translate(None, DIGITS)``) is not that stream's last: a
        known one becomes its last; else :meth:`strict`. A hot caller tests
        ``last.get(name) == skeleton`` itself first."""
        if skeleton in self.skeletons:
            if len(self.last) < self.limit or name in self.last:
                self.last[name] = skeleton
            return True
        return self.strict(data, sides)

    def strict(self, data: bytes, sides: Iterable[TextLevels]) -> bool:
        """True when ``Decimal`` takes every level string of ``sides`` (decoded from ``data``);
        a frame of plain decimals teaches its skeleton."""
        self.strict_checks += 1
        plain = True
        for side in sides:
            for price, qty in side:
                for text in (price, qty):
                    if _plain(text):
                        continue
                    plain = False
                    try:
                        Decimal(text)
                    except InvalidOperation:
                        return False
        if plain and len(self.skeletons) < self.limit:
            self.skeletons.add(data.translate(None, DIGITS))
        return True

    def __call__(self, name: str, data: bytes, sides: Iterable[TextLevels]) -> bool:
        """The whole check of a frame of stream ``name`` whose levels were decoded as
        :data:`FastTextLevels` (what the hot callers do inline)."""
        skeleton = data.translate(None, DIGITS)
        return self.last.get(name) == skeleton or self.check(name, skeleton, data, sides)


def _top(price: Decimal, qty: Decimal) -> tuple[BookLevel, ...]:
    """One book level, or none when the side is empty (quantity 0)."""
    return (BookLevel(price, qty),) if qty > 0 else ()


def parse_spot_book_ticker(msg: SpotBookTicker, local_ts_ns: int) -> OrderBook:
    """Best bid/ask as a one-level book; no event time on spot, so receive time is used."""
    return OrderBook(
        key=_key(msg.s, MarketKind.SPOT),
        bids=_top(msg.b, msg.B),
        asks=_top(msg.a, msg.A),
        venue_ts_ms=local_ts_ns // 1_000_000,
        local_ts_ns=local_ts_ns,
        sequence=msg.u,
    )


def parse_futures_book_ticker(msg: FuturesBookTicker, local_ts_ns: int) -> OrderBook:
    return OrderBook(
        key=_key(msg.s, MarketKind.PERP),
        bids=_top(msg.b, msg.B),
        asks=_top(msg.a, msg.A),
        venue_ts_ms=msg.E,
        local_ts_ns=local_ts_ns,
        sequence=msg.u,
    )


def parse_mark_price(msg: MarkPriceUpdate, interval_ms: int = DEFAULT_FUNDING_INTERVAL_MS) -> FundingRate:
    """markPriceUpdate → FundingRate. The stream does not carry the funding interval:
    pass the symbol's ``fundingIntervalHours`` (``/fapi/v1/fundingInfo``; default 8 h)."""
    if interval_ms <= 0:
        raise PayloadError("funding_interval", f"funding interval {interval_ms} ms is not positive")
    return FundingRate(
        key=_key(msg.s, MarketKind.PERP),
        rate=msg.r,
        interval_ms=interval_ms,
        next_funding_ts_ms=msg.T,
        mark_price=msg.p,
        index_price=msg.i,
        ts_ms=msg.E,
    )


# ---------------------------------------------------------------------------------------------
# Order vocabulary

_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}

_STATUSES = {
    "NEW": OrderStatus.NEW,
    "PENDING_NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}

_EXEC_TYPES = {
    "NEW": ExecType.NEW,
    "TRADE": ExecType.TRADE,
    "CALCULATED": ExecType.TRADE,  # futures liquidation fill
    "CANCELED": ExecType.CANCELED,
    "EXPIRED": ExecType.EXPIRED,
    "TRADE_PREVENTION": ExecType.EXPIRED,  # spot STP
    "REJECTED": ExecType.REJECTED,
    "REPLACED": ExecType.AMENDED,
    "AMENDMENT": ExecType.AMENDED,
}

_TIFS = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "GTX": TimeInForce.POST_ONLY,
    "RPI": TimeInForce.POST_ONLY,  # retail price improvement orders are post-only
    "GTD": TimeInForce.GTC,  # good-till-date rests like GTC until its date
}

#: Futures ``er`` expiry reasons (COIN-M page; §7).
_EXPIRY_REASONS = {
    "1": "self-trade prevention",
    "2": "IOC remainder",
    "3": "IOC remainder and self-trade prevention",
    "4": "reduce-only knocked out",
    "5": "liquidation",
    "6": "GTE condition",
    "7": "delisted",
}


def _lookup(table: dict[str, V], value: str, kind: str) -> V:
    try:
        return table[value]
    except KeyError:
        raise PayloadError(kind, f"unknown {kind.replace('_', ' ')} {value!r}") from None


def _order_type(value: str) -> tuple[OrderType, bool]:
    """(type, is_post_only). Stop/take-profit variants map onto how they execute."""
    if value == "LIMIT_MAKER":
        return OrderType.LIMIT, True
    if value.endswith("LIMIT") or value == "LIMIT":
        return OrderType.LIMIT, False
    if value in (
        "MARKET",
        "STOP",
        "STOP_MARKET",
        "STOP_LOSS",
        "TAKE_PROFIT",
        "TAKE_PROFIT_MARKET",
        "TRAILING_STOP_MARKET",
        "LIQUIDATION",
        "ADL",
    ):
        return OrderType.MARKET, False
    raise PayloadError("order_type", f"unknown order type {value!r}")


def _price_or_none(value: Decimal) -> Decimal | None:
    return value if value > 0 else None


# ---------------------------------------------------------------------------------------------
# Futures user data


def parse_order_trade_update(msg: OrderTradeUpdate, local_ts_ns: int) -> OrderUpdate:
    o = msg.o
    key = _key(o.s, MarketKind.PERP)
    side = _lookup(_SIDES, o.S, "side")
    order_type, post_only = _order_type(o.o)
    tif = TimeInForce.POST_ONLY if post_only else _lookup(_TIFS, o.f, "time_in_force")
    exec_type = _lookup(_EXEC_TYPES, o.x, "exec_type")
    status = _lookup(_STATUSES, o.X, "order_status")
    venue_id = str(o.i)
    reject = _EXPIRY_REASONS.get(o.er, "") if o.er not in ("", "0") else ""
    order = Order(
        key=key,
        client_id=o.c,
        venue_id=venue_id,
        side=side,
        type=order_type,
        tif=tif,
        price=_price_or_none(o.p) if order_type is OrderType.LIMIT else None,
        qty=o.q,
        filled_qty=o.z,
        avg_price=_price_or_none(o.ap),
        status=status,
        reduce_only=o.R,
        created_ts_ms=o.T if o.x == "NEW" else 0,
        updated_ts_ms=o.T or msg.T,
        reject_reason=reject,
    )
    fill = None
    if exec_type is ExecType.TRADE and o.l > 0:
        fill = Fill(
            key=key,
            client_id=o.c,
            venue_id=venue_id,
            trade_id=str(o.t),
            side=side,
            price=o.L,
            qty=o.l,
            fee=o.n,
            fee_asset=o.N or "",
            is_maker=o.m,
            ts_ms=o.T or msg.T,
            realized_pnl=o.rp,
        )
    return OrderUpdate(order=order, exec_type=exec_type, fill=fill, venue_ts_ms=msg.E, local_ts_ns=local_ts_ns)


def parse_account_update(msg: AccountUpdateEvent, local_ts_ns: int) -> AccountUpdate:
    """ACCOUNT_UPDATE → changed margin balances and positions; FUNDING_FEE → payments.

    A FUNDING_FEE's amount is the balance change ``bc`` of the margin asset. Its symbol is
    ``a.S`` on newer payloads, else the single position reported with it (isolated); when
    neither names a symbol the balance change is still reported but no payment is built.
    """
    a = msg.a
    ts = msg.T or msg.E
    margin = tuple(MarginBalance(asset=b.a, wallet_balance=b.wb) for b in a.B)
    positions = tuple(
        Position(
            key=_key(p.s, MarketKind.PERP),
            size=p.pa,
            entry_price=p.ep,
            unrealized_pnl=p.up,
            margin_mode=p.mt.lower(),
            updated_ts_ms=ts,
        )
        for p in a.P
        if p.ps in ("BOTH", "")  # one-way mode; hedge-mode legs are not modelled
    )
    funding: tuple[FundingPayment, ...] = ()
    if a.m == "FUNDING_FEE":
        symbol = a.S or (a.P[0].s if len(a.P) == 1 else "")
        if symbol:
            funding = tuple(
                FundingPayment(key=_key(symbol, MarketKind.PERP), amount=b.bc, asset=b.a, ts_ms=ts)
                for b in a.B
                if b.bc != 0
            )
    return AccountUpdate(
        exchange=EXCHANGE,
        kind=MarketKind.PERP,
        reason=a.m.lower(),
        margin=margin,
        positions=positions,
        funding=funding,
        venue_ts_ms=msg.T,  # the transaction time: orders the update against REST updateTime
        local_ts_ns=local_ts_ns,
    )


def parse_margin_call(msg: MarginCallEvent, local_ts_ns: int) -> AccountUpdate:
    """MARGIN_CALL carries no entry prices, so it is a signal (reason ``margin_call``) for the
    account manager to refresh over REST, not a position update."""
    return AccountUpdate(
        exchange=EXCHANGE,
        kind=MarketKind.PERP,
        reason="margin_call",
        venue_ts_ms=msg.E,
        local_ts_ns=local_ts_ns,
    )


def parse_account_config_update(msg: AccountConfigUpdate, local_ts_ns: int) -> AccountUpdate:
    """Leverage / multi-assets change: a refresh signal (reason ``account_config_update``)."""
    return AccountUpdate(
        exchange=EXCHANGE,
        kind=MarketKind.PERP,
        reason="account_config_update",
        venue_ts_ms=msg.E,
        local_ts_ns=local_ts_ns,
    )


def listen_key_expired_ms(msg: ListenKeyExpiredEvent) -> int:
    """Event time of listenKeyExpired, which Binance may send as a string (§11.3)."""
    if isinstance(msg.E, int):
        return msg.E
    try:
        return int(msg.E)
    except ValueError:
        raise PayloadError("listen_key_expired", f"event time {msg.E!r} is not a number") from None


# ---------------------------------------------------------------------------------------------
# Spot user data


def parse_execution_report(msg: ExecutionReport, local_ts_ns: int) -> OrderUpdate:
    """executionReport → OrderUpdate (+ Fill on TRADE).

    For a cancel, ``c`` is the cancel request's id and ``C`` the order's own id, so the
    order's client id is ``C`` whenever it is set. ``avg_price`` = ``Z / z``.
    """
    key = _key(msg.s, MarketKind.SPOT)
    side = _lookup(_SIDES, msg.S, "side")
    order_type, post_only = _order_type(msg.o)
    tif = TimeInForce.POST_ONLY if post_only else _lookup(_TIFS, msg.f, "time_in_force")
    exec_type = _lookup(_EXEC_TYPES, msg.x, "exec_type")
    status = _lookup(_STATUSES, msg.X, "order_status")
    client_id = msg.C or msg.c
    venue_id = str(msg.i)
    reject = msg.r if msg.r not in ("", "NONE") else (msg.eR if msg.eR not in ("", "0") else "")
    order = Order(
        key=key,
        client_id=client_id,
        venue_id=venue_id,
        side=side,
        type=order_type,
        tif=tif,
        price=_price_or_none(msg.p) if order_type is OrderType.LIMIT else None,
        qty=msg.q,
        filled_qty=msg.z,
        avg_price=(msg.Z / msg.z) if msg.z > 0 else None,
        status=status,
        created_ts_ms=msg.O,
        updated_ts_ms=msg.T or msg.E,
        reject_reason=reject,
    )
    fill = None
    if exec_type is ExecType.TRADE and msg.l > 0:
        fill = Fill(
            key=key,
            client_id=client_id,
            venue_id=venue_id,
            trade_id=str(msg.t),
            side=side,
            price=msg.L,
            qty=msg.l,
            fee=msg.n,
            fee_asset=msg.N or "",
            is_maker=msg.m,
            ts_ms=msg.T or msg.E,
        )
    return OrderUpdate(order=order, exec_type=exec_type, fill=fill, venue_ts_ms=msg.E, local_ts_ns=local_ts_ns)


def parse_outbound_account_position(msg: OutboundAccountPosition, local_ts_ns: int) -> AccountUpdate:
    """Absolute free/locked of the assets that changed. The event names no reason; it is
    reported as ``account_position``."""
    return AccountUpdate(
        exchange=EXCHANGE,
        kind=MarketKind.SPOT,
        reason="account_position",
        balances=tuple(Balance(asset=b.a, free=b.f, locked=b.l) for b in msg.B),
        venue_ts_ms=msg.u,  # the account's last update: orders it against REST updateTime
        local_ts_ns=local_ts_ns,
    )
