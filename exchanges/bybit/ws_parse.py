"""Pure functions: Bybit WebSocket Structs → domain model and ``exchanges.base`` events.

No I/O. A value the model cannot express raises :class:`PayloadError` with a short ``kind``
(number fields go through ``parse.dec``, which raises ``MalformedPayload``); the stream that
called us counts it, logs the first sample per kind and drops the payload.

Private stream translation:

* ``order`` → :class:`OrderUpdate` without a fill (``exec_type`` from the status);
* ``execution`` with ``execType`` ``Trade`` → :class:`OrderUpdate` with the :class:`Fill`;
  the order it carries is the last ``order`` state seen for that id, brought forward by the
  fill (filled = ``orderQty - leavesQty``, average price from the fills seen), so a fill that
  arrives before its ``order`` push still yields a complete order;
* ``execution`` with ``execType`` ``Funding`` → :class:`AccountUpdate` (reason
  ``funding_fee``) with a :class:`FundingPayment` (``execFee`` > 0 is paid, so amount = −fee);
* ``position`` → :class:`AccountUpdate` (reason ``position``) with the positions;
* ``wallet`` → :class:`AccountUpdate` (reason ``wallet``): balances and margin of the
  unified account.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.base import AccountUpdate, ExecType
from exchanges.errors import MalformedPayload
from strategy_client.model import (
    HOUR_MS,
    Balance,
    Exchange,
    Fill,
    FundingPayment,
    FundingRate,
    InstrumentKey,
    MarginBalance,
    MarketKind,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)

from .parse import dec, ms, order_status
from .ws_schemas import ExecutionWs, OrderWs, PositionWs, TickerData, WalletWs

__all__ = [
    "PayloadError",
    "TickerState",
    "levels",
    "parse_order_ws",
    "order_exec_type",
    "parse_fill",
    "order_after_fill",
    "parse_funding_execution",
    "parse_position_ws",
    "parse_wallet_ws",
]

EXCHANGE = Exchange.BYBIT
ZERO = Decimal(0)
_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
_TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "PostOnly": TimeInForce.POST_ONLY}


class PayloadError(ValueError):
    """A payload that decoded but cannot be translated; ``kind`` names the problem."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def levels(rows: list[tuple[str, str]], what: str) -> list[tuple[Decimal, Decimal]]:
    return [(dec(p, f"{what} price"), dec(q, f"{what} size")) for p, q in rows]


def _side(text: str, what: str) -> Side:
    side = _SIDES.get(text)
    if side is None:
        raise PayloadError("side", f"{what}: unknown side {text!r}")
    return side


def _type(text: str, what: str) -> OrderType:
    if text == "Limit":
        return OrderType.LIMIT
    if text == "Market":
        return OrderType.MARKET
    raise PayloadError("order_type", f"{what}: order type {text!r} is not supported")


# ---------------------------------------------------------------------------------- orders


def parse_order_ws(o: OrderWs, key: InstrumentKey) -> Order:
    what = f"order {o.orderId}"
    side = _side(o.side, what)
    otype = _type(o.orderType, what)
    tif = _TIFS.get(o.timeInForce) or (TimeInForce.IOC if otype is OrderType.MARKET else TimeInForce.GTC)
    filled = dec(o.cumExecQty, f"{what} cumExecQty")
    value = dec(o.cumExecValue, f"{what} cumExecValue")
    avg = dec(o.avgPrice, f"{what} avgPrice")
    if avg <= 0 and filled > 0 and value > 0:
        avg = value / filled
    price = dec(o.price, f"{what} price")
    try:
        status = order_status(o.orderStatus, o.cancelType, o.rejectReason, tif, otype)
    except MalformedPayload as exc:
        raise PayloadError("order_status", str(exc)) from None
    created = ms(o.createdTime, f"{what} createdTime")
    return Order(
        key=key,
        client_id=o.orderLinkId,
        venue_id=o.orderId,
        side=side,
        type=otype,
        tif=tif,
        price=price if otype is OrderType.LIMIT and price > 0 else None,
        qty=dec(o.qty, f"{what} qty"),
        filled_qty=filled,
        avg_price=avg if avg > 0 else None,
        status=status,
        reduce_only=o.reduceOnly,
        created_ts_ms=created,
        updated_ts_ms=ms(o.updatedTime, f"{what} updatedTime") or created,
        reject_reason="" if o.rejectReason in ("", "EC_NoError") else o.rejectReason,
    )


def order_exec_type(order: Order) -> ExecType:
    """Why an ``order`` push was sent, from the state it carries."""
    status = order.status
    if status is OrderStatus.NEW:
        return ExecType.NEW
    if status is OrderStatus.CANCELED:
        return ExecType.CANCELED
    if status is OrderStatus.EXPIRED:
        return ExecType.EXPIRED
    if status is OrderStatus.REJECTED:
        return ExecType.REJECTED
    return ExecType.TRADE


def parse_fill(e: ExecutionWs, key: InstrumentKey) -> Fill:
    what = f"execution {e.execId}"
    spot = key.kind is MarketKind.SPOT
    side = _side(e.side, what)
    fee_asset = e.feeCurrency or ("" if spot else "USDT")
    return Fill(
        key=key,
        client_id=e.orderLinkId,
        venue_id=e.orderId,
        trade_id=e.execId,
        side=side,
        price=dec(e.execPrice, f"{what} execPrice"),
        qty=dec(e.execQty, f"{what} execQty"),
        fee=dec(e.execFee, f"{what} execFee"),
        fee_asset=fee_asset,
        is_maker=e.isMaker,
        ts_ms=ms(e.execTime, f"{what} execTime"),
    )


def order_after_fill(
    e: ExecutionWs, key: InstrumentKey, known: Order | None, fills_qty: Decimal, fills_value: Decimal
) -> Order:
    """The order right after fill ``e``: the last known state brought forward.

    ``fills_qty``/``fills_value`` are the sums over this order's fills seen so far (``e``
    included): when they account for the whole filled quantity they give the average price.
    """
    what = f"execution {e.execId}"
    qty = dec(e.orderQty, f"{what} orderQty") or (known.qty if known is not None else ZERO)
    if qty <= 0:
        raise PayloadError("order_qty", f"{what}: no orderQty and no earlier state of order {e.orderId}")
    leaves = dec(e.leavesQty, f"{what} leavesQty")
    filled = max(ZERO, qty - leaves)
    otype = known.type if known is not None else _type(e.orderType, what)
    avg: Decimal | None = None
    if fills_qty > 0 and fills_qty == filled:
        avg = fills_value / fills_qty
    elif known is not None and known.avg_price is not None and known.filled_qty > 0:
        exec_qty = dec(e.execQty, f"{what} execQty")
        if known.filled_qty + exec_qty == filled:
            avg = (known.avg_price * known.filled_qty + dec(e.execValue, f"{what} execValue")) / filled
    ts = ms(e.execTime, f"{what} execTime")
    price = dec(e.orderPrice, f"{what} orderPrice")
    return Order(
        key=key,
        client_id=e.orderLinkId,
        venue_id=e.orderId,
        side=_side(e.side, what),
        type=otype,
        tif=known.tif if known is not None else (TimeInForce.IOC if otype is OrderType.MARKET else TimeInForce.GTC),
        price=(known.price if known is not None else price) if otype is OrderType.LIMIT else None,
        qty=qty,
        filled_qty=filled,
        avg_price=avg,
        status=OrderStatus.FILLED if leaves == 0 and filled > 0 else OrderStatus.PARTIALLY_FILLED,
        reduce_only=known.reduce_only if known is not None else False,
        created_ts_ms=known.created_ts_ms if known is not None else 0,
        updated_ts_ms=ts,
    )


def parse_funding_execution(e: ExecutionWs, key: InstrumentKey, venue_ts_ms: int, local_ts_ns: int) -> AccountUpdate:
    what = f"funding {e.execId}"
    payment = FundingPayment(
        key=key,
        amount=-dec(e.execFee, f"{what} execFee"),
        asset=e.feeCurrency or "USDT",
        rate=dec(e.feeRate, f"{what} feeRate"),
        ts_ms=ms(e.execTime, f"{what} execTime"),
    )
    return AccountUpdate(
        exchange=EXCHANGE,
        kind=MarketKind.PERP,
        reason="funding_fee",
        funding=(payment,),
        venue_ts_ms=venue_ts_ms,
        local_ts_ns=local_ts_ns,
    )


# ---------------------------------------------------------------------------------- account


def parse_position_ws(p: PositionWs, key: InstrumentKey, ts_ms: int) -> Position:
    what = f"position {p.symbol}"
    size = dec(p.size, f"{what} size")
    if p.side == "Sell":
        size = -size
    elif p.side == "":
        size = ZERO
    elif p.side != "Buy":
        raise PayloadError("side", f"{what}: unknown side {p.side!r}")
    return Position(
        key=key,
        size=size,
        entry_price=dec(p.entryPrice, f"{what} entryPrice"),
        mark_price=dec(p.markPrice, f"{what} markPrice"),
        unrealized_pnl=dec(p.unrealisedPnl, f"{what} unrealisedPnl"),
        leverage=int(dec(p.leverage, f"{what} leverage")),
        liquidation_price=dec(p.liqPrice, f"{what} liqPrice"),
        margin_mode="isolated" if p.tradeMode == 1 else "cross",
        updated_ts_ms=ms(p.updatedTime, f"{what} updatedTime") or ts_ms,
    )


def parse_wallet_ws(w: WalletWs, settle_coins: set[str], venue_ts_ms: int, local_ts_ns: int) -> AccountUpdate:
    balances: list[Balance] = []
    margin: list[MarginBalance] = []
    for c in w.coin:
        what = f"wallet {c.coin}"
        wallet = dec(c.walletBalance, f"{what} walletBalance")
        locked = dec(c.locked, f"{what} locked")
        balances.append(Balance(asset=c.coin, free=wallet - locked, locked=locked))
        if c.coin in settle_coins:
            equity = dec(c.equity, f"{what} equity")
            initial = dec(c.totalPositionIM, f"{what} totalPositionIM") + dec(c.totalOrderIM, f"{what} totalOrderIM")
            margin.append(
                MarginBalance(
                    asset=c.coin,
                    wallet_balance=wallet,
                    unrealized_pnl=dec(c.unrealisedPnl, f"{what} unrealisedPnl"),
                    margin_balance=equity,
                    available_balance=max(ZERO, equity - initial - locked),
                    initial_margin=initial,
                    maint_margin=dec(c.totalPositionMM, f"{what} totalPositionMM"),
                )
            )
    return AccountUpdate(
        exchange=EXCHANGE,
        kind=MarketKind.SPOT,
        reason="wallet",
        balances=tuple(balances),
        margin=tuple(margin),
        venue_ts_ms=venue_ts_ms,
        local_ts_ns=local_ts_ns,
    )


# ---------------------------------------------------------------------------------- tickers


class TickerState:
    """One linear ticker kept from its snapshot and merged deltas (only changed fields come)."""

    __slots__ = ("fields",)

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def merge(self, kind: str, data: TickerData) -> None:
        if kind == "snapshot":
            self.fields.clear()
        for name in ("markPrice", "indexPrice", "fundingRate", "nextFundingTime", "fundingIntervalHour"):
            value = getattr(data, name)
            if value is not None:
                self.fields[name] = value

    def funding(self, key: InstrumentKey, interval_ms: int, ts_ms: int) -> FundingRate | None:
        """The funding rate once the state holds every field it needs, else None."""
        f = self.fields
        if not all(f.get(n) for n in ("markPrice", "indexPrice", "fundingRate", "nextFundingTime")):
            return None
        what = f"ticker {key.symbol}"
        if interval_ms <= 0:
            hours = dec(f.get("fundingIntervalHour", ""), f"{what} fundingIntervalHour")
            interval_ms = int(hours * HOUR_MS) if hours > 0 else 8 * HOUR_MS
        return FundingRate(
            key=key,
            rate=dec(f["fundingRate"], f"{what} fundingRate"),
            interval_ms=interval_ms,
            next_funding_ts_ms=ms(f["nextFundingTime"], f"{what} nextFundingTime"),
            mark_price=dec(f["markPrice"], f"{what} markPrice"),
            index_price=dec(f["indexPrice"], f"{what} indexPrice"),
            ts_ms=ts_ms,
        )
