"""Runs the manual REPL's commands against a runner through the blocking CoreApi.

:class:`ManualSession` takes a parsed command (:mod:`.commands`), makes the calls, and hands
the text to print to ``emit``; a failure is raised (the REPL prints it as one ``error:`` line).
Orders are fitted to the instrument's filters with
:func:`~strategy_client.model.rounding.fit_order` first: every rounding is printed before the
order is sent, and an order no rounding can make pass is refused with the filter's message.
Every order gets a client id before it is sent, so one whose outcome is unknown (timeout,
runner lost mid-call) can be looked up by that id.
"""

from __future__ import annotations

import difflib
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Protocol

import msgspec

from strategy_client.errors import CoreApiError, OutcomeUnknown, RequestTimeout, RunnerUnavailable
from strategy_client.model import (
    AccountSnapshot,
    Exchange,
    FittedOrder,
    FundingRate,
    Instrument,
    InstrumentKey,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    RiskEvent,
    RiskEventKind,
    Side,
    TradingState,
    fit_order,
)
from strategy_client.model.order import new_client_id
from strategy_client.wire import BookSnapshotReply, PriceSource, ReferencePrice, TradingStateReply
from strategy_client.wire.risk import RiskStatus

from . import render
from .commands import (
    Balance,
    Book,
    Cancel,
    CancelAll,
    Command,
    Funding,
    Halt,
    Help,
    Leverage,
    Orders,
    PlaceOrder,
    Positions,
    Price,
    Quit,
    Reduce,
    Resume,
    Risk,
    format_instrument,
    help_text,
)
from .errors import SessionError, describe_error

__all__ = ["TradingApi", "ManualSession", "rounding_notes", "CLIENT_ID_PREFIX"]

CLIENT_ID_PREFIX = "man"
#: Client ids of this session's own recent orders: their refusals are already its error lines.
OWN_IDS_KEPT = 256


class TradingApi(Protocol):
    """The blocking CoreApi calls the REPL makes (``strategy_client.connect()`` provides them)."""

    def submit_order(self, order: OrderRequest, *, timeout_s: float | None = None) -> Order: ...

    def get_order(
        self, key: InstrumentKey, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order: ...

    def cancel_order(
        self, key: InstrumentKey, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order: ...

    def get_open_orders(
        self, target: Exchange | InstrumentKey, *, timeout_s: float | None = None
    ) -> tuple[Order, ...]: ...

    def get_all_positions(self, exchange: Exchange, *, timeout_s: float | None = None) -> tuple[Position, ...]: ...

    def get_account_snapshot(self, exchange: Exchange, *, timeout_s: float | None = None) -> AccountSnapshot: ...

    def get_all_instruments(self, exchange: Exchange, *, timeout_s: float | None = None) -> tuple[Instrument, ...]: ...

    def get_book_snapshot(self, target: InstrumentKey, *, timeout_s: float | None = None) -> BookSnapshotReply: ...

    def get_reference_price(
        self, key: InstrumentKey, source: PriceSource = PriceSource.MID, *, timeout_s: float | None = None
    ) -> ReferencePrice: ...

    def get_funding_rate(self, key: InstrumentKey, *, timeout_s: float | None = None) -> FundingRate: ...

    def set_leverage(self, key: InstrumentKey, leverage: int, *, timeout_s: float | None = None) -> int: ...

    def get_risk_status(self, exchange: Exchange, *, timeout_s: float | None = None) -> RiskStatus: ...

    def set_trading_state(
        self,
        exchange: Exchange,
        state: TradingState,
        *,
        reason: str = "",
        force: bool = False,
        timeout_s: float | None = None,
    ) -> TradingStateReply: ...


def rounding_notes(inst: Instrument, command: PlaceOrder, fitted: FittedOrder) -> list[str]:
    """What :func:`fit_order` changed, in words (``qty 0.0123 → 0.012 (step 0.001)``)."""
    notes: list[str] = []
    if fitted.qty != command.qty:
        step, _, hi = (
            inst.market_filters() if command.type is OrderType.MARKET else (inst.step_size, inst.min_qty, inst.max_qty)
        )
        why = f"max {render.dec(hi)}" if hi > 0 and command.qty > hi else f"step {render.dec(step)}"
        notes.append(f"qty {render.dec(command.qty)} → {render.dec(fitted.qty)} ({why})")
    if command.price is not None and fitted.price is not None and fitted.price != command.price:
        way = "down" if command.side is Side.BUY else "up"
        notes.append(
            f"price {render.dec(command.price)} → {render.dec(fitted.price)} "
            f"(tick {render.dec(inst.tick_size)}, a {command.side.value} rounds {way})"
        )
    return notes


class ManualSession:
    """One exchange's REPL state: the instrument list (for checks and completion) and the calls."""

    def __init__(
        self,
        api: TradingApi,
        exchange: Exchange,
        *,
        timeout_s: float | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.api = api
        self.exchange = exchange
        self.timeout_s = timeout_s
        self._clock_ms = clock_ms
        self._instruments: dict[InstrumentKey, Instrument] | None = None
        #: the runner's risk events received since the last command (``strategy manual`` subscribes)
        self.risk_events: Callable[[], Iterable[RiskEvent]] | None = None
        self._own_ids: deque[str] = deque(maxlen=OWN_IDS_KEPT)

    # -- instruments ------------------------------------------------------------------------
    def instruments(self, *, refresh: bool = False) -> dict[InstrumentKey, Instrument]:
        if self._instruments is None or refresh:
            found = self.api.get_all_instruments(self.exchange, timeout_s=self.timeout_s)
            self._instruments = {inst.key: inst for inst in found}
        return self._instruments

    def cached_instruments(self) -> dict[InstrumentKey, Instrument]:
        """The instruments known so far, without a call (for tab completion)."""
        return self._instruments or {}

    def instrument(self, key: InstrumentKey) -> Instrument:
        """The instrument, re-reading the list once when it is not known; else a clear error."""
        inst = self.instruments().get(key)
        if inst is None:
            inst = self.instruments(refresh=True).get(key)
        if inst is None:
            raise SessionError(self._unknown(key))
        return inst

    def _unknown(self, key: InstrumentKey) -> str:
        known = self.cached_instruments()
        same_kind = sorted(k.symbol for k in known if k.kind is key.kind)
        other = [k for k in known if k.symbol == key.symbol and k.kind is not key.kind]
        if other:
            hint = f"; {key.symbol} is listed as {other[0].kind.value}: {format_instrument(other[0], self.exchange)}"
        else:
            close = difflib.get_close_matches(key.symbol, same_kind, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"unknown instrument {key} ({len(same_kind)} {key.kind.value} instruments listed){hint}"

    def open_order_ids(self, key: InstrumentKey | None) -> list[str]:
        orders = self.api.get_open_orders(key or self.exchange, timeout_s=min(self.timeout_s or 2.0, 2.0))
        return sorted(o.client_id for o in orders)

    # -- commands ---------------------------------------------------------------------------
    def execute(self, command: Command, emit: Callable[[str], None]) -> None:
        """Run ``command``; its output goes to ``emit``; a failure raises."""
        match command:
            case Book():
                self._book(command, emit)
            case Price(key, source):
                self.instrument(key)
                emit(render.render_price(self.api.get_reference_price(key, source, timeout_s=self.timeout_s)))
            case Funding(key):
                self.instrument(key)
                funding = self.api.get_funding_rate(key, timeout_s=self.timeout_s)
                emit(render.render_funding(funding, self._clock_ms()))
            case PlaceOrder():
                self._place(command, emit)
            case Cancel(key, client_id):
                self.instrument(key)
                emit(render.render_order(self.api.cancel_order(key, client_id=client_id, timeout_s=self.timeout_s)))
            case CancelAll(key):
                self._cancel_all(key, emit)
            case Orders(key):
                if key is not None:
                    self.instrument(key)
                emit(render.render_orders(self.api.get_open_orders(key or self.exchange, timeout_s=self.timeout_s)))
            case Positions():
                positions = self.api.get_all_positions(self.exchange, timeout_s=self.timeout_s)
                emit(render.render_positions([self._marked(p) for p in positions]))
            case Balance():
                emit(render.render_balance(self.api.get_account_snapshot(self.exchange, timeout_s=self.timeout_s)))
            case Leverage(key, leverage):
                self.instrument(key)
                applied = self.api.set_leverage(key, leverage, timeout_s=self.timeout_s)
                emit(render.render_leverage(key, leverage, applied))
            case Halt(reason):
                self._set_state(TradingState.HALTED, reason or "manual halt", False, emit)
            case Reduce(reason):
                self._set_state(TradingState.REDUCING, reason or "manual reduce", False, emit)
            case Resume(force, reason):
                self._set_state(TradingState.ACTIVE, reason or "manual resume", force, emit)
            case Risk():
                emit(render.render_risk(self.api.get_risk_status(self.exchange, timeout_s=self.timeout_s)))
            case Help(topic):
                emit(help_text(topic))
            case Quit():
                pass

    def _marked(self, position: Position) -> Position:
        """The position at the runner's current mark price, its unrealised PnL recomputed from it
        (``size × (mark − entry)``, linear contracts): the position the runner holds carries the
        mark and PnL of the venue's last report, which can be seconds to minutes old. Without a
        mark price (none received yet) the position is shown as the venue reported it."""
        if position.is_flat:
            return position
        try:
            mark = self.api.get_reference_price(position.key, PriceSource.MARK, timeout_s=self.timeout_s).price
        except CoreApiError:
            return position
        pnl = position.size * (mark - position.entry_price)
        return msgspec.structs.replace(position, mark_price=mark, unrealized_pnl=pnl)

    def _set_state(self, state: TradingState, reason: str, force: bool, emit: Callable[[str], None]) -> None:
        reply = self.api.set_trading_state(self.exchange, state, reason=reason, force=force, timeout_s=self.timeout_s)
        emit(render.render_trading_state(reply))

    def notices(self, emit: Callable[[str], None]) -> None:
        """Print the runner's risk events received since the last call, one line each (a refusal
        of this session's own order is skipped: its command already printed it as an error)."""
        if self.risk_events is None:
            return
        for event in self.risk_events():
            if event.kind is RiskEventKind.REFUSED and event.client_order_id in self._own_ids:
                continue
            emit(render.render_risk_event(event))

    def _book(self, command: Book, emit: Callable[[str], None]) -> None:
        self.instrument(command.key)
        snapshot = self.api.get_book_snapshot(command.key, timeout_s=self.timeout_s)
        books = [b for b in snapshot.books if b.key == command.key]
        if not books:
            raise SessionError(f"no book for {command.key} yet: the runner has not received one")
        emit(render.render_book(books[0], command.depth))

    def _reference(self, key: InstrumentKey) -> Decimal | None:
        """Mid price to value a MARKET order for the notional filter (None: the venue checks)."""
        try:
            return self.api.get_reference_price(key, PriceSource.MID, timeout_s=self.timeout_s).price
        except CoreApiError:
            return None

    def _place(self, command: PlaceOrder, emit: Callable[[str], None]) -> None:
        inst = self.instrument(command.key)
        if not inst.is_trading:
            raise SessionError(f"order not sent — {command.key} is {inst.status.value}, not trading")
        reference = self._reference(command.key) if command.type is OrderType.MARKET else None
        fitted = fit_order(
            inst,
            command.side,
            command.type,
            command.qty,
            command.price,
            reference_price=reference,
            reduce_only=command.reduce_only,
        )
        for note in rounding_notes(inst, command, fitted):
            emit(f"note: {note}")
        client_id = command.client_id or new_client_id(CLIENT_ID_PREFIX)
        self._own_ids.append(client_id)
        request = OrderRequest(
            key=command.key,
            side=command.side,
            type=command.type,
            qty=fitted.qty,
            price=fitted.price,
            tif=command.tif,
            reduce_only=command.reduce_only,
            client_id=client_id,
        )
        try:
            order = self.api.submit_order(request, timeout_s=self.timeout_s)
        except (RequestTimeout, OutcomeUnknown, RunnerUnavailable) as exc:
            look = f"orders {format_instrument(command.key, self.exchange)}"
            raise SessionError(
                f"{describe_error(exc)} — order {client_id} may or may not be live: check with '{look}' "
                "(listed as UNKNOWN until the venue says; do not resend)"
            ) from exc
        if order.filled_qty > 0 and order.avg_price is None:
            order = self._with_avg_price(order)
        if order.status is OrderStatus.REJECTED:
            raise SessionError(f"venue {render.render_order(order)}")
        emit(render.render_order(order))

    def _with_avg_price(self, order: Order) -> Order:
        """The order as the runner knows it now (a submit reply may lack the average price)."""
        try:
            return self.api.get_order(order.key, client_id=order.client_id, timeout_s=self.timeout_s)
        except CoreApiError:
            return order

    def _cancel_all(self, key: InstrumentKey | None, emit: Callable[[str], None]) -> None:
        if key is not None:
            self.instrument(key)
        orders = self.api.get_open_orders(key or self.exchange, timeout_s=self.timeout_s)
        if not orders:
            emit("no open orders to cancel")
            return
        failed = 0
        for order in orders:
            try:
                canceled = self.api.cancel_order(order.key, client_id=order.client_id, timeout_s=self.timeout_s)
                emit(render.render_order(canceled))
            except CoreApiError as exc:
                failed += 1
                emit(f"error: {order.client_id}: {describe_error(exc)}")
        if failed:
            raise SessionError(f"canceled {len(orders) - failed} of {len(orders)} open orders; {failed} failed")
        emit(f"canceled {len(orders)} open order{'s' if len(orders) > 1 else ''}")
