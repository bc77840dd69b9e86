"""User-data event payloads: spot (WS-API subscription) and USD-M futures (listenKey), §7-§8."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import AssetBalance, ExecType, OrderChanged, PositionView, SimOrder

from .numbers import money, spot
from .payloads_spot import STP_MODE, is_working
from .vocab import (
    PerpFormat,
    expire_code,
    futures_type_tif,
    side_text,
    spot_price,
    spot_type_tif,
    status_text,
)

__all__ = [
    "ExecutionReport",
    "OutboundAccountPosition",
    "OapBalance",
    "BalanceUpdate",
    "OrderTradeUpdate",
    "OrderTradeUpdateBody",
    "AccountUpdate",
    "AccountUpdateBody",
    "AuBalance",
    "AuPosition",
    "AccountConfigUpdate",
    "LeverageConfig",
    "TradeLite",
    "ListenKeyExpired",
    "execution_report",
    "outbound_account_position",
    "order_trade_update",
    "trade_lite",
    "account_update",
]


class ExecutionReport(msgspec.Struct, kw_only=True):
    e: str
    E: int
    s: str
    c: str
    S: str
    o: str
    f: str
    q: str
    p: str
    P: str
    F: str
    g: int
    C: str
    x: str
    X: str
    r: str
    i: int
    last_qty: str = msgspec.field(name="l")
    z: str
    L: str
    n: str
    N: str | None
    T: int
    t: int
    exec_id: int = msgspec.field(name="I")
    w: bool
    m: bool
    M: bool
    created: int = msgspec.field(name="O")
    Z: str
    Y: str
    Q: str
    W: int
    V: str


class OapBalance(msgspec.Struct, kw_only=True):
    a: str
    f: str
    locked: str = msgspec.field(name="l")


class OutboundAccountPosition(msgspec.Struct, kw_only=True):
    e: str
    E: int
    u: int
    B: list[OapBalance]


class BalanceUpdate(msgspec.Struct, kw_only=True):
    """Spot deposit/withdrawal: ``d`` is the signed change."""

    e: str
    E: int
    a: str
    d: str
    T: int


class OrderTradeUpdateBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    s: str
    c: str
    S: str
    o: str
    f: str
    q: str
    p: str
    ap: str
    sp: str
    x: str
    X: str
    i: int
    last_qty: str = msgspec.field(name="l")
    z: str
    L: str
    N: str | msgspec.UnsetType = msgspec.UNSET
    n: str | msgspec.UnsetType = msgspec.UNSET
    T: int
    t: int
    b: str
    a: str
    m: bool
    R: bool
    wt: str
    ot: str
    ps: str
    cp: bool
    rp: str
    pP: bool
    si: int
    ss: int
    V: str
    pm: str
    gtd: int
    er: str


class OrderTradeUpdate(msgspec.Struct, kw_only=True):
    e: str
    E: int
    T: int
    o: OrderTradeUpdateBody


class TradeLite(msgspec.Struct, kw_only=True):
    e: str
    E: int
    T: int
    s: str
    q: str
    p: str
    m: bool
    c: str
    S: str
    L: str
    last_qty: str = msgspec.field(name="l")
    t: int
    i: int


class AuBalance(msgspec.Struct, kw_only=True):
    a: str
    wb: str
    cw: str
    bc: str


class AuPosition(msgspec.Struct, kw_only=True):
    s: str
    pa: str
    ep: str
    bep: str
    cr: str
    up: str
    mt: str
    iw: str
    ps: str


class AccountUpdateBody(msgspec.Struct, kw_only=True):
    m: str
    B: list[AuBalance]
    P: list[AuPosition]


class AccountUpdate(msgspec.Struct, kw_only=True):
    e: str
    E: int
    T: int
    a: AccountUpdateBody


class LeverageConfig(msgspec.Struct, kw_only=True):
    s: str
    leverage: int = msgspec.field(name="l")


class AccountConfigUpdate(msgspec.Struct, kw_only=True):
    e: str
    E: int
    T: int
    ac: LeverageConfig


class ListenKeyExpired(msgspec.Struct, kw_only=True):
    """``E`` is a *string* here, as Binance sends it (pitfall §11.3)."""

    e: str
    E: str
    listenKey: str


# -- builders ---------------------------------------------------------------------------------


#: The engine's (the model's) execution types in Binance's words (``x``).
EXEC_TYPE_TEXT = {
    ExecType.NEW: "NEW",
    ExecType.TRADE: "TRADE",
    ExecType.CANCELED: "CANCELED",
    ExecType.EXPIRED: "EXPIRED",
    ExecType.REJECTED: "REJECTED",
    ExecType.AMENDED: "AMENDMENT",
}


def execution_report(ev: OrderChanged, exec_id: int, cancel_client_id: str | None) -> ExecutionReport:
    order = ev.order
    otype, tif = spot_type_tif(order)
    fill = ev.fill
    last_qty = fill.qty if fill is not None else Decimal(0)
    last_price = fill.price if fill is not None else Decimal(0)
    last_quote = fill.quote_qty if fill is not None else Decimal(0)
    canceled = ev.exec_type is ExecType.CANCELED
    client_id = cancel_client_id if canceled and cancel_client_id else order.client_order_id
    return ExecutionReport(
        e="executionReport",
        E=ev.ts_ms,
        s=order.symbol,
        c=client_id,
        S=side_text(order.side),
        o=otype,
        f=tif,
        q=spot(order.qty),
        p=spot_price(order),
        P=spot(Decimal(0)),
        F=spot(Decimal(0)),
        g=-1,
        C=order.client_order_id if canceled and cancel_client_id else "",
        x=EXEC_TYPE_TEXT[ev.exec_type],
        X=status_text(order.status),
        r="NONE",
        i=order.order_id,
        last_qty=spot(last_qty),
        z=spot(order.executed_qty),
        L=spot(last_price),
        n=spot(fill.fee) if fill is not None else "0",
        N=fill.fee_asset if fill is not None else None,
        T=fill.ts_ms if fill is not None else ev.ts_ms,
        t=fill.trade_id if fill is not None else -1,
        exec_id=exec_id,
        w=is_working(order),
        m=fill.is_maker if fill is not None else False,
        M=fill is not None,
        created=order.created_ms,
        Z=spot(order.cum_quote),
        Y=spot(last_quote),
        Q=spot(order.quote_qty if order.quote_qty is not None else Decimal(0)),
        W=order.working_ms or order.created_ms,
        V=STP_MODE,
    )


def outbound_account_position(balances: dict[str, AssetBalance], ts_ms: int) -> OutboundAccountPosition:
    return OutboundAccountPosition(
        e="outboundAccountPosition",
        E=ts_ms,
        u=ts_ms,
        B=[OapBalance(a=b.asset, f=spot(b.free), locked=spot(b.locked)) for b in balances.values()],
    )


def order_trade_update(
    ev: OrderChanged, fmt: PerpFormat, bid_notional: Decimal, ask_notional: Decimal
) -> OrderTradeUpdate:
    order: SimOrder = ev.order
    otype, tif = futures_type_tif(order)
    fill = ev.fill
    return OrderTradeUpdate(
        e="ORDER_TRADE_UPDATE",
        E=ev.ts_ms,
        T=fill.ts_ms if fill is not None else ev.ts_ms,
        o=OrderTradeUpdateBody(
            s=order.symbol,
            c=order.client_order_id,
            S=side_text(order.side),
            o=otype,
            f=tif,
            q=fmt.qty(order.qty),
            p=fmt.price(order.price),
            ap=fmt.avg(order.avg_price),
            sp="0",
            x=EXEC_TYPE_TEXT[ev.exec_type],
            X=status_text(order.status),
            i=order.order_id,
            last_qty=fmt.qty(fill.qty if fill is not None else Decimal(0)),
            z=fmt.qty(order.executed_qty),
            L=fmt.price(fill.price) if fill is not None else "0",
            N=fill.fee_asset if fill is not None else msgspec.UNSET,
            n=money(fill.fee) if fill is not None else msgspec.UNSET,
            T=fill.ts_ms if fill is not None else ev.ts_ms,
            t=fill.trade_id if fill is not None else 0,
            b=money(bid_notional),
            a=money(ask_notional),
            m=fill.is_maker if fill is not None else False,
            R=order.reduce_only,
            wt="CONTRACT_PRICE",
            ot=otype,
            ps="BOTH",
            cp=False,
            rp=money(fill.realized_pnl) if fill is not None else "0",
            pP=False,
            si=0,
            ss=0,
            V=STP_MODE,
            pm="NONE",
            gtd=0,
            er=expire_code(order.expire_reason),
        ),
    )


def trade_lite(ev: OrderChanged, fmt: PerpFormat) -> TradeLite | None:
    fill = ev.fill
    if fill is None:
        return None
    order = ev.order
    return TradeLite(
        e="TRADE_LITE",
        E=ev.ts_ms,
        T=fill.ts_ms,
        s=order.symbol,
        q=fmt.qty(order.qty),
        p=fmt.price(order.price),
        m=fill.is_maker,
        c=order.client_order_id,
        S=side_text(order.side),
        L=fmt.price(fill.price),
        last_qty=fmt.qty(fill.qty),
        t=fill.trade_id,
        i=order.order_id,
    )


def account_update(
    reason: str,
    ts_ms: int,
    balances: dict[str, AssetBalance],
    positions: list[PositionView],
    fmts: dict[str, PerpFormat],
) -> AccountUpdate:
    return AccountUpdate(
        e="ACCOUNT_UPDATE",
        E=ts_ms,
        T=ts_ms,
        a=AccountUpdateBody(
            m=reason,
            B=[
                AuBalance(a=b.asset, wb=money(b.wallet), cw=money(b.wallet), bc=money(b.change))
                for b in balances.values()
            ],
            P=[
                AuPosition(
                    s=p.symbol,
                    pa=fmts[p.symbol].qty(p.size),
                    ep=money(p.entry_price),
                    bep=money(p.break_even_price),
                    cr=money(p.realized),
                    up=money(p.unrealized),
                    mt="cross",
                    iw="0",
                    ps="BOTH",
                )
                for p in positions
            ],
        ),
    )
