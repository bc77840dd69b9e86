"""Pure translations between OKX payloads and the domain model, both directions.

Venue → model: instruments (with contract sizes turned into base units), books, orders,
balances and margin, positions, funding. Model → venue: order bodies. No I/O and no clocks:
timestamps come in as arguments. Anything the model cannot represent (an unknown state, an
order type we do not trade) raises :class:`exchanges.errors.MalformedPayload`, naming the
field; list callers skip and count such items.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    Fill,
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
)

from .client_ids import from_okx, to_okx
from .rest_schemas import AccountBalance, FundingHistory, FundingRateInfo, InstrumentInfo, OkxOrder, PositionInfo
from .symbols import SymbolMap, VenueInstrument

__all__ = [
    "DEFAULT_FUNDING_INTERVAL_MS",
    "dec",
    "dec_or",
    "parse_instrument",
    "parse_instruments",
    "parse_levels",
    "parse_book",
    "parse_order",
    "parse_fill",
    "order_body",
    "cancel_body",
    "parse_balances",
    "parse_margin",
    "parse_position",
    "parse_positions",
    "parse_account",
    "parse_funding_rate",
    "parse_funding_record",
    "is_system_cancel",
]

DEFAULT_FUNDING_INTERVAL_MS = 8 * HOUR_MS
ZERO = Decimal(0)

_STATUS = {
    "live": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "mmp_canceled": OrderStatus.CANCELED,
}
_INSTRUMENT_STATUS = {
    "live": InstrumentStatus.TRADING,
    "suspend": InstrumentStatus.HALTED,
    "preopen": InstrumentStatus.PRE_TRADING,
    "post_only": InstrumentStatus.PRE_TRADING,
    "test": InstrumentStatus.HALTED,
}
# ordType → (type, tif); optimal_limit_ioc is a market order limited to the best prices
_ORD_TYPES = {
    "market": (OrderType.MARKET, TimeInForce.IOC),
    "optimal_limit_ioc": (OrderType.MARKET, TimeInForce.IOC),
    "limit": (OrderType.LIMIT, TimeInForce.GTC),
    "post_only": (OrderType.LIMIT, TimeInForce.POST_ONLY),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "fok": (OrderType.LIMIT, TimeInForce.FOK),
}
_ORD_TYPE_OUT = {
    TimeInForce.GTC: "limit",
    TimeInForce.POST_ONLY: "post_only",
    TimeInForce.IOC: "ioc",
    TimeInForce.FOK: "fok",
}
# cancelSource values that mean "the venue ended it", not "the user canceled it"
_SYSTEM_CANCELS = {
    "0": "canceled by the system",
    "13": "FOK order could not be filled completely",
    "14": "IOC remainder canceled",
    "15": "order price beyond the price limit",
    "20": "cancel-all-after triggered",
    "31": "post-only order would have taken liquidity",
    "32": "self-trade prevention",
}


def dec(value: str, field: str) -> Decimal:
    """A numeric string; MalformedPayload naming ``field`` when it is empty or not a number."""
    try:
        out = Decimal(value)
    except (InvalidOperation, TypeError):
        raise MalformedPayload(f"field {field}: {value!r} is not a number", venue="okx") from None
    if not out.is_finite():
        raise MalformedPayload(f"field {field}: {value!r} is not finite", venue="okx")
    return out


def dec_or(value: str, field: str, default: Decimal = ZERO) -> Decimal:
    """Like :func:`dec`, but ``""`` (OKX's "not applicable") gives ``default``."""
    return default if value == "" else dec(value, field)


def _int(value: str, field: str, default: int = 0) -> int:
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise MalformedPayload(f"field {field}: {value!r} is not an integer", venue="okx") from None


# -- instruments ------------------------------------------------------------------------------


def parse_instrument(info: InstrumentInfo) -> tuple[Instrument, VenueInstrument] | None:
    """A SPOT or linear SWAP instrument; None for what tradebus does not trade (inverse swaps,
    futures, options)."""
    tick = dec(info.tickSz, "tickSz")
    lot = dec(info.lotSz, "lotSz")
    min_sz = dec(info.minSz, "minSz")
    if info.instType == "SPOT":
        base, quote, settle = info.baseCcy, info.quoteCcy, info.quoteCcy
        if not base or not quote:
            raise MalformedPayload(f"{info.instId}: spot instrument without baseCcy/quoteCcy", venue="okx")
        kind, ct_val = MarketKind.SPOT, Decimal(1)
    elif info.instType == "SWAP":
        if info.ctType != "linear":
            return None
        base, settle = info.ctValCcy, info.settleCcy
        quote = settle
        if not base or not settle:
            raise MalformedPayload(f"{info.instId}: swap without ctValCcy/settleCcy", venue="okx")
        kind = MarketKind.PERP
        ct_val = dec(info.ctVal, "ctVal") * dec_or(info.ctMult, "ctMult", Decimal(1))
        if ct_val <= 0:
            raise MalformedPayload(f"{info.instId}: ctVal must be positive", venue="okx")
    else:
        return None
    key = InstrumentKey(Exchange.OKX, base + quote, kind)
    venue = VenueInstrument(
        key=key,
        inst_id=info.instId,
        inst_type=info.instType,
        tick_sz=tick,
        lot_sz=lot,
        min_sz=min_sz,
        ct_val=ct_val,
        inst_id_code=info.instIdCode,
        settle=settle,
    )
    market_max = dec_or(info.maxMktSz, "maxMktSz") * ct_val if kind is MarketKind.PERP else ZERO
    instrument = Instrument(
        key=key,
        base=base,
        quote=quote,
        settle=settle,
        tick_size=tick,
        step_size=lot * ct_val,
        min_qty=min_sz * ct_val,
        max_qty=dec_or(info.maxLmtSz, "maxLmtSz") * ct_val,
        market_max_qty=market_max,
        contract_size=ct_val,
        status=_INSTRUMENT_STATUS.get(info.state, InstrumentStatus.HALTED),
    )
    return instrument, venue


def parse_instruments(
    infos: Sequence[InstrumentInfo],
) -> tuple[list[Instrument], list[VenueInstrument], list[str]]:
    """Instruments, their venue records, and the ids of malformed items (skipped)."""
    instruments: list[Instrument] = []
    venue: list[VenueInstrument] = []
    bad: list[str] = []
    for info in infos:
        try:
            parsed = parse_instrument(info)
        except MalformedPayload:
            bad.append(info.instId)
            continue
        if parsed is not None:
            instruments.append(parsed[0])
            venue.append(parsed[1])
    return instruments, venue, bad


# -- books ------------------------------------------------------------------------------------


def parse_levels(inst: VenueInstrument, levels: Sequence[Sequence[str]], side: str) -> tuple[BookLevel, ...]:
    out = []
    for i, level in enumerate(levels):
        if len(level) < 2:
            raise MalformedPayload(f"{side}[{i}]: a level needs [px, sz, ...]", venue="okx")
        out.append(BookLevel(dec(level[0], f"{side}[{i}].px"), inst.to_base(dec(level[1], f"{side}[{i}].sz"))))
    return tuple(out)


def parse_book(
    inst: VenueInstrument,
    bids: Sequence[Sequence[str]],
    asks: Sequence[Sequence[str]],
    ts: str,
    *,
    local_ts_ns: int,
    sequence: int = 0,
    levels: int | None = None,
) -> OrderBook:
    b = parse_levels(inst, bids[:levels] if levels else bids, "bids")
    a = parse_levels(inst, asks[:levels] if levels else asks, "asks")
    return OrderBook(
        key=inst.key, bids=b, asks=a, venue_ts_ms=_int(ts, "ts"), local_ts_ns=local_ts_ns, sequence=sequence
    )


# -- orders -----------------------------------------------------------------------------------


def is_system_cancel(raw: OkxOrder) -> bool:
    return raw.state == "canceled" and raw.cancelSource in _SYSTEM_CANCELS


def parse_order(raw: OkxOrder, symbols: SymbolMap) -> Order:
    inst = symbols.by_id(raw.instId)
    if inst is None:
        raise MalformedPayload(f"order {raw.ordId}: instrument {raw.instId} not loaded", venue="okx")
    types = _ORD_TYPES.get(raw.ordType)
    if types is None:
        raise MalformedPayload(f"order {raw.ordId}: ordType {raw.ordType!r} is not traded", venue="okx")
    status = _STATUS.get(raw.state)
    filled = inst.to_base(dec_or(raw.accFillSz, "accFillSz"))
    if status is None:
        if raw.state != "canceling":
            raise MalformedPayload(f"order {raw.ordId}: unknown state {raw.state!r}", venue="okx")
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    reason = ""
    if is_system_cancel(raw):
        status = OrderStatus.EXPIRED
        reason = f"{_SYSTEM_CANCELS[raw.cancelSource]} (cancelSource {raw.cancelSource})"
    sz = dec(raw.sz, "sz")
    # an order sized in quote currency: its base quantity is what it traded
    qty = filled if raw.tgtCcy == "quote_ccy" else inst.to_base(sz)
    side = Side.BUY if raw.side == "buy" else Side.SELL if raw.side == "sell" else None
    if side is None:
        raise MalformedPayload(f"order {raw.ordId}: side {raw.side!r}", venue="okx")
    otype, tif = types
    avg = dec_or(raw.avgPx, "avgPx")
    return Order(
        key=inst.key,
        client_id=from_okx(raw.clOrdId),
        venue_id=raw.ordId,
        side=side,
        type=otype,
        tif=tif,
        price=dec(raw.px, "px") if raw.px and otype is OrderType.LIMIT else None,
        qty=qty,
        filled_qty=filled,
        avg_price=avg if avg > 0 else None,
        status=status,
        reduce_only=raw.reduceOnly == "true",
        created_ts_ms=_int(raw.cTime, "cTime"),
        updated_ts_ms=_int(raw.uTime, "uTime"),
        reject_reason=reason,
    )


def parse_fill(raw: OkxOrder, order: Order, symbols: SymbolMap) -> Fill | None:
    """This push's execution (``fillSz`` > 0 with a ``tradeId``), or None."""
    inst = symbols.by_id(raw.instId)
    if inst is None or not raw.tradeId:
        return None
    size = dec_or(raw.fillSz, "fillSz")
    if size <= 0:
        return None
    return Fill(
        key=order.key,
        client_id=order.client_id,
        venue_id=order.venue_id,
        trade_id=raw.tradeId,
        side=order.side,
        price=dec(raw.fillPx, "fillPx"),
        qty=inst.to_base(size),
        fee=-dec_or(raw.fillFee, "fillFee"),  # OKX: negative = charged; ours: positive = paid
        fee_asset=raw.fillFeeCcy or raw.feeCcy,
        is_maker=raw.execType == "M",
        ts_ms=_int(raw.fillTime, "fillTime") or _int(raw.uTime, "uTime"),
        realized_pnl=dec_or(raw.fillPnl, "fillPnl"),
    )


def order_body(request: OrderRequest, inst: VenueInstrument, client_id: str) -> dict[str, object]:
    """``POST /api/v5/trade/order`` body; spot market orders are sized in base (``tgtCcy``)."""
    try:
        cl_ord_id = to_okx(client_id)
    except ValueError as exc:
        raise InvalidRequest(str(exc), venue="okx") from None
    body: dict[str, object] = {
        "instId": inst.inst_id,
        "tdMode": "cross" if inst.is_swap else "cash",
        "side": request.side.value,
        "ordType": "market" if request.type is OrderType.MARKET else _ORD_TYPE_OUT[request.tif],
        "sz": venue_decimal(inst.to_venue(request.qty)),
        "clOrdId": cl_ord_id,
    }
    if request.type is OrderType.LIMIT:
        if request.price is None or request.price <= 0:
            raise InvalidRequest(f"{request.key}: a limit order needs a positive price", venue="okx")
        body["px"] = venue_decimal(request.price)
    elif not inst.is_swap:
        body["tgtCcy"] = "base_ccy"
    if request.reduce_only:
        if not inst.is_swap:
            raise InvalidRequest(f"{request.key}: reduce-only applies to swaps", venue="okx")
        body["reduceOnly"] = True
    return body


def cancel_body(inst: VenueInstrument, client_id: str | None, venue_id: str | None) -> dict[str, object]:
    body: dict[str, object] = {"instId": inst.inst_id}
    if venue_id:
        body["ordId"] = venue_id
    elif client_id:
        try:
            body["clOrdId"] = to_okx(client_id)
        except ValueError as exc:
            raise InvalidRequest(str(exc), venue="okx") from None
    else:
        raise InvalidRequest("cancel needs client_id or venue_id", venue="okx")
    return body


# -- account ----------------------------------------------------------------------------------


def parse_balances(balance: AccountBalance) -> tuple[Balance, ...]:
    out = []
    for d in balance.details:
        cash = dec_or(d.cashBal, f"{d.ccy}.cashBal")
        frozen = dec_or(d.frozenBal, f"{d.ccy}.frozenBal")
        avail = dec_or(d.availBal, f"{d.ccy}.availBal", cash - frozen)
        if cash == 0 and frozen == 0 and avail == 0:
            continue
        out.append(Balance(asset=d.ccy, free=avail, locked=frozen))
    return tuple(out)


def parse_margin(balance: AccountBalance, settle_assets: set[str]) -> tuple[MarginBalance, ...]:
    """The trading account as derivatives margin, for the swaps' settle currencies."""
    out = []
    for d in balance.details:
        if d.ccy not in settle_assets:
            continue
        cash = dec_or(d.cashBal, f"{d.ccy}.cashBal")
        upl = dec_or(d.upl, f"{d.ccy}.upl")
        out.append(
            MarginBalance(
                asset=d.ccy,
                wallet_balance=cash,
                unrealized_pnl=upl,
                margin_balance=dec_or(d.eq, f"{d.ccy}.eq", cash + upl),
                available_balance=dec_or(d.availEq, f"{d.ccy}.availEq", dec_or(d.availBal, f"{d.ccy}.availBal")),
                initial_margin=dec_or(d.imr, f"{d.ccy}.imr"),
                maint_margin=dec_or(d.mmr, f"{d.ccy}.mmr"),
            )
        )
    return tuple(out)


def parse_position(raw: PositionInfo, symbols: SymbolMap) -> Position | None:
    """A one-way position (``long``/``short`` rows of long/short mode come signed)."""
    inst = symbols.by_id(raw.instId)
    if inst is None or not inst.is_swap:
        return None
    size = inst.to_base(dec_or(raw.pos, "pos"))
    if raw.posSide == "short":
        size = -abs(size)
    elif raw.posSide == "long":
        size = abs(size)
    return Position(
        key=inst.key,
        size=size,
        entry_price=dec_or(raw.avgPx, "avgPx"),
        mark_price=dec_or(raw.markPx, "markPx"),
        unrealized_pnl=dec_or(raw.upl, "upl"),
        leverage=int(dec_or(raw.lever, "lever")),
        liquidation_price=dec_or(raw.liqPx, "liqPx"),
        margin_mode=raw.mgnMode or "cross",
        updated_ts_ms=_int(raw.uTime, "uTime"),
    )


def parse_positions(rows: Sequence[PositionInfo], symbols: SymbolMap) -> list[Position]:
    """Non-flat positions, one per instrument (long/short rows of one instrument are netted)."""
    by_key: dict[InstrumentKey, Position] = {}
    for row in rows:
        pos = parse_position(row, symbols)
        if pos is None:
            continue
        known = by_key.get(pos.key)
        if known is None:
            by_key[pos.key] = pos
            continue
        net = known.size + pos.size
        main = known if abs(known.size) >= abs(pos.size) else pos
        by_key[pos.key] = Position(
            key=pos.key,
            size=net,
            entry_price=main.entry_price,
            mark_price=main.mark_price,
            unrealized_pnl=known.unrealized_pnl + pos.unrealized_pnl,
            leverage=main.leverage,
            liquidation_price=main.liquidation_price,
            margin_mode=main.margin_mode,
            updated_ts_ms=max(known.updated_ts_ms, pos.updated_ts_ms),
        )
    return [p for p in by_key.values() if p.size != 0]


def parse_account(
    balance: AccountBalance, positions: Sequence[Position], settle_assets: set[str], *, ts_ms: int
) -> AccountSnapshot:
    return AccountSnapshot(
        exchange=Exchange.OKX,
        balances=parse_balances(balance),
        margin=parse_margin(balance, settle_assets),
        positions=tuple(positions),
        ts_ms=_int(balance.uTime, "uTime") or ts_ms,
    )


# -- funding ----------------------------------------------------------------------------------


def parse_funding_rate(
    raw: FundingRateInfo, inst: VenueInstrument, mark: Decimal, index: Decimal, *, ts_ms: int
) -> FundingRate:
    """The rate for the coming settlement at ``fundingTime``; the interval is
    ``nextFundingTime − fundingTime`` (8 h when OKX does not say)."""
    funding_time = _int(raw.fundingTime, "fundingTime")
    next_time = _int(raw.nextFundingTime, "nextFundingTime")
    interval = next_time - funding_time if next_time > funding_time else DEFAULT_FUNDING_INTERVAL_MS
    return FundingRate(
        key=inst.key,
        rate=dec(raw.fundingRate, "fundingRate"),
        interval_ms=interval,
        next_funding_ts_ms=funding_time,
        mark_price=mark,
        index_price=index,
        ts_ms=_int(raw.ts, "ts") or ts_ms,
    )


def parse_funding_record(raw: FundingHistory, inst: VenueInstrument) -> FundingRateRecord:
    rate = dec_or(raw.realizedRate, "realizedRate", dec(raw.fundingRate, "fundingRate"))
    return FundingRateRecord(key=inst.key, rate=rate, funding_ts_ms=_int(raw.fundingTime, "fundingTime"))
