"""Engine records → OKX items: orders, order pushes, fills, positions, balances.

Sizes go out in venue units (contracts for swaps), fees negative when charged (OKX's sign),
empty strings where OKX leaves a value empty (``avgPx`` before a fill, ``lever`` on spot).
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.sim.engine import PositionView, SimFill, SimOrder
from strategy_client.model import MarketKind, OrderStatus, OrderType, Side, TimeInForce

from .core import OkxCore
from .instruments import OkxInstrument
from .numbers import money, num, num_or_empty
from .orders import OrderMeta, cancel_source, ord_id
from .payloads_account import BalanceDetail, BalanceItem, PositionItem
from .payloads_trade import FillItem, OrderItem, OrderPush

__all__ = [
    "order_state",
    "order_item",
    "order_push",
    "fill_item",
    "position_item",
    "balance_item",
    "ord_type_of",
]

ZERO = Decimal(0)
_STATE = {
    OrderStatus.NEW: "live",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.REJECTED: "canceled",
}
_TIF_TYPE = {
    TimeInForce.GTC: "limit",
    TimeInForce.POST_ONLY: "post_only",
    TimeInForce.IOC: "ioc",
    TimeInForce.FOK: "fok",
}


def order_state(order: SimOrder) -> str:
    return _STATE[order.status]


def ord_type_of(order: SimOrder, meta: OrderMeta | None) -> str:
    if meta is not None:
        return meta.ord_type
    return "market" if order.type is OrderType.MARKET else _TIF_TYPE[order.tif]


def _fee_asset(inst: OkxInstrument, side: Side) -> str:
    if inst.is_swap:
        return inst.quote
    return inst.base if side is Side.BUY else inst.quote  # the asset received


def _order_fields(core: OkxCore, order: SimOrder, meta: OrderMeta | None) -> dict[str, object]:
    inst = core.inst_of(order.kind, order.symbol)
    last: SimFill | None = order.fills[-1] if order.fills else None
    fee = sum((f.fee for f in order.fills), ZERO)
    pnl = sum((f.realized_pnl for f in order.fills), ZERO)
    tgt_ccy = meta.tgt_ccy if meta is not None else ""
    if tgt_ccy == "quote_ccy" and order.quote_qty is not None:
        sz = num(order.quote_qty)
    else:
        sz = num(inst.to_venue(order.qty))
    lever = ""
    if inst.is_swap:
        lever = str(core.venue.leverage(core.account, order.symbol))
    return {
        "instType": inst.inst_type,
        "instId": inst.inst_id,
        "tgtCcy": tgt_ccy,
        "ordId": ord_id(order.order_id),
        "clOrdId": meta.cl_ord_id if meta is not None else order.client_order_id,
        "tag": meta.tag if meta is not None else "",
        "px": num(order.price) if order.price is not None else "",
        "sz": sz,
        "pnl": money(pnl),
        "ordType": ord_type_of(order, meta),
        "side": order.side.value,
        "posSide": "net" if inst.is_swap else "",
        "tdMode": meta.td_mode if meta is not None else ("cross" if inst.is_swap else "cash"),
        "accFillSz": num(inst.to_venue(order.executed_qty)),
        "fillPx": num(last.price) if last else "",
        "tradeId": str(last.trade_id) if last else "",
        "fillSz": num(inst.to_venue(last.qty)) if last else "",
        "fillTime": str(last.ts_ms) if last else "",
        "avgPx": money(order.avg_price) if order.avg_price else "",
        "state": order_state(order),
        "lever": lever,
        "feeCcy": _fee_asset(inst, order.side),
        "fee": money(-fee),
        "rebateCcy": inst.quote if inst.is_swap else _fee_asset(inst, order.side.opposite),
        "reduceOnly": "true" if order.reduce_only else "false",
        "cancelSource": cancel_source(order, meta),
        "uTime": str(order.updated_ms),
        "cTime": str(order.created_ms),
    }


def order_item(core: OkxCore, order: SimOrder) -> OrderItem:
    return OrderItem(**_order_fields(core, order, core.meta(order)))  # type: ignore[arg-type]  # shared fields as a dict


def order_push(core: OkxCore, order: SimOrder, fill: SimFill | None) -> OrderPush:
    """An ``orders`` channel item; ``fill`` is this update's execution (None for state changes)."""
    fields = _order_fields(core, order, core.meta(order))
    inst = core.inst_of(order.kind, order.symbol)
    if fill is not None:
        fields.update(
            fillPx=num(fill.price),
            fillSz=num(inst.to_venue(fill.qty)),
            tradeId=str(fill.trade_id),
            fillTime=str(fill.ts_ms),
        )
        extra = {
            "fillFee": money(-fill.fee),
            "fillFeeCcy": fill.fee_asset,
            "fillPnl": money(fill.realized_pnl),
            "execType": "M" if fill.is_maker else "T",
            "fillNotionalUsd": money(fill.quote_qty),
            "lastPx": num(fill.price),
        }
    else:
        fields.update(fillPx="", fillSz="0", tradeId="", fillTime="")
        extra = {"fillFee": "0", "fillFeeCcy": "", "fillPnl": "0", "execType": "", "lastPx": ""}
    fields["notionalUsd"] = money(order.qty * (order.price or order.avg_price or ZERO))
    return OrderPush(**fields, **extra)  # type: ignore[arg-type]  # shared fields as a dict


def fill_item(core: OkxCore, order: SimOrder, fill: SimFill) -> FillItem:
    inst = core.inst_of(order.kind, order.symbol)
    meta = core.meta(order)
    return FillItem(
        instType=inst.inst_type,
        instId=inst.inst_id,
        tradeId=str(fill.trade_id),
        ordId=ord_id(order.order_id),
        clOrdId=meta.cl_ord_id if meta is not None else order.client_order_id,
        billId=str(fill.trade_id * 10 + (1 if fill.side is Side.BUY else 2)),
        subType="1" if fill.side is Side.BUY else "2",
        tag=meta.tag if meta is not None else "",
        fillPx=num(fill.price),
        fillSz=num(inst.to_venue(fill.qty)),
        fillPnl=money(fill.realized_pnl),
        side=fill.side.value,
        posSide="net" if inst.is_swap else "",
        execType="M" if fill.is_maker else "T",
        feeCcy=fill.fee_asset,
        fee=money(-fill.fee),
        ts=str(fill.ts_ms),
        fillTime=str(fill.ts_ms),
    )


def position_item(core: OkxCore, pos: PositionView) -> PositionItem:
    inst = core.inst_of(MarketKind.PERP, pos.symbol)
    ledger = core.ledger(pos.symbol)
    mark = core.venue.mark(pos.symbol)
    contracts = inst.to_venue(pos.size)
    margin = abs(pos.notional) / pos.leverage if pos.leverage else ZERO
    upl_ratio = pos.unrealized / margin if margin else ZERO
    book = core.venue.book(MarketKind.PERP, pos.symbol, 1)
    last = book.bids[0][0] if book.bids else pos.mark
    upl_last = pos.size * (last - pos.entry_price)
    return PositionItem(
        instType=inst.inst_type,
        instId=inst.inst_id,
        instIdCode=inst.inst_id_code,
        mgnMode="cross",
        posId=str(1_300_000_000_000_000_000 + ledger.pos_id),
        posSide="net",
        pos=num(contracts),
        availPos="",
        ccy=pos.margin_asset,
        avgPx=money(pos.entry_price) if pos.entry_price else "",
        markPx=num(pos.mark),
        idxPx=num(mark.index),
        last=num(last),
        bePx=money(pos.break_even_price) if pos.break_even_price else "",
        upl=money(pos.unrealized),
        uplRatio=num(upl_ratio.quantize(Decimal("0.0001")) if upl_ratio else ZERO),
        uplLastPx=money(upl_last),
        uplRatioLastPx=num((upl_last / margin).quantize(Decimal("0.0001")) if margin else ZERO),
        lever=str(pos.leverage),
        liqPx=num_or_empty(pos.liquidation_price),
        imr=money(pos.initial_margin),
        mgnRatio=num((pos.maint_margin / margin).quantize(Decimal("0.0001")) if margin else ZERO),
        mmr=money(pos.maint_margin),
        notionalUsd=money(abs(pos.notional)),
        realizedPnl=money(ledger.realized),
        pnl=money(ledger.pnl),
        fee=money(ledger.fee),
        fundingFee=money(ledger.funding_fee),
        cTime=str(ledger.c_time_ms or pos.update_ms),
        uTime=str(pos.update_ms),
    )


def balance_item(core: OkxCore, currencies: set[str] | None = None) -> BalanceItem:
    """``GET /api/v5/account/balance``: one trading account over the engine's spot wallet and
    futures margin account (their sum per currency; see ``docs/simulator-okx.md``)."""
    venue = core.venue
    now = core.now_ms()
    spot = venue.spot_balances(core.account)
    settle_assets = sorted({inst.quote for inst in core.catalog.swaps()})
    futures = {asset: venue.futures_account(core.account, asset) for asset in settle_assets}
    assets = sorted(set(spot) | set(futures))
    details: list[BalanceDetail] = []
    total_eq = total_upl = total_imr = total_mmr = total_ord = ZERO
    for asset in assets:
        if currencies and asset not in currencies:
            continue
        free, locked = spot.get(asset, (ZERO, ZERO))
        fut = futures.get(asset)
        cash = free + locked + (fut.wallet if fut else ZERO)
        upl = fut.unrealized if fut else ZERO
        imr = fut.initial_margin if fut else ZERO
        mmr = fut.maint_margin if fut else ZERO
        ord_frozen = locked + (fut.open_order_initial_margin if fut else ZERO)
        avail = free + (fut.available if fut else ZERO)
        eq = cash + upl
        if eq == 0 and not currencies:
            continue
        usd = eq * _usd_price(core, asset)
        total_eq += usd
        total_upl += upl * _usd_price(core, asset)
        total_imr += imr
        total_mmr += mmr
        total_ord += ord_frozen * _usd_price(core, asset)
        details.append(
            BalanceDetail(
                ccy=asset,
                eq=money(eq),
                cashBal=money(cash),
                availBal=money(avail),
                availEq=money(avail),
                frozenBal=money(locked + imr),
                ordFrozen=money(ord_frozen),
                upl=money(upl),
                imr=money(imr),
                mmr=money(mmr),
                mgnRatio=num((eq / mmr).quantize(Decimal("0.01"))) if mmr else "",
                disEq=money(usd),
                eqUsd=money(usd),
                uTime=str(now),
            )
        )
    return BalanceItem(
        totalEq=money(total_eq),
        adjEq=money(total_eq),
        ordFroz=money(total_ord),
        imr=money(total_imr),
        mmr=money(total_mmr),
        mgnRatio=num((total_eq / total_mmr).quantize(Decimal("0.01"))) if total_mmr else "",
        notionalUsd=money(sum((abs(p.notional) for p in venue.positions(core.account)), ZERO)),
        upl=money(total_upl),
        details=details,
        uTime=str(now),
    )


def _usd_price(core: OkxCore, asset: str) -> Decimal:
    if asset in ("USDT", "USDC", "USD"):
        return Decimal(1)
    inst = core.catalog.by_key(MarketKind.SPOT, asset + "USDT")
    if inst is None:
        return ZERO
    return core.venue.reference_price(MarketKind.SPOT, inst.symbol)
