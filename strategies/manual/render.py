"""Text for the manual REPL: plain aligned tables and one-line results, no colours.

Pure functions from domain objects to text, so a script's output is stable and greppable.
Decimals are printed exactly, without exponents or trailing zeros (``0.01000000`` → ``0.01``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from strategy_client.model import (
    AccountSnapshot,
    FundingRate,
    InstrumentKey,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    RiskEvent,
    RiskEventKind,
    TimeInForce,
)
from strategy_client.wire import ReferencePrice, TradingStateReply
from strategy_client.wire.risk import RiskStatus

__all__ = [
    "dec",
    "pct",
    "table",
    "render_book",
    "render_price",
    "render_funding",
    "render_order",
    "render_orders",
    "UNKNOWN_NOTE",
    "render_positions",
    "render_balance",
    "render_leverage",
    "render_trading_state",
    "render_risk",
    "render_risk_event",
    "duration",
]

#: What an UNKNOWN order means to the person at the prompt.
UNKNOWN_NOTE = "the venue's answer was lost; the runner keeps asking until the venue says — do not resend"

_TIF_WORD = {TimeInForce.GTC: "gtc", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok", TimeInForce.POST_ONLY: "post"}


def dec(value: Decimal | None, empty: str = "-") -> str:
    """Exact text of ``value``: no exponent, no trailing zeros."""
    if value is None:
        return empty
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def pct(rate: Decimal, places: int = 6) -> str:
    """A rate as a percentage, at most ``places`` decimals (``0.000145`` → ``0.0145%``)."""
    return dec((rate * 100).quantize(Decimal(1).scaleb(-places))) + "%"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """Columns padded to their widest cell; ``right[i]`` right-aligns column i (numbers)."""
    align = list(right) if right is not None else [False] * len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, align, strict=True)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def duration(ms: int) -> str:
    """``3h 05m``, ``4m 10s``, ``12s`` (negative: ``now``)."""
    if ms <= 0:
        return "now"
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_book(book: OrderBook, depth: int) -> str:
    """A ladder: the best ``depth`` asks (highest first) above the best ``depth`` bids."""
    asks = list(book.asks[:depth])
    bids = list(book.bids[:depth])
    rows: list[list[str]] = [["", dec(level.price), dec(level.qty)] for level in reversed(asks)]
    middle = len(rows)
    rows.extend([dec(level.qty), dec(level.price), ""] for level in bids)
    body = table(["bid qty", "price", "ask qty"], rows, [True, True, True]).splitlines()
    head = f"{book.key}  ({len(book.bids)} bids, {len(book.asks)} asks, seq {book.sequence})"
    if not asks and not bids:
        return f"{head}\n  (empty book)"
    if book.spread is not None and book.mid is not None:
        bps = (book.spread / book.mid * 10_000).quantize(Decimal("0.01"))
        marker = f" spread {dec(book.spread)} ({dec(bps)} bps)  mid {dec(book.mid)} "
    else:
        marker = " one-sided book "
    width = max(*(len(line) for line in body), len(marker) + 6)
    sep = marker.center(width, "-")
    return "\n".join([head, body[0], *body[1 : 1 + middle], sep, *body[1 + middle :]])


def render_price(ref: ReferencePrice) -> str:
    stale = "  STALE" if ref.stale else ""
    return f"{ref.key} {ref.source.value} {dec(ref.price)}  (age {ref.age_ms:.0f} ms){stale}"


def render_funding(fr: FundingRate, now_ms: int) -> str:
    hours = Decimal(fr.interval_ms) / 3_600_000
    who = "longs pay shorts" if fr.rate > 0 else "shorts pay longs" if fr.rate < 0 else "nobody pays"
    lines = [
        f"{fr.key} funding {pct(fr.rate)} per {dec(hours)}h = {pct(fr.rate_per_hour(), 8)} per hour ({who})",
        f"  next funding {_utc(fr.next_funding_ts_ms)} (in {duration(fr.next_funding_ts_ms - now_ms)})"
        f"  mark {dec(fr.mark_price)}  index {dec(fr.index_price)}",
    ]
    return "\n".join(lines)


def _order_terms(order: Order) -> str:
    what = f"{order.side.value} {dec(order.qty)} {order.key}"
    if order.type is OrderType.MARKET:
        return f"{what} market"
    flags = _TIF_WORD[order.tif]
    return f"{what} @ {dec(order.price)} {flags}"


def render_order(order: Order) -> str:
    """One order's outcome, e.g. ``filled: buy 0.01 binance:perp:BTCUSDT market @ avg 60020.8  id man-...``."""
    reduce = " reduce-only" if order.reduce_only else ""
    terms = f"{_order_terms(order)}{reduce}"
    ident = f"id {order.client_id}" + (f" (venue {order.venue_id})" if order.venue_id else "")
    status = order.status
    if status is OrderStatus.FILLED:
        avg = f" @ avg {dec(order.avg_price)}" if order.avg_price is not None else ""
        return f"filled: {terms}{avg}  {ident}"
    fill = ""
    if order.filled_qty > 0:
        avg = f" @ avg {dec(order.avg_price)}" if order.avg_price is not None else ""
        fill = f", filled {dec(order.filled_qty)}{avg}"
    if status is OrderStatus.NEW:
        return f"open: {terms}{fill}  {ident}"
    if status is OrderStatus.PARTIALLY_FILLED:
        return f"partially filled: {terms}{fill}  {ident}"
    if status is OrderStatus.UNKNOWN:
        return f"UNKNOWN: {terms}{fill}  {ident}  — {UNKNOWN_NOTE}"
    why = [w for w in (order.reject_code.value if order.reject_code else "", order.reject_reason) if w]
    reason = f" ({': '.join(why)})" if why else ""
    return f"{status.value.replace('_', ' ')}: {terms}{fill}{reason}  {ident}"


def render_orders(orders: Sequence[Order]) -> str:
    if not orders:
        return "no open orders"
    rows = [
        [
            o.client_id,
            str(o.key),
            o.side.value,
            o.type.value if o.type is OrderType.MARKET else f"limit {_TIF_WORD[o.tif]}",
            dec(o.qty),
            dec(o.filled_qty),
            dec(o.price),
            _status_word(o.status) + (" reduce-only" if o.reduce_only else ""),
        ]
        for o in sorted(orders, key=lambda o: (str(o.key), o.created_ts_ms, o.client_id))
    ]
    headers = ["id", "instrument", "side", "type", "qty", "filled", "price", "status"]
    text = table(headers, rows, [False, False, False, False, True, True, True, False])
    unknown = sum(1 for o in orders if o.status is OrderStatus.UNKNOWN)
    if unknown:
        text += f"\n{unknown} UNKNOWN: {UNKNOWN_NOTE}"
    return text


def _status_word(status: OrderStatus) -> str:
    """Status column text; UNKNOWN in capitals so it stands out among open orders."""
    return "UNKNOWN" if status is OrderStatus.UNKNOWN else status.value


def render_positions(positions: Sequence[Position]) -> str:
    open_ = [p for p in positions if not p.is_flat]
    if not open_:
        return "no open positions"
    rows = [
        [
            str(p.key),
            "long" if p.size > 0 else "short",
            dec(p.size),
            dec(p.entry_price),
            dec(p.mark_price or None),
            dec(p.unrealized_pnl),
            f"{p.leverage}x" if p.leverage else "-",
            dec(p.liquidation_price or None),
        ]
        for p in sorted(open_, key=lambda p: str(p.key))
    ]
    headers = ["instrument", "side", "size", "entry", "mark", "uPnL", "lev", "liq"]
    return table(headers, rows, [False, False, True, True, True, True, True, True])


def render_balance(account: AccountSnapshot) -> str:
    parts: list[str] = []
    spot = [b for b in account.balances if b.total != 0]
    if spot:
        rows = [[b.asset, dec(b.free), dec(b.locked), dec(b.total)] for b in sorted(spot, key=lambda b: b.asset)]
        parts.append("spot\n" + table(["asset", "free", "locked", "total"], rows, [False, True, True, True]))
    if account.margin:
        rows = [
            [
                m.asset,
                dec(m.wallet_balance),
                dec(m.unrealized_pnl),
                dec(m.margin_balance),
                dec(m.available_balance),
                dec(m.initial_margin),
                dec(m.maint_margin),
            ]
            for m in sorted(account.margin, key=lambda m: m.asset)
        ]
        headers = ["asset", "wallet", "uPnL", "margin", "available", "init margin", "maint margin"]
        parts.append("futures margin\n" + table(headers, rows, [False, True, True, True, True, True, True]))
    return "\n".join(parts) if parts else f"no balances on {account.exchange.value}"


def render_leverage(key: InstrumentKey, asked: int, applied: int) -> str:
    note = "" if applied == asked else f" (asked {asked}x; the venue applied {applied}x)"
    return f"{key} leverage {applied}x{note}"


def render_trading_state(reply: TradingStateReply) -> str:
    """``trading state HALTED (was ACTIVE); 2 open orders cancelled``."""
    text = f"trading state {reply.state.value.upper()} (was {reply.previous.value.upper()})"
    if reply.canceled:
        text += f"; {reply.canceled} open order{'s' if reply.canceled != 1 else ''} cancelled"
    return text


def render_risk(status: RiskStatus) -> str:
    """The gate in a few lines: state, today's numbers, the limits that are set, refusals."""
    reason = f" ({status.state_reason})" if status.state_reason else ""
    lines = [
        f"risk: {status.state.value.upper()}{reason}; today's realised PnL {dec(status.day_realized_pnl)}, "
        f"equity {dec(status.equity)}, open orders {status.open_orders}, open positions {status.open_positions}",
    ]
    account = [
        f"{f} {getattr(status.limits, f)}"
        for f in (
            "daily_loss_limit",
            "max_drawdown",
            "max_leverage",
            "max_open_orders",
            "max_open_positions",
            "orders_per_second",
            "orders_per_minute",
            "client_orders_per_second",
            "client_orders_per_minute",
        )
        if getattr(status.limits, f) is not None
    ]
    lines.append("limits: " + (", ".join(account) if account else "none account-wide"))
    for row in status.instruments:
        set_ = [f"{f} {v}" for f in row.limits.__struct_fields__ if (v := getattr(row.limits, f)) is not None]
        if set_:
            lines.append(f"  {row.key}: {', '.join(set_)}")
    refused = ", ".join(f"{k} {n}" for k, n in sorted(status.refused.items()) if n)
    lines.append(f"checked {status.checked}, passed {status.passed}, refused {refused or 'none'}")
    if not status.enabled:
        lines.append("limits are disabled (enabled = false); the trading state still applies")
    return "\n".join(lines)


def render_risk_event(event: RiskEvent) -> str:
    """One line: a state change, a refusal, new limits, a new day."""
    line = event.one_line()
    return line if event.kind is not RiskEventKind.REFUSED else f"risk: {line}"
