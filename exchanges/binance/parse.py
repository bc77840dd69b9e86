"""Pure translations between Binance REST Structs and the domain model, both directions.

Venue → model: instruments from exchangeInfo filters, books, orders (spot and USD-M), account
snapshots, positions, funding. Model → venue: order request params (Decimals as plain text via
:func:`strategy_client.model.to_plain`). No I/O, no clocks: timestamps come in as arguments.

Anything the model cannot represent faithfully (an unknown order status, a stop order type)
raises :class:`exchanges.errors.MalformedPayload`; list callers skip such items and count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from exchanges.base import FundingRateRecord
from exchanges.errors import InvalidRequest, MalformedPayload
from exchanges.numbers import venue_decimal
from strategy_client.model import (
    HOUR_MS,
    AccountSnapshot,
    Balance,
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
    Depth,
    FundingInfo,
    FundingRateHist,
    FuturesAccount,
    FuturesExchangeInfo,
    FuturesOrder,
    FuturesSymbol,
    PositionRiskV2,
    PositionRiskV3,
    PremiumIndex,
    SpotAccount,
    SpotExchangeInfo,
    SpotOrder,
    SpotSymbol,
    SymbolFilter,
)

__all__ = [
    "DEFAULT_FUNDING_INTERVAL_MS",
    "spot_key",
    "perp_key",
    "parse_status",
    "parse_spot_instrument",
    "parse_perp_instrument",
    "parse_spot_instruments",
    "parse_perp_instruments",
    "parse_depth",
    "parse_spot_order",
    "parse_futures_order",
    "parse_spot_balances",
    "parse_futures_margin",
    "parse_position",
    "parse_positions",
    "parse_account",
    "funding_intervals",
    "parse_funding_rate",
    "parse_funding_record",
    "spot_order_params",
    "futures_order_params",
    "order_query_params",
    "PERPETUAL",
]

DEFAULT_FUNDING_INTERVAL_MS = 8 * HOUR_MS
PERPETUAL = "PERPETUAL"
ZERO = Decimal(0)

_INSTRUMENT_STATUS = {
    "TRADING": InstrumentStatus.TRADING,
    "PRE_TRADING": InstrumentStatus.PRE_TRADING,
    "PENDING_TRADING": InstrumentStatus.PRE_TRADING,
    "HALT": InstrumentStatus.HALTED,
    "BREAK": InstrumentStatus.HALTED,
    "END_OF_DAY": InstrumentStatus.HALTED,
    "POST_TRADING": InstrumentStatus.HALTED,
    "AUCTION_MATCH": InstrumentStatus.HALTED,
    "PRE_DELIVERING": InstrumentStatus.HALTED,
    "DELIVERING": InstrumentStatus.HALTED,
    "PRE_SETTLE": InstrumentStatus.HALTED,
    "SETTLING": InstrumentStatus.HALTED,
    "DELIVERED": InstrumentStatus.DELISTED,
    "CLOSE": InstrumentStatus.DELISTED,
}

_ORDER_STATUS = {
    "NEW": OrderStatus.NEW,
    "PENDING_NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}

_SIDE = {"BUY": Side.BUY, "SELL": Side.SELL}
_SIDE_OUT = {Side.BUY: "BUY", Side.SELL: "SELL"}

# GTX is futures post-only; RPI orders are post-only too. GTD rests like GTC until its date.
_TIF = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "GTX": TimeInForce.POST_ONLY,
    "RPI": TimeInForce.POST_ONLY,
    "GTD": TimeInForce.GTC,
}


def spot_key(symbol: str) -> InstrumentKey:
    return InstrumentKey(Exchange.BINANCE, symbol, MarketKind.SPOT)


def perp_key(symbol: str) -> InstrumentKey:
    return InstrumentKey(Exchange.BINANCE, symbol, MarketKind.PERP)


def parse_status(status: str) -> InstrumentStatus:
    """Binance symbol status → ours; an unknown status is treated as not trading."""
    return _INSTRUMENT_STATUS.get(status, InstrumentStatus.HALTED)


def _filters(filters: Iterable[SymbolFilter]) -> dict[str, SymbolFilter]:
    return {f.filterType: f for f in filters}


def _d(value: Decimal | None) -> Decimal:
    return ZERO if value is None else value


def _instrument(
    key: InstrumentKey,
    base: str,
    quote: str,
    settle: str,
    status: str,
    filters: Iterable[SymbolFilter],
) -> Instrument:
    by_type = _filters(filters)
    price = by_type.get("PRICE_FILTER")
    lot = by_type.get("LOT_SIZE")
    market = by_type.get("MARKET_LOT_SIZE")
    if price is None or lot is None:
        raise MalformedPayload(f"{key.symbol}: exchangeInfo has no PRICE_FILTER/LOT_SIZE")
    if key.kind is MarketKind.SPOT:
        notional = by_type.get("NOTIONAL") or by_type.get("MIN_NOTIONAL")
        min_notional = _d(notional.minNotional) if notional is not None else ZERO
    else:
        notional = by_type.get("MIN_NOTIONAL")
        min_notional = _d(notional.notional) if notional is not None else ZERO
    return Instrument(
        key=key,
        base=base,
        quote=quote,
        settle=settle,
        tick_size=_d(price.tickSize),
        step_size=_d(lot.stepSize),
        min_qty=_d(lot.minQty),
        max_qty=_d(lot.maxQty),
        min_price=_d(price.minPrice),
        max_price=_d(price.maxPrice),
        min_notional=min_notional,
        market_step_size=_d(market.stepSize) if market else ZERO,
        market_min_qty=_d(market.minQty) if market else ZERO,
        market_max_qty=_d(market.maxQty) if market else ZERO,
        status=parse_status(status),
    )


def parse_spot_instrument(sym: SpotSymbol) -> Instrument:
    return _instrument(spot_key(sym.symbol), sym.baseAsset, sym.quoteAsset, sym.quoteAsset, sym.status, sym.filters)


def parse_perp_instrument(sym: FuturesSymbol) -> Instrument | None:
    """A USD-M symbol as a perp, or None when it is not a PERPETUAL contract."""
    if sym.contractType != PERPETUAL:
        return None
    settle = sym.marginAsset or sym.quoteAsset
    return _instrument(perp_key(sym.symbol), sym.baseAsset, sym.quoteAsset, settle, sym.status, sym.filters)


def parse_spot_instruments(info: SpotExchangeInfo) -> tuple[list[Instrument], list[str]]:
    """(instruments, symbols skipped because their filters are unusable)."""
    out: list[Instrument] = []
    bad: list[str] = []
    for sym in info.symbols:
        try:
            out.append(parse_spot_instrument(sym))
        except MalformedPayload:
            bad.append(sym.symbol)
    return out, bad


def parse_perp_instruments(info: FuturesExchangeInfo) -> tuple[list[Instrument], list[str]]:
    out: list[Instrument] = []
    bad: list[str] = []
    for sym in info.symbols:
        try:
            inst = parse_perp_instrument(sym)
        except MalformedPayload:
            bad.append(sym.symbol)
            continue
        if inst is not None:
            out.append(inst)
    return out, bad


def parse_depth(
    depth: Depth, key: InstrumentKey, *, local_ts_ns: int, fallback_ts_ms: int = 0, levels: int = 0
) -> OrderBook:
    """A depth snapshot as an OrderBook; ``levels`` > 0 truncates each side.

    Spot REST depth carries no timestamp: ``fallback_ts_ms`` (the caller's venue-clock estimate)
    is used. Futures depth carries ``E`` (and ``T``).
    """
    bids, asks = depth.bids, depth.asks
    if levels > 0:
        bids, asks = bids[:levels], asks[:levels]
    return OrderBook(
        key=key,
        bids=bids,
        asks=asks,
        venue_ts_ms=depth.E or depth.T or fallback_ts_ms,
        local_ts_ns=local_ts_ns,
        sequence=depth.lastUpdateId,
    )


def _side(text: str, what: str) -> Side:
    side = _SIDE.get(text)
    if side is None:
        raise MalformedPayload(f"{what}: unknown side {text!r}")
    return side


def _order_status(text: str, executed: Decimal, what: str) -> OrderStatus:
    status = _ORDER_STATUS.get(text)
    if status is not None:
        return status
    if text == "PENDING_CANCEL":  # documented as unused; still open until the venue says otherwise
        return OrderStatus.PARTIALLY_FILLED if executed > 0 else OrderStatus.NEW
    raise MalformedPayload(f"{what}: unknown order status {text!r}")


def _tif(text: str, what: str) -> TimeInForce:
    tif = _TIF.get(text)
    if tif is None:
        raise MalformedPayload(f"{what}: unknown timeInForce {text!r}")
    return tif


def _price_or_none(price: Decimal) -> Decimal | None:
    return price if price > 0 else None


def _avg(quote: Decimal, qty: Decimal) -> Decimal | None:
    return quote / qty if qty > 0 and quote > 0 else None


def parse_spot_order(o: SpotOrder) -> Order:
    """A spot order object (any response type except ACK) as an Order.

    ``LIMIT_MAKER`` is our post-only limit; the average price is
    ``cummulativeQuoteQty / executedQty``. In a cancel response the order's own client id is
    ``origClientOrderId``.
    """
    what = f"spot order {o.orderId}"
    if o.type == "LIMIT":
        otype, tif = OrderType.LIMIT, _tif(o.timeInForce or "GTC", what)
    elif o.type == "LIMIT_MAKER":
        otype, tif = OrderType.LIMIT, TimeInForce.POST_ONLY
    elif o.type == "MARKET":
        otype = OrderType.MARKET
        tif = _TIF.get(o.timeInForce, TimeInForce.GTC)
    else:
        raise MalformedPayload(f"{what}: order type {o.type!r} is not supported")
    created = o.time or o.transactTime or o.workingTime
    return Order(
        key=spot_key(o.symbol),
        client_id=o.origClientOrderId or o.clientOrderId,
        venue_id=str(o.orderId),
        side=_side(o.side, what),
        type=otype,
        tif=tif,
        price=_price_or_none(o.price) if otype is OrderType.LIMIT else None,
        qty=o.origQty,
        filled_qty=o.executedQty,
        avg_price=_avg(o.cummulativeQuoteQty, o.executedQty),
        status=_order_status(o.status, o.executedQty, what),
        created_ts_ms=created,
        updated_ts_ms=o.updateTime or o.transactTime or created,
    )


def parse_futures_order(o: FuturesOrder) -> Order:
    """A USD-M order object as an Order: GTX is post-only; only LIMIT and MARKET are supported."""
    what = f"futures order {o.orderId}"
    if o.type == "LIMIT":
        otype, tif = OrderType.LIMIT, _tif(o.timeInForce or "GTC", what)
    elif o.type == "MARKET":
        otype = OrderType.MARKET
        tif = _TIF.get(o.timeInForce, TimeInForce.GTC)
    else:
        raise MalformedPayload(f"{what}: order type {o.type!r} is not supported")
    avg = o.avgPrice if o.avgPrice > 0 else _avg(o.cumQuote, o.executedQty)
    return Order(
        key=perp_key(o.symbol),
        client_id=o.clientOrderId,
        venue_id=str(o.orderId),
        side=_side(o.side, what),
        type=otype,
        tif=tif,
        price=_price_or_none(o.price) if otype is OrderType.LIMIT else None,
        qty=o.origQty,
        filled_qty=o.executedQty,
        avg_price=avg,
        status=_order_status(o.status, o.executedQty, what),
        reduce_only=o.reduceOnly,
        created_ts_ms=o.time or o.updateTime,
        updated_ts_ms=o.updateTime or o.time,
    )


def parse_spot_balances(acct: SpotAccount) -> tuple[Balance, ...]:
    """Non-zero spot balances."""
    return tuple(
        Balance(asset=b.asset, free=b.free, locked=b.locked) for b in acct.balances if b.free != 0 or b.locked != 0
    )


def parse_futures_margin(acct: FuturesAccount) -> tuple[MarginBalance, ...]:
    return tuple(
        MarginBalance(
            asset=a.asset,
            wallet_balance=a.walletBalance,
            unrealized_pnl=a.unrealizedProfit,
            margin_balance=a.marginBalance,
            available_balance=a.availableBalance,
            initial_margin=a.initialMargin,
            maint_margin=a.maintMargin,
        )
        for a in acct.assets
    )


def _signed_size(amount: Decimal, position_side: str) -> Decimal:
    """One-way mode sends signed sizes; hedge-mode LONG/SHORT legs are signed by their side."""
    if position_side == "LONG":
        return abs(amount)
    if position_side == "SHORT":
        return -abs(amount)
    return amount


def parse_position(p: PositionRiskV3 | PositionRiskV2, leverage: int = 0) -> Position:
    """A positionRisk item (v3, or v2 which carries its own leverage) as a Position."""
    margin_mode = "cross"
    if isinstance(p, PositionRiskV2):
        leverage = leverage or int(p.leverage)
        margin_mode = "isolated" if p.marginType.lower() == "isolated" else "cross"
    elif p.isolatedMargin > 0:
        margin_mode = "isolated"
    return Position(
        key=perp_key(p.symbol),
        size=_signed_size(p.positionAmt, p.positionSide),
        entry_price=p.entryPrice,
        mark_price=p.markPrice,
        unrealized_pnl=p.unRealizedProfit,
        leverage=leverage,
        liquidation_price=p.liquidationPrice,
        margin_mode=margin_mode,
        updated_ts_ms=p.updateTime,
    )


def parse_positions(
    risk: Iterable[PositionRiskV3 | PositionRiskV2],
    leverage: Mapping[str, int] | None = None,
    *,
    include_flat: bool = False,
) -> list[Position]:
    """Positions from positionRisk items; ``leverage`` (symbol → x) fills what v3 lacks."""
    lev = leverage or {}
    return [parse_position(p, lev.get(p.symbol, 0)) for p in risk if include_flat or p.positionAmt != 0]


def parse_account(
    spot: SpotAccount | None,
    futures: FuturesAccount | None,
    positions: Iterable[Position] = (),
    *,
    ts_ms: int = 0,
) -> AccountSnapshot:
    return AccountSnapshot(
        exchange=Exchange.BINANCE,
        balances=parse_spot_balances(spot) if spot is not None else (),
        margin=parse_futures_margin(futures) if futures is not None else (),
        positions=tuple(positions),
        ts_ms=ts_ms or (spot.updateTime if spot is not None else 0),
    )


def funding_intervals(infos: Iterable[FundingInfo]) -> dict[str, int]:
    """symbol → funding interval in ms, for the symbols fundingInfo lists (others: 8 h)."""
    return {i.symbol: i.fundingIntervalHours * HOUR_MS for i in infos if i.fundingIntervalHours > 0}


def _dec_text(text: str, what: str) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise MalformedPayload(f"{what}: not a decimal: {text!r}") from None


def parse_funding_rate(p: PremiumIndex, interval_ms: int = DEFAULT_FUNDING_INTERVAL_MS) -> FundingRate:
    rate = _dec_text(p.lastFundingRate, f"premiumIndex {p.symbol} lastFundingRate")
    if rate is None:
        raise MalformedPayload(f"premiumIndex {p.symbol}: no funding rate (not a perpetual?)")
    return FundingRate(
        key=perp_key(p.symbol),
        rate=rate,
        interval_ms=interval_ms,
        next_funding_ts_ms=p.nextFundingTime,
        mark_price=p.markPrice,
        index_price=p.indexPrice,
        ts_ms=p.time,
    )


def parse_funding_record(r: FundingRateHist) -> FundingRateRecord:
    return FundingRateRecord(
        key=perp_key(r.symbol),
        rate=r.fundingRate,
        funding_ts_ms=r.fundingTime,
        mark_price=_dec_text(r.markPrice, f"fundingRate {r.symbol} markPrice"),
    )


def _common_params(req: OrderRequest) -> dict[str, str]:
    if req.qty <= 0:
        raise InvalidRequest(f"order quantity must be positive, got {to_plain(req.qty)}")
    return {"symbol": req.key.symbol, "side": _SIDE_OUT[req.side]}


def _limit_price(req: OrderRequest, inst: Instrument | None) -> str:
    if req.price is None or req.price <= 0:
        raise InvalidRequest("a limit order needs a positive price")
    return venue_decimal(req.price, inst.tick_size if inst is not None else None)


def _quantity(req: OrderRequest, inst: Instrument | None) -> str:
    """The quantity in the instrument's precision: Binance counts the decimals of the text and
    refuses more than the step has (-1111), trailing zeros included (``0.0100`` on 0.001)."""
    if inst is None:
        return venue_decimal(req.qty)
    step = inst.market_filters()[0] if req.type is OrderType.MARKET else inst.step_size
    return venue_decimal(req.qty, step)


def spot_order_params(req: OrderRequest, client_id: str, inst: Instrument | None = None) -> dict[str, str]:
    """``POST /api/v3/order`` params (FULL response) in Binance's documented order."""
    if req.key.kind is not MarketKind.SPOT:
        raise InvalidRequest(f"{req.key} is not a spot instrument")
    if req.reduce_only:
        raise InvalidRequest("reduce_only does not exist on spot")
    params = _common_params(req)
    if req.type is OrderType.LIMIT:
        if req.tif is TimeInForce.POST_ONLY:
            params["type"] = "LIMIT_MAKER"
        else:
            params["type"] = "LIMIT"
            params["timeInForce"] = req.tif.value.upper()
        params["quantity"] = _quantity(req, inst)
        params["price"] = _limit_price(req, inst)
    else:
        if req.tif is TimeInForce.POST_ONLY:
            raise InvalidRequest("a market order cannot be post-only")
        params["type"] = "MARKET"
        params["quantity"] = _quantity(req, inst)
    params["newClientOrderId"] = client_id
    params["newOrderRespType"] = "FULL"
    return params


def futures_order_params(req: OrderRequest, client_id: str, inst: Instrument | None = None) -> dict[str, str]:
    """``POST /fapi/v1/order`` params (RESULT response); post-only is ``timeInForce=GTX``."""
    if req.key.kind is not MarketKind.PERP:
        raise InvalidRequest(f"{req.key} is not a perp instrument")
    params = _common_params(req)
    if req.type is OrderType.LIMIT:
        params["type"] = "LIMIT"
        params["timeInForce"] = "GTX" if req.tif is TimeInForce.POST_ONLY else req.tif.value.upper()
        params["quantity"] = _quantity(req, inst)
        params["price"] = _limit_price(req, inst)
    else:
        if req.tif is TimeInForce.POST_ONLY:
            raise InvalidRequest("a market order cannot be post-only")
        params["type"] = "MARKET"
        params["quantity"] = _quantity(req, inst)
    if req.reduce_only:
        params["reduceOnly"] = "true"
    params["newClientOrderId"] = client_id
    params["newOrderRespType"] = "RESULT"
    return params


def order_query_params(symbol: str, *, client_id: str | None, venue_id: str | None) -> dict[str, str]:
    """``symbol`` + ``orderId`` or ``origClientOrderId`` (the venue id wins when both are given)."""
    if venue_id:
        if not venue_id.isdigit():
            raise InvalidRequest(f"a Binance order id is an integer, got {venue_id!r}")
        return {"symbol": symbol, "orderId": venue_id}
    if client_id:
        return {"symbol": symbol, "origClientOrderId": client_id}
    raise InvalidRequest("an order query needs client_id or venue_id")
