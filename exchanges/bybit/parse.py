"""Pure translations between Bybit v5 REST Structs and the domain model, both directions.

Venue → model: instruments (spot and USDT/USDC linear perpetuals; dated futures are skipped),
books, orders, the unified wallet, positions, funding. Model → venue: order params. No I/O,
no clocks: timestamps come in as arguments.

Symbols: the domain's symbol is always ``baseCoin + quoteCoin`` (``BTCUSDT``); Bybit's own
symbol is kept in a :class:`SymbolMap` (they differ for e.g. USDC perpetuals ``BTCPERP``).

Order status: ``Cancelled`` becomes CANCELED when the user cancelled it (``cancelType``
``CancelByUser``), REJECTED when Bybit killed it on entry (a PostOnly that would take), and
EXPIRED otherwise (IOC/FOK/market remainder, reduce-only, self-match), as Binance reports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from exchanges.base import FundingRateRecord
from exchanges.errors import InvalidRequest, MalformedPayload
from exchanges.numbers import venue_decimal
from strategy_client.model import (
    HOUR_MS,
    AccountSnapshot,
    Balance,
    BookLevel,
    Exchange,
    FundingRate,
    Instrument,
    InstrumentKey,
    InstrumentStatus,
    MarginBalance,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    to_plain,
)

from .rest_schemas import (
    FundingItem,
    LinearInstrument,
    LinearTicker,
    Orderbook,
    OrderItem,
    PositionItem,
    SpotInstrument,
    WalletAccount,
)

__all__ = [
    "CATEGORY",
    "KIND",
    "DEFAULT_FUNDING_INTERVAL_MS",
    "POST_ONLY_REJECT",
    "FOK_REJECT",
    "SymbolMap",
    "dec",
    "ms",
    "parse_status",
    "parse_spot_instrument",
    "parse_linear_instrument",
    "parse_book",
    "parse_order",
    "order_status",
    "parse_account",
    "parse_position",
    "parse_positions",
    "parse_funding_rate",
    "parse_funding_record",
    "order_params",
]

EXCHANGE = Exchange.BYBIT
DEFAULT_FUNDING_INTERVAL_MS = 8 * HOUR_MS
ZERO = Decimal(0)
CATEGORY = {MarketKind.SPOT: "spot", MarketKind.PERP: "linear"}
KIND = {"spot": MarketKind.SPOT, "linear": MarketKind.PERP}
POST_ONLY_REJECT = "EC_PostOnlyWillTakeLiquidity"
FOK_REJECT = frozenset({"EC_NoEnoughQtyToFill", "EC_CancelForNoFullFill", "EC_FOKOrderCanceled"})

_INSTRUMENT_STATUS = {
    "Trading": InstrumentStatus.TRADING,
    "PreLaunch": InstrumentStatus.PRE_TRADING,
    "Settling": InstrumentStatus.HALTED,
    "Delivering": InstrumentStatus.HALTED,
    "Closed": InstrumentStatus.DELISTED,
}
_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
_SIDE_OUT = {Side.BUY: "Buy", Side.SELL: "Sell"}
_TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "PostOnly": TimeInForce.POST_ONLY}
_TIF_OUT = {v: k for k, v in _TIFS.items()}
_OPEN = {
    "New": OrderStatus.NEW,
    "Created": OrderStatus.NEW,
    "Untriggered": OrderStatus.NEW,
    "Triggered": OrderStatus.NEW,
    "Active": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
}
_EXPIRING_CANCELS = frozenset({"CancelByReduceOnly", "CancelBySmp", "CancelByDCP", "CancelBySettle"})
_PERPETUAL = "LinearPerpetual"


class SymbolMap:
    """Domain symbol (``base + quote``) ↔ Bybit symbol, per market kind."""

    def __init__(self) -> None:
        self._native: dict[tuple[MarketKind, str], str] = {}
        self._canonical: dict[tuple[MarketKind, str], str] = {}

    def add(self, kind: MarketKind, canonical: str, native: str) -> None:
        self._native[(kind, canonical)] = native
        self._canonical[(kind, native)] = canonical

    def native(self, key: InstrumentKey) -> str:
        return self._native.get((key.kind, key.symbol), key.symbol)

    def canonical(self, kind: MarketKind, native: str) -> str:
        return self._canonical.get((kind, native), native)

    def key(self, kind: MarketKind, native: str) -> InstrumentKey:
        return InstrumentKey(EXCHANGE, self.canonical(kind, native), kind)


def dec(text: str, what: str) -> Decimal:
    """A Bybit number string; ``""`` is 0. MalformedPayload names the field otherwise."""
    if text == "":
        return ZERO
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MalformedPayload(f"{what}: not a number: {text!r}", venue="bybit") from None
    if not value.is_finite():
        raise MalformedPayload(f"{what}: not a finite number: {text!r}", venue="bybit")
    return value


def ms(text: str, what: str) -> int:
    """A ms timestamp string; ``""`` is 0."""
    if text == "":
        return 0
    if not text.isdigit():
        raise MalformedPayload(f"{what}: not a timestamp: {text!r}", venue="bybit")
    return int(text)


def parse_status(status: str) -> InstrumentStatus:
    return _INSTRUMENT_STATUS.get(status, InstrumentStatus.HALTED)


# ---------------------------------------------------------------------------------- instruments


def parse_spot_instrument(item: SpotInstrument) -> Instrument:
    what = f"spot {item.symbol}"
    lot, price = item.lotSizeFilter, item.priceFilter
    step = dec(lot.basePrecision, f"{what} basePrecision")
    tick = dec(price.tickSize, f"{what} tickSize")
    if step <= 0 or tick <= 0:
        raise MalformedPayload(f"{what}: tick/step must be positive", venue="bybit")
    return Instrument(
        key=InstrumentKey(EXCHANGE, item.baseCoin + item.quoteCoin, MarketKind.SPOT),
        base=item.baseCoin,
        quote=item.quoteCoin,
        settle=item.quoteCoin,
        tick_size=tick,
        step_size=step,
        min_qty=dec(lot.minOrderQty, f"{what} minOrderQty"),
        max_qty=dec(lot.maxLimitOrderQty or lot.maxOrderQty, f"{what} maxOrderQty"),
        min_notional=dec(lot.minOrderAmt, f"{what} minOrderAmt"),
        min_price=dec(price.minPrice, f"{what} minPrice"),
        max_price=dec(price.maxPrice, f"{what} maxPrice"),
        market_step_size=step,
        market_min_qty=dec(lot.minOrderQty, f"{what} minOrderQty"),
        market_max_qty=dec(lot.maxMarketOrderQty or lot.maxOrderQty, f"{what} maxMarketOrderQty"),
        status=parse_status(item.status),
    )


def parse_linear_instrument(item: LinearInstrument) -> Instrument | None:
    """A linear perpetual, or None for dated futures (``LinearFutures``) and anything else."""
    if item.contractType != _PERPETUAL:
        return None
    what = f"linear {item.symbol}"
    lot, price = item.lotSizeFilter, item.priceFilter
    step = dec(lot.qtyStep, f"{what} qtyStep")
    tick = dec(price.tickSize, f"{what} tickSize")
    if step <= 0 or tick <= 0:
        raise MalformedPayload(f"{what}: tick/step must be positive", venue="bybit")
    return Instrument(
        key=InstrumentKey(EXCHANGE, item.baseCoin + item.quoteCoin, MarketKind.PERP),
        base=item.baseCoin,
        quote=item.quoteCoin,
        settle=item.settleCoin or item.quoteCoin,
        tick_size=tick,
        step_size=step,
        min_qty=dec(lot.minOrderQty, f"{what} minOrderQty"),
        max_qty=dec(lot.maxOrderQty, f"{what} maxOrderQty"),
        min_notional=dec(lot.minNotionalValue, f"{what} minNotionalValue"),
        min_price=dec(price.minPrice, f"{what} minPrice"),
        max_price=dec(price.maxPrice, f"{what} maxPrice"),
        market_step_size=step,
        market_min_qty=dec(lot.minOrderQty, f"{what} minOrderQty"),
        market_max_qty=dec(lot.maxMktOrderQty, f"{what} maxMktOrderQty"),
        status=parse_status(item.status),
    )


# ---------------------------------------------------------------------------------- books


def _levels(rows: Iterable[tuple[str, str]], what: str, limit: int) -> tuple[BookLevel, ...]:
    out: list[BookLevel] = []
    for price, qty in rows:
        if limit and len(out) >= limit:
            break
        out.append(BookLevel(dec(price, f"{what} price"), dec(qty, f"{what} size")))
    return tuple(out)


def parse_book(book: Orderbook, key: InstrumentKey, *, local_ts_ns: int, levels: int = 0) -> OrderBook:
    return OrderBook(
        key=key,
        bids=_levels(book.b, f"{key} bids", levels),
        asks=_levels(book.a, f"{key} asks", levels),
        venue_ts_ms=book.ts or book.cts,
        local_ts_ns=local_ts_ns,
        sequence=book.u,
    )


# ---------------------------------------------------------------------------------- orders


def order_status(status: str, cancel_type: str, reject_reason: str, tif: TimeInForce, otype: OrderType) -> OrderStatus:
    """Bybit's order status (and why it was cancelled) as ours; see the module doc."""
    open_status = _OPEN.get(status)
    if open_status is not None:
        return open_status
    if status == "Filled":
        return OrderStatus.FILLED
    if status == "Rejected":
        return OrderStatus.REJECTED
    if status in ("Cancelled", "PartiallyFilledCanceled", "Deactivated"):
        if cancel_type == "CancelByUser":
            return OrderStatus.CANCELED
        if reject_reason == POST_ONLY_REJECT:
            return OrderStatus.REJECTED
        if cancel_type in _EXPIRING_CANCELS or reject_reason in FOK_REJECT:
            return OrderStatus.EXPIRED
        if otype is OrderType.MARKET or tif in (TimeInForce.IOC, TimeInForce.FOK):
            return OrderStatus.EXPIRED
        return OrderStatus.CANCELED
    raise MalformedPayload(f"unknown order status {status!r}", venue="bybit")


def _reject_text(reject_reason: str) -> str:
    return "" if reject_reason in ("", "EC_NoError") else reject_reason


def parse_order(o: OrderItem, key: InstrumentKey) -> Order:
    what = f"order {o.orderId}"
    side = _SIDES.get(o.side)
    if side is None:
        raise MalformedPayload(f"{what}: unknown side {o.side!r}", venue="bybit")
    if o.orderType == "Limit":
        otype = OrderType.LIMIT
    elif o.orderType == "Market":
        otype = OrderType.MARKET
    else:
        raise MalformedPayload(f"{what}: order type {o.orderType!r} is not supported", venue="bybit")
    tif = _TIFS.get(o.timeInForce)
    if tif is None:
        if otype is OrderType.LIMIT:
            raise MalformedPayload(f"{what}: unknown timeInForce {o.timeInForce!r}", venue="bybit")
        tif = TimeInForce.IOC
    filled = dec(o.cumExecQty, f"{what} cumExecQty")
    value = dec(o.cumExecValue, f"{what} cumExecValue")
    avg = dec(o.avgPrice, f"{what} avgPrice")
    if avg <= 0 and filled > 0 and value > 0:
        avg = value / filled
    price = dec(o.price, f"{what} price")
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
        status=order_status(o.orderStatus, o.cancelType, o.rejectReason, tif, otype),
        reduce_only=o.reduceOnly,
        created_ts_ms=created,
        updated_ts_ms=ms(o.updatedTime, f"{what} updatedTime") or created,
        reject_reason=_reject_text(o.rejectReason),
    )


def _limit_price(req: OrderRequest) -> str:
    if req.price is None or req.price <= 0:
        raise InvalidRequest("a limit order needs a positive price", venue="bybit")
    return venue_decimal(req.price)


def order_params(req: OrderRequest, native_symbol: str, client_id: str) -> dict[str, object]:
    """``POST /v5/order/create`` body. Quantities are base units on both categories (spot
    market orders send ``marketUnit=baseCoin``); post-only is ``timeInForce=PostOnly``."""
    if req.qty <= 0:
        raise InvalidRequest(f"order quantity must be positive, got {to_plain(req.qty)}", venue="bybit")
    spot = req.key.kind is MarketKind.SPOT
    if spot and req.reduce_only:
        raise InvalidRequest("reduce_only does not exist on spot", venue="bybit")
    params: dict[str, object] = {
        "category": CATEGORY[req.key.kind],
        "symbol": native_symbol,
        "side": _SIDE_OUT[req.side],
        "orderType": "Limit" if req.type is OrderType.LIMIT else "Market",
        "qty": venue_decimal(req.qty),
    }
    if req.type is OrderType.LIMIT:
        params["price"] = _limit_price(req)
        params["timeInForce"] = _TIF_OUT[req.tif]
    else:
        if req.tif is TimeInForce.POST_ONLY:
            raise InvalidRequest("a market order cannot be post-only", venue="bybit")
        if spot:
            params["marketUnit"] = "baseCoin"
    params["orderLinkId"] = client_id
    if not spot:
        params["positionIdx"] = 0
        if req.reduce_only:
            params["reduceOnly"] = True
    return params


# ---------------------------------------------------------------------------------- account


def parse_account(
    wallet: WalletAccount | None, positions: Iterable[Position], *, settle_coins: Iterable[str], ts_ms: int
) -> AccountSnapshot:
    """The unified wallet: every coin as a spot balance (``free`` = wallet − locked), and the
    settle coins also as margin balances (equity, initial/maintenance margin, available)."""
    balances: list[Balance] = []
    margin: list[MarginBalance] = []
    settles = set(settle_coins)
    for c in wallet.coin if wallet is not None else []:
        what = f"wallet {c.coin}"
        wallet_balance = dec(c.walletBalance, f"{what} walletBalance")
        locked = dec(c.locked, f"{what} locked")
        if wallet_balance != 0 or locked != 0:
            balances.append(Balance(asset=c.coin, free=wallet_balance - locked, locked=locked))
        if c.coin in settles:
            equity = dec(c.equity, f"{what} equity")
            initial = dec(c.totalPositionIM, f"{what} totalPositionIM") + dec(c.totalOrderIM, f"{what} totalOrderIM")
            margin.append(
                MarginBalance(
                    asset=c.coin,
                    wallet_balance=wallet_balance,
                    unrealized_pnl=dec(c.unrealisedPnl, f"{what} unrealisedPnl"),
                    margin_balance=equity,
                    available_balance=max(ZERO, equity - initial - locked),
                    initial_margin=initial,
                    maint_margin=dec(c.totalPositionMM, f"{what} totalPositionMM"),
                )
            )
    return AccountSnapshot(
        exchange=EXCHANGE,
        balances=tuple(balances),
        margin=tuple(margin),
        positions=tuple(positions),
        ts_ms=ts_ms,
    )


def parse_position(p: PositionItem, key: InstrumentKey) -> Position:
    what = f"position {p.symbol}"
    size = dec(p.size, f"{what} size")
    if p.side == "Sell":
        size = -size
    elif p.side not in ("Buy", ""):
        raise MalformedPayload(f"{what}: unknown side {p.side!r}", venue="bybit")
    leverage = dec(p.leverage, f"{what} leverage")
    return Position(
        key=key,
        size=size if p.side else ZERO,
        entry_price=dec(p.avgPrice, f"{what} avgPrice"),
        mark_price=dec(p.markPrice, f"{what} markPrice"),
        unrealized_pnl=dec(p.unrealisedPnl, f"{what} unrealisedPnl"),
        leverage=int(leverage),
        liquidation_price=dec(p.liqPrice, f"{what} liqPrice"),
        margin_mode="isolated" if p.tradeMode == 1 else "cross",
        updated_ts_ms=ms(p.updatedTime, f"{what} updatedTime"),
    )


def parse_positions(items: Iterable[PositionItem], symbols: SymbolMap, *, include_flat: bool = False) -> list[Position]:
    out = []
    for p in items:
        if p.positionIdx != 0:
            continue  # hedge-mode legs are not modelled
        pos = parse_position(p, symbols.key(MarketKind.PERP, p.symbol))
        if include_flat or pos.size != 0:
            out.append(pos)
    return out


# ---------------------------------------------------------------------------------- funding


def parse_funding_rate(t: LinearTicker, key: InstrumentKey, interval_ms: int, ts_ms: int) -> FundingRate:
    what = f"ticker {t.symbol}"
    if t.fundingRate == "":
        raise MalformedPayload(f"{what}: no funding rate (not a perpetual?)", venue="bybit")
    if interval_ms <= 0:
        hours = dec(t.fundingIntervalHour, f"{what} fundingIntervalHour")
        interval_ms = int(hours * HOUR_MS) if hours > 0 else DEFAULT_FUNDING_INTERVAL_MS
    return FundingRate(
        key=key,
        rate=dec(t.fundingRate, f"{what} fundingRate"),
        interval_ms=interval_ms,
        next_funding_ts_ms=ms(t.nextFundingTime, f"{what} nextFundingTime"),
        mark_price=dec(t.markPrice, f"{what} markPrice"),
        index_price=dec(t.indexPrice, f"{what} indexPrice"),
        ts_ms=ts_ms,
    )


def parse_funding_record(item: FundingItem, key: InstrumentKey) -> FundingRateRecord:
    what = f"funding {item.symbol}"
    return FundingRateRecord(
        key=key,
        rate=dec(item.fundingRate, f"{what} fundingRate"),
        funding_ts_ms=ms(item.fundingRateTimestamp, f"{what} fundingRateTimestamp"),
    )
