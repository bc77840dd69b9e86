"""RiskGate: the pre-trade check every order passes before its intent is journaled and sent.

One synchronous call, :meth:`RiskGate.check`, per order: it returns (the order may go) or raises
:class:`RiskRejected` naming the limit and its numbers. The gate reads the account through a
:class:`RiskInputs` the runner provides and open orders from its :class:`OpenOrderTally`
(``gate.tally``, which the order actor updates with every order state it stores); it never
awaits and never asks an actor. Its own state
(trading state, throttle windows, the day's realised PnL and high-water mark, counters) is owned
by whoever owns the gate — the runner's order actor — and changed only through its methods.

Checks, in order (the first that fails refuses the order; a refused order takes no throttle slot):

1. trading state — HALTED refuses everything; REDUCING refuses what does not reduce exposure
   (``reduce.py``). A drawdown beyond ``max_drawdown`` trips the state first (this check reads
   equity).
2. rate — orders per second / per minute, all clients together and each client on its own
   (exact sliding windows, ``throttle.py``).
3. ``max_open_orders`` (open + unresolved orders, this one included).
4. per order: ``max_order_qty``; the price (a limit order's own price; a market order's touch —
   best ask to buy, best bid to sell) within ``price_collar`` of the reference price; then
   ``max_order_notional`` = qty × that price.
5. only for orders that do not reduce exposure: ``max_position_qty`` and
   ``max_position_notional`` on the worst-case projected position (this order and every open
   order on its side filled, none of the other side — those may be cancelled, so they earn no
   credit); ``max_open_positions`` (an order on a flat instrument opens one); ``max_leverage``
   (worst-case gross exposure after the order / equity); ``max_concentration`` (the
   instrument's worst-case exposure / gross, checked once gross exceeds
   ``concentration_min_gross``).

Order limits are inclusive: an order that brings a value exactly to its limit passes. Loss
limits trip when reached: the day's realised PnL at or below ``-daily_loss_limit`` switches to
HALTED; equity at or below the day's high-water mark minus ``max_drawdown`` switches to
``drawdown_action``. Automatic trips latch: only :meth:`RiskGate.set_state` leaves them (and
refuses to resume while the breach lasts unless ``force``); a new trading day resets the
numbers, not the state.

Events (state changes, refusals, limit changes, new days) go to a bounded outbox that the owner
drains after each call (:meth:`RiskGate.drain_events`) and publishes. Whenever a STATE event
says HALTED, the owner cancels every open order.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import msgspec

from strategy_client.model import (
    DrawdownAction,
    Exchange,
    InstrumentKey,
    InstrumentLimits,
    LimitName,
    MarketKind,
    OrderRequest,
    OrderType,
    RiskBreach,
    RiskEvent,
    RiskEventKind,
    RiskLimits,
    Side,
    TradingState,
)
from strategy_client.wire.risk import InstrumentRisk, RiskStatus

from .config import instrument_key_for, parse_risk_section, resolve_limits
from .errors import RiskChangeRefused, RiskConfigError, RiskRejected
from .inputs import OpenOrderTally, RiskInputs
from .reduce import reduces_exposure
from .throttle import MINUTE_NS, SECOND_NS, ClientThrottle, SlidingWindow, admit_all, first_full

__all__ = ["RiskGate", "DAY_MS", "loosened_fields"]

DAY_MS = 86_400_000
ZERO = Decimal(0)
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_ACCOUNT_CAPS = (
    "max_leverage",
    "max_open_orders",
    "max_open_positions",
    "orders_per_second",
    "orders_per_minute",
    "client_orders_per_second",
    "client_orders_per_minute",
    "daily_loss_limit",
    "max_drawdown",
)
_INSTRUMENT_CAPS = tuple(InstrumentLimits.__struct_fields__)
_PRICED = ("max_order_notional", "max_position_notional", "price_collar", "max_concentration")


def _sets_nothing(limits: RiskLimits, eff: dict[InstrumentKey, InstrumentLimits]) -> bool:
    """True when no account-wide or instrument limit is set: :meth:`RiskGate.check` then has
    only the trading state to apply (the six steps would each find their limit unset)."""
    if any(getattr(limits, f) is not None for f in _ACCOUNT_CAPS):
        return False
    return all(getattr(lim, f) is None for lim in eff.values() for f in _INSTRUMENT_CAPS)


def _cap_loosened(old: Any, new: Any) -> bool:
    """A cap (None = no limit) is loosened when removed or raised."""
    return old is not None and (new is None or new > old)


def loosened_fields(old: RiskLimits, new: RiskLimits, keys: Iterable[InstrumentKey], exchange: Exchange) -> list[str]:
    """Every limit ``new`` makes less strict than ``old`` (per served instrument, effective values)."""
    out = [f for f in _ACCOUNT_CAPS if _cap_loosened(getattr(old, f), getattr(new, f))]
    if old.enabled and not new.enabled:
        out.append("enabled")
    if new.concentration_min_gross > old.concentration_min_gross:
        out.append("concentration_min_gross")
    if old.drawdown_action is DrawdownAction.HALTED and new.drawdown_action is DrawdownAction.REDUCING:
        out.append("drawdown_action")
    if new.day_start_utc != old.day_start_utc:
        out.append("day_start_utc")  # moving the day's edge can restart the loss count
    if new.allow_runtime_loosening and not old.allow_runtime_loosening:
        out.append("allow_runtime_loosening")
    served = list(keys)
    old_eff = resolve_limits(old, exchange, served)
    new_eff = resolve_limits(new, exchange, served)
    for key in served:
        for f in _INSTRUMENT_CAPS:
            if _cap_loosened(getattr(old_eff[key], f), getattr(new_eff[key], f)):
                out.append(f"{key}.{f}")
    return out


class RiskGate:
    def __init__(
        self,
        limits: RiskLimits,
        exchange: Exchange,
        keys: Iterable[InstrumentKey],
        inputs: RiskInputs,
        *,
        tally: OpenOrderTally | None = None,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        wall_ns: Callable[[], int] = time.time_ns,
        max_clients: int = 4096,
        max_events: int = 1024,
    ) -> None:
        self.exchange = exchange
        self.keys: tuple[InstrumentKey, ...] = tuple(keys)
        self.inputs = inputs
        self.tally = tally if tally is not None else OpenOrderTally()
        self._mono = clock_ns
        self._wall_ns = wall_ns
        self._max_clients = max_clients
        self.state = TradingState.ACTIVE
        self.state_reason = ""
        self.checked = 0
        self.passed = 0
        self.refused: dict[LimitName, int] = {n: 0 for n in LimitName}
        self.events: deque[RiskEvent] = deque()
        self.max_events = max_events
        self.events_dropped = 0
        self.late_realized = 0  # realised amounts stamped before the current day (not counted)
        self.day_realized = ZERO
        self.high_water_mark: Decimal | None = None
        self.armed = True  # loss and drawdown trips; a forced resume disarms them until the next day
        self._rate_s: SlidingWindow | None = None
        self._rate_m: SlidingWindow | None = None
        self._clients: ClientThrottle | None = None
        self._total: tuple[SlidingWindow, ...] = ()
        self._rules: dict[InstrumentKey, _InstrumentRules] = {}
        self._cells = {k: self.tally.cell(k) for k in self.keys}
        self.limits = limits
        self._eff: dict[InstrumentKey, InstrumentLimits] = {}
        self._priced: dict[InstrumentKey, bool] = {}
        self._unlimited = False  # no limit set: check() applies the trading state only
        self._apply_limits(limits)
        now = self._wall()
        off = limits.day_start_offset_ms
        self.day_start_ms = (now - off) // DAY_MS * DAY_MS + off
        self.day_end_ms = self.day_start_ms + DAY_MS
        self._day_end_ns = self.day_end_ms * 1_000_000

    def _wall(self) -> int:
        return self._wall_ns() // 1_000_000

    # -- limits ---------------------------------------------------------------------------
    def _apply_limits(self, limits: RiskLimits) -> None:
        eff = resolve_limits(limits, self.exchange, self.keys)
        self.limits = limits
        self._eff = eff
        lev = limits.max_leverage is not None
        self._priced = {k: lev or any(getattr(lim, f) is not None for f in _PRICED) for k, lim in eff.items()}
        self._rate_s = _resized(self._rate_s, limits.orders_per_second, SECOND_NS)
        self._rate_m = _resized(self._rate_m, limits.orders_per_minute, MINUTE_NS)
        self._total = tuple(w for w in (self._rate_s, self._rate_m) if w is not None)
        self._rules = {
            k: _InstrumentRules(
                eff[k], self._priced[k], self._cells[k], tuple((o, self._cells[o]) for o in self.keys if o != k)
            )
            for k in self.keys
        }
        ps, pm = limits.client_orders_per_second, limits.client_orders_per_minute
        old = self._clients
        if ps is None and pm is None:
            self._clients = None
        elif old is None or (old.per_second, old.per_minute) != (ps, pm):
            fresh = ClientThrottle(ps, pm, max_clients=self._max_clients)
            if old is not None:
                for client, w in old._clients.items():  # keep each client's history: still exact
                    nw = fresh.windows(client, self._mono())
                    if nw is not None:
                        nw.replace(_resized(w.second, ps, SECOND_NS), _resized(w.minute, pm, MINUTE_NS))
            self._clients = fresh
        self._unlimited = _sets_nothing(limits, eff)

    def effective_limits(self, key: InstrumentKey) -> InstrumentLimits:
        return self._eff.get(key) or self.limits.defaults

    def replace_limits(self, new: RiskLimits, *, by: str = "admin") -> list[str]:
        """Admin: switch to ``new`` limits at run time. Returns the names of the loosened limits
        (empty when only tightened). Loosening is refused (:class:`RiskChangeRefused`) unless the
        current limits say ``allow_runtime_loosening``; a config that does not resolve is a
        :class:`RiskConfigError`. Throttle history is kept, so a tightened rate is exact at once."""
        resolve_limits(new, self.exchange, self.keys)
        loosened = loosened_fields(self.limits, new, self.keys, self.exchange)
        if loosened and not self.limits.allow_runtime_loosening:
            raise RiskChangeRefused(
                f"loosening {', '.join(loosened)} at run time is not allowed "
                "(allow_runtime_loosening = false; change the config and restart)"
            )
        if new == self.limits:
            return []
        moved_day = new.day_start_utc != self.limits.day_start_utc
        self._apply_limits(new)
        if moved_day:  # the day's numbers stay (never forgiven by moving the edge); only the edges move
            now = self._wall()
            off = new.day_start_offset_ms
            self.day_start_ms = (now - off) // DAY_MS * DAY_MS + off
            self.day_end_ms = self.day_start_ms + DAY_MS
            self._day_end_ns = self.day_end_ms * 1_000_000
        self._emit(RiskEvent(kind=RiskEventKind.LIMITS, state=self.state, reason=f"limits changed by {by}"))
        self.observe()
        return loosened

    def set_limit(self, field: str, value: str | None, instrument: str = "", *, by: str = "admin") -> RiskLimits:
        """Admin: one limit. ``instrument`` ("perp:BTCUSDT") targets that instrument's table;
        ``defaults.<field>`` the defaults; otherwise an account-wide field. ``value`` is the
        TOML value as text; None or "" removes the limit. Returns the new limits."""
        raw: dict[str, Any] = msgspec.to_builtins(self.limits)
        val: Any = value if value not in (None, "") else None
        if instrument:
            key = instrument_key_for(instrument, self.exchange)
            if key not in self.keys:
                raise RiskConfigError(f"{instrument}: not an instrument this runner serves")
            name = next((n for n in self.limits.instruments if instrument_key_for(n, self.exchange) == key), str(key))
            table = raw["instruments"].setdefault(name, {})
            target, fname, where = table, field, f'instruments."{name}".{field}'
            known: tuple[str, ...] = _INSTRUMENT_CAPS
        elif field.startswith("defaults."):
            target, fname, where = raw["defaults"], field.split(".", 1)[1], field
            known = _INSTRUMENT_CAPS
        else:
            target, fname, where = raw, field, field
            known = tuple(f for f in RiskLimits.__struct_fields__ if f not in ("defaults", "instruments"))
        if fname not in known:
            raise RiskConfigError(f"risk.{where}: unknown limit {fname!r}")
        if val is None:
            target.pop(fname, None)
        else:
            target[fname] = val
        new = parse_risk_section(raw)
        self.replace_limits(new, by=by)
        return self.limits

    # -- trading state --------------------------------------------------------------------
    def set_state(
        self, state: TradingState, reason: str = "", *, force: bool = False, by: str = "admin"
    ) -> TradingState:
        """Admin: switch the trading state; returns the previous one. Going to a less strict state
        while the day's loss or drawdown limit is breached is refused unless ``force``. When the
        new state is HALTED the caller cancels every open order."""
        prev = self.state
        if _SEVERITY[state] < _SEVERITY[prev]:
            breach = self._loss_breach()
            if breach is not None:
                if not force:
                    raise RiskChangeRefused(f"cannot leave {prev.value}: {breach.one_line()} (force to override)")
                self.armed = False
                note = f"forced past {breach.limit.value}, loss trips disarmed until the next day"
                reason = f"{reason}; {note}" if reason else note
        self._switch(state, f"{by}: {reason}" if reason else by)
        return prev

    def _switch(self, state: TradingState, reason: str, breach: RiskBreach | None = None) -> None:
        prev = self.state
        if state is prev and not breach:
            return
        self.state = state
        self.state_reason = reason
        self._emit(
            RiskEvent(
                kind=RiskEventKind.STATE,
                state=state,
                previous_state=prev,
                reason=reason,
                breach=breach,
                ts_ms=self._wall(),
            )
        )

    def _trip(self, state: TradingState, breach: RiskBreach) -> None:
        if self.armed and _SEVERITY[state] > _SEVERITY[self.state]:
            self._switch(state, f"tripped: {breach.limit.value}", breach)

    def _loss_breach(self) -> RiskBreach | None:
        lim = self.limits
        if lim.daily_loss_limit is not None and -self.day_realized >= lim.daily_loss_limit:
            return RiskBreach(
                limit=LimitName.DAILY_LOSS,
                key=None,
                limit_value=lim.daily_loss_limit,
                requested=-self.day_realized,
                current=-self.day_realized,
                detail="realised loss today",
            )
        if lim.max_drawdown is not None and self.high_water_mark is not None:
            eq = self.inputs.equity()
            if eq is not None and self.high_water_mark - eq >= lim.max_drawdown:
                dd = self.high_water_mark - eq
                return RiskBreach(
                    limit=LimitName.DRAWDOWN,
                    key=None,
                    limit_value=lim.max_drawdown,
                    requested=dd,
                    current=dd,
                    detail=f"equity {eq}, high-water mark {self.high_water_mark}",
                )
        return None

    # -- PnL and the trading day ----------------------------------------------------------
    def _roll(self, now_ms: int) -> None:
        off = self.limits.day_start_offset_ms
        self.day_start_ms = (now_ms - off) // DAY_MS * DAY_MS + off
        self.day_end_ms = self.day_start_ms + DAY_MS
        self._day_end_ns = self.day_end_ms * 1_000_000
        self.day_realized = ZERO
        self.high_water_mark = self.inputs.equity()
        self.armed = True
        self._emit(
            RiskEvent(kind=RiskEventKind.DAY, state=self.state, reason="new trading day", ts_ms=now_ms),
        )

    def record_realized(self, amount: Decimal, ts_ms: int) -> None:
        """A realised PnL amount (fill's realised PnL net of fees, quote currency), stamped with the
        fill's time. It counts toward the trading day containing ``ts_ms``; an amount from before
        the current day is not counted (``late_realized`` counts those). May trip HALTED."""
        if ts_ms >= self.day_end_ms:
            self._roll(ts_ms)
        if ts_ms < self.day_start_ms:
            self.late_realized += 1
            return
        self.day_realized += amount
        limit = self.limits.daily_loss_limit
        if limit is not None and -self.day_realized >= limit:
            self._trip(
                TradingState.HALTED,
                RiskBreach(
                    limit=LimitName.DAILY_LOSS,
                    key=None,
                    limit_value=limit,
                    requested=-self.day_realized,
                    current=-(self.day_realized - amount),
                    detail="realised loss today",
                ),
            )

    def observe(self) -> None:
        """Re-read equity: roll the day, raise the high-water mark, trip on drawdown or loss.
        The runner calls it on account updates (and may on a timer) so limits trip without orders."""
        now = self._wall()
        if now >= self.day_end_ms:
            self._roll(now)
        lim = self.limits
        if lim.max_drawdown is not None:
            self._drawdown(self.inputs.equity())
        if lim.daily_loss_limit is not None and -self.day_realized >= lim.daily_loss_limit:
            breach = self._loss_breach()
            if breach is not None:
                self._trip(TradingState.HALTED, breach)

    def _drawdown(self, eq: Decimal | None) -> RiskBreach | None:
        """Update the high-water mark with ``eq``; the breach if the drawdown limit is reached (and trip)."""
        if eq is None:
            return None
        hwm = self.high_water_mark
        if hwm is None or eq > hwm:
            self.high_water_mark = eq
            return None
        limit = self.limits.max_drawdown
        if limit is None or hwm - eq < limit:
            return None
        breach = RiskBreach(
            limit=LimitName.DRAWDOWN,
            key=None,
            limit_value=limit,
            requested=hwm - eq,
            current=hwm - eq,
            detail=f"equity {eq}, high-water mark {hwm}",
        )
        self._trip(TradingState(self.limits.drawdown_action.value), breach)
        return breach

    # -- the check ------------------------------------------------------------------------
    def _refuse(
        self,
        limit: LimitName,
        key: InstrumentKey | None,
        limit_value: Decimal,
        requested: Decimal,
        current: Decimal,
        req: OrderRequest,
        client: str,
        detail: str = "",
    ) -> RiskRejected:
        breach = RiskBreach(
            limit=limit, key=key, limit_value=limit_value, requested=requested, current=current, detail=detail
        )
        self.refused[limit] += 1
        self._emit(
            RiskEvent(
                kind=RiskEventKind.REFUSED,
                state=self.state,
                breach=breach,
                client=client,
                client_order_id=req.client_id,
                ts_ms=self._wall(),
            )
        )
        return RiskRejected(breach)

    def check(self, req: OrderRequest, client: str = "") -> None:
        """Let ``req`` through (return) or refuse it (:class:`RiskRejected`). ``client`` names the
        sender for the per-client throttle (its ZMQ identity or CURVE key, as text).

        One pass, in order: drawdown, trading state, rates, open orders, the order itself,
        exposure; the first limit hit refuses. The order path: keep it allocation-light. Decimal
        comparisons instead of divisions, the reduce rule of :func:`reduces_exposure` inlined (a
        test holds them equal)."""
        self.checked += 1
        limits = self.limits
        if not limits.enabled:
            self._state_only(req, client)
            return
        if self._wall_ns() >= self._day_end_ns:
            self._roll(self._wall())
        if self._unlimited:  # no limit set (no [risk] table: every runner's default): the state only
            self._state_only(req, client)
            return
        key = req.key
        qty = req.qty
        buy = req.side is Side.BUY
        rules = self._rules.get(key)
        if rules is None:  # not an instrument of this runner (the runner refuses those first)
            rules = _InstrumentRules(limits.defaults, True, [ZERO, ZERO], tuple(self._cells.items()))
        pos = self.inputs.position(key)
        open_same = rules.cell[0] if buy else rules.cell[1]
        if not pos or (pos > 0) == buy:
            reducing = False
        elif req.reduce_only and key.kind is MarketKind.PERP:
            reducing = True
        else:
            reducing = qty + open_same <= (pos if pos > 0 else -pos)
        equity = self._check_drawdown(req, client, reducing)
        self._check_state(req, client, reducing, pos, open_same)
        now, mine = self._check_rates(req, client)
        self._check_open_orders(req, client)
        ref = self._check_order(req, client, rules)
        if not reducing:
            self._check_position(req, client, rules, ref, pos, open_same, equity)
        # admitted
        if self._total:
            admit_all(self._total, now)
        if mine:
            admit_all(mine, now)
        self.passed += 1

    def _check_drawdown(self, req: OrderRequest, client: str, reducing: bool) -> Decimal | None:
        """The account's equity when a limit needs it; refuses while a drawdown trip holds."""
        limits = self.limits
        if limits.max_drawdown is None and limits.max_leverage is None:
            return None
        equity = self.inputs.equity()
        hwm = self.high_water_mark
        if (
            limits.max_drawdown is not None
            and equity is not None
            and (hwm is None or equity > hwm or hwm - equity >= limits.max_drawdown)
        ):
            dd = self._drawdown(equity)
            if (
                dd is not None
                and self.armed
                and self.state is not TradingState.ACTIVE
                and (self.state is TradingState.HALTED or not reducing)
            ):
                raise self._refuse(
                    LimitName.DRAWDOWN, None, dd.limit_value, dd.requested, dd.current, req, client, dd.detail
                )
        return equity

    def _check_state(self, req: OrderRequest, client: str, reducing: bool, pos: Decimal, open_same: Decimal) -> None:
        """1. trading state: HALTED refuses everything, REDUCING what does not reduce."""
        state = self.state
        if state is TradingState.ACTIVE:
            return
        if state is TradingState.HALTED:
            raise self._refuse(LimitName.TRADING_STATE, req.key, ZERO, req.qty, ZERO, req, client, "halted")
        if not reducing:
            raise self._refuse(
                LimitName.TRADING_STATE,
                req.key,
                abs(pos),
                req.qty + open_same,
                abs(pos),
                req,
                client,
                "reducing: only orders that reduce the position",
            )

    def _check_rates(self, req: OrderRequest, client: str) -> tuple[int, tuple[SlidingWindow, ...]]:
        """2. rate: all clients' windows, then the sender's; (now, the sender's windows) to admit."""
        clients = self._clients
        total = self._total
        now = self._mono() if total or clients is not None else 0
        if total:
            full = first_full(total, now)
            if full is not None:
                name = LimitName.RATE_PER_SECOND if full.window_ns == SECOND_NS else LimitName.RATE_PER_MINUTE
                raise self._refuse(name, None, *_full(full, now), req, client)
        if clients is None:
            return now, ()
        cw = clients.windows(client, now)
        if cw is None:
            n = Decimal(clients.max_clients)
            raise self._refuse(
                LimitName.CLIENT_RATE_PER_MINUTE, None, n, n + 1, n, req, client, "too many active clients"
            )
        mine = cw.all
        full = first_full(mine, now)
        if full is not None:
            name = LimitName.CLIENT_RATE_PER_SECOND if full.window_ns == SECOND_NS else LimitName.CLIENT_RATE_PER_MINUTE
            raise self._refuse(name, None, *_full(full, now), req, client)
        return now, mine

    def _check_open_orders(self, req: OrderRequest, client: str) -> None:
        """3. open orders."""
        max_open = self.limits.max_open_orders
        if max_open is not None:
            count = len(self.tally._orders)
            if count >= max_open:
                raise self._refuse(
                    LimitName.MAX_OPEN_ORDERS, None, Decimal(max_open), Decimal(count + 1), Decimal(count), req, client
                )

    def _check_order(self, req: OrderRequest, client: str, rules: _InstrumentRules) -> Decimal | None:
        """4. the order itself: size, then (when a limit is priced) the reference price, the
        price collar and the notional; the reference price, or None when nothing is priced."""
        key, qty, lim = req.key, req.qty, rules.limits
        if lim.max_order_qty is not None and qty > lim.max_order_qty:
            raise self._refuse(LimitName.MAX_ORDER_QTY, key, lim.max_order_qty, qty, ZERO, req, client)
        if not rules.priced:
            return None
        inputs = self.inputs
        ref = inputs.reference_price(key)
        if ref is None or ref <= 0:
            raise self._refuse(
                LimitName.REFERENCE_PRICE, key, ZERO, ZERO, ZERO, req, client, "no fresh reference price"
            )
        if req.type is OrderType.MARKET:
            px = inputs.touch_price(key, req.side)
            if px is None:
                raise self._refuse(
                    LimitName.REFERENCE_PRICE,
                    key,
                    ZERO,
                    ZERO,
                    ref,
                    req,
                    client,
                    f"no {'ask' if req.side is Side.BUY else 'bid'} on the book for a market {req.side.value}",
                )
        elif req.price is None:
            raise self._refuse(
                LimitName.REFERENCE_PRICE, key, ZERO, ZERO, ref, req, client, "limit order without a price"
            )
        else:
            px = req.price
        collar = lim.price_collar
        if collar is not None and abs(px - ref) > ref * collar:
            edge = ref * (1 + collar) if px > ref else ref * (1 - collar)
            raise self._refuse(
                LimitName.PRICE_COLLAR, key, edge, px, ref, req, client, f"band {collar} around the reference"
            )
        if lim.max_order_notional is not None:
            notional = qty * px
            if notional > lim.max_order_notional:
                raise self._refuse(
                    LimitName.MAX_ORDER_NOTIONAL, key, lim.max_order_notional, notional, ZERO, req, client
                )
        return ref

    def _check_position(
        self,
        req: OrderRequest,
        client: str,
        rules: _InstrumentRules,
        ref: Decimal | None,
        pos: Decimal,
        open_same: Decimal,
        equity: Decimal | None,
    ) -> None:
        """5. exposure, for an order that does not reduce it: position size and notional, open
        positions, leverage and concentration."""
        key, qty, lim, limits = req.key, req.qty, rules.limits, self.limits
        buy = req.side is Side.BUY
        if buy:
            before = abs(pos + open_same)
            after = abs(pos + open_same + qty)
        else:
            before = abs(pos - open_same)
            after = abs(pos - open_same - qty)
        if lim.max_position_qty is not None and after > lim.max_position_qty:
            raise self._refuse(LimitName.MAX_POSITION_QTY, key, lim.max_position_qty, after, before, req, client)
        if lim.max_position_notional is not None:
            assert ref is not None
            if after * ref > lim.max_position_notional:
                raise self._refuse(
                    LimitName.MAX_POSITION_NOTIONAL,
                    key,
                    lim.max_position_notional,
                    after * ref,
                    before * ref,
                    req,
                    client,
                )
        if limits.max_open_positions is not None and not pos:
            position = self.inputs.position
            n_open = sum(1 for k in self.keys if position(k))
            if n_open >= limits.max_open_positions:
                raise self._refuse(
                    LimitName.MAX_OPEN_POSITIONS,
                    key,
                    Decimal(limits.max_open_positions),
                    Decimal(n_open + 1),
                    Decimal(n_open),
                    req,
                    client,
                )
        if limits.max_leverage is not None or lim.max_concentration is not None:
            assert ref is not None
            self._exposure(req, client, rules, ref, pos, open_same, qty, buy, equity)

    def _state_only(self, req: OrderRequest, client: str) -> None:
        """``enabled = false`` or no limit set: only the trading state (halt, reduce, kill switch) holds."""
        if self.state is not TradingState.ACTIVE:
            key = req.key
            pos = self.inputs.position(key)
            cell = self._cells.get(key) or [ZERO, ZERO]
            open_same = cell[0] if req.side is Side.BUY else cell[1]
            reducing = reduces_exposure(key.kind, pos, req.side, req.qty, req.reduce_only, open_same)
            self._check_state(req, client, reducing, pos, open_same)
        self.passed += 1

    def _exposure(
        self,
        req: OrderRequest,
        client: str,
        rules: _InstrumentRules,
        ref: Decimal,
        pos: Decimal,
        open_same: Decimal,
        qty: Decimal,
        buy: bool,
        equity: Decimal | None,
    ) -> None:
        """Leverage and concentration on worst-case exposures (each instrument: the larger of its
        position with every open buy filled and with every open sell filled)."""
        inputs = self.inputs
        position = inputs.position
        reference = inputs.reference_price
        other = ZERO
        for k, cell in rules.others:
            p = position(k)
            long_ = p + cell[0]
            short = cell[1] - p
            # max(|p + buys|, |p - sells|) = max(long_, short), because long_ + short = buys + sells >= 0
            w = long_ if long_ > short else short
            if w:
                r = reference(k)
                if r is None:
                    raise self._refuse(
                        LimitName.REFERENCE_PRICE,
                        k,
                        ZERO,
                        ZERO,
                        ZERO,
                        req,
                        client,
                        "no fresh reference to value exposure",
                    )
                other += w * r
        open_other = rules.cell[1] if buy else rules.cell[0]
        if buy:  # the same identity: max(|p + buys|, |p - sells|) = max(p + buys, sells - p)
            far = open_other - pos
            near = pos + open_same
            grown = near + qty
        else:
            far = pos + open_other
            near = open_same - pos
            grown = near + qty
        w_before = near if near > far else far
        w_after = grown if grown > far else far
        mine = w_after * ref
        gross = other + mine
        max_lev = self.limits.max_leverage
        if max_lev is not None:
            if equity is None or equity <= 0:
                raise self._refuse(
                    LimitName.MAX_LEVERAGE,
                    None,
                    max_lev,
                    gross,
                    ZERO,
                    req,
                    client,
                    f"equity unknown or not positive ({equity})",
                )
            if gross > max_lev * equity:
                raise self._refuse(
                    LimitName.MAX_LEVERAGE,
                    None,
                    max_lev,
                    _ratio(gross, equity),
                    _ratio(other + w_before * ref, equity),
                    req,
                    client,
                    f"gross exposure {gross}, equity {equity}",
                )
        share = rules.limits.max_concentration
        if share is not None and gross > self.limits.concentration_min_gross and mine > share * gross:
            before_gross = other + w_before * ref
            raise self._refuse(
                LimitName.CONCENTRATION,
                req.key,
                share,
                _ratio(mine, gross),
                _ratio(w_before * ref, before_gross) if before_gross else ZERO,
                req,
                client,
                f"exposure {mine} of gross {gross}",
            )

    # -- events and status ----------------------------------------------------------------
    def _emit(self, event: RiskEvent) -> None:
        """Overflow policy: when the outbox is full the oldest *refusal* is dropped (counted in
        ``events_dropped``); state, limits and day events are never dropped (they are few: one per
        admin call or trip), so the outbox may exceed ``max_events`` only by those."""
        events = self.events
        if len(events) >= self.max_events:
            for i, old in enumerate(events):
                if old.kind is RiskEventKind.REFUSED:
                    del events[i]
                    self.events_dropped += 1
                    break
        events.append(event)

    def drain_events(self) -> list[RiskEvent]:
        """Everything the gate has to say since the last drain, oldest first (publish each)."""
        if not self.events:
            return []
        out = list(self.events)
        self.events.clear()
        return out

    def status(self) -> RiskStatus:
        """A full picture for ``runner risk show`` (reads every input; not for the order path)."""
        inputs = self.inputs
        rows: list[InstrumentRisk] = []
        gross: Decimal | None = ZERO
        for k in self.keys:
            p = inputs.position(k)
            ob = self.tally.open_qty(k, Side.BUY)
            os_ = self.tally.open_qty(k, Side.SELL)
            r = inputs.reference_price(k)
            w = max(abs(p + ob), abs(p - os_))
            exposure = w * r if r is not None else None
            if gross is not None:
                gross = gross + exposure if exposure is not None else (gross if not w else None)
            rows.append(
                InstrumentRisk(
                    key=k,
                    position=p,
                    open_buy_qty=ob,
                    open_sell_qty=os_,
                    reference_price=r,
                    exposure=exposure,
                    limits=self.effective_limits(k),
                )
            )
        now = self._mono()
        return RiskStatus(
            exchange=self.exchange,
            enabled=self.limits.enabled,
            state=self.state,
            state_reason=self.state_reason,
            limits=self.limits,
            instruments=tuple(rows),
            day_start_ms=self.day_start_ms,
            day_realized_pnl=self.day_realized,
            equity=inputs.equity(),
            high_water_mark=self.high_water_mark,
            gross_exposure=gross,
            open_orders=self.tally.open_order_count(),
            open_positions=sum(1 for k in self.keys if inputs.position(k)),
            orders_last_second=self._rate_s.count(now) if self._rate_s is not None else 0,
            orders_last_minute=self._rate_m.count(now) if self._rate_m is not None else 0,
            checked=self.checked,
            passed=self.passed,
            refused={n.value: c for n, c in self.refused.items()},
            ts_ms=self._wall(),
        )


class _InstrumentRules:
    """What the order path needs of one instrument, found with one lookup."""

    __slots__ = ("limits", "priced", "cell", "others")

    def __init__(
        self,
        limits: InstrumentLimits,
        priced: bool,
        cell: list[Decimal],
        others: tuple[tuple[InstrumentKey, list[Decimal]], ...],
    ) -> None:
        self.limits = limits
        self.priced = priced
        self.cell = cell  # [open buy qty, open sell qty]
        self.others = others  # every other instrument with its cell


def _resized(old: SlidingWindow | None, limit: int | None, window_ns: int) -> SlidingWindow | None:
    """A window of ``limit`` that remembers ``old``'s most recent admissions (None = no limit)."""
    if limit is None:
        return None
    if old is not None and old.limit == limit:
        return old
    new = SlidingWindow(limit, window_ns)
    if old is not None:
        n = old.limit
        recent = [old._ring[(old._i + j) % n] for j in range(n)]  # oldest → newest
        for t in recent[-limit:]:
            new.admit(t)
    return new


def _full(window: SlidingWindow, now: int) -> tuple[Decimal, Decimal, Decimal]:
    n = window.count(now)
    return Decimal(window.limit), Decimal(n + 1), Decimal(n)


def _ratio(a: Decimal, b: Decimal) -> Decimal:
    return (a / b).quantize(Decimal("0.000001")) if b else ZERO
