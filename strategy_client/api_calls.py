"""The typed CoreApi methods, written once over one transport hook.

:class:`CoreApiCalls` turns each method into its wire request, hands it to ``_request`` with
the exchange or key that routes it, and checks the reply against the type the command registry
(:mod:`strategy_client.wire.commands`) declares; :meth:`CoreApiCalls.request` serves any command
of the registry the same way, so a new command needs no method here. Subclasses only say how a
request reaches a runner: :class:`~strategy_client.command_client.ZmqCommandClient` sends it on
its socket, :class:`~strategy_client.router.ZmqRouter` picks the runner by exchange first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TypeVar, cast

from .coerce import ExchangeLike, KeyLike, as_enum, as_exchange, as_key, as_market, check_order
from .errors import BadReply, InvalidRequest
from .model import (
    AccountSnapshot,
    Exchange,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    Order,
    OrderRequest,
    Position,
    TradingState,
)
from .telemetry.tracing import client_span
from .wire import (
    COMMANDS,
    MAX_REPLAY_EVENTS,
    BookSnapshotReply,
    CancelOrder,
    EventsReply,
    GapAck,
    GapRange,
    GetAccountSnapshot,
    GetAllInstruments,
    GetAllPositions,
    GetBookSnapshot,
    GetFundingRate,
    GetInstrument,
    GetOpenOrders,
    GetOrder,
    GetPosition,
    GetReferencePrice,
    GetRiskStatus,
    PriceSource,
    Query,
    ReferencePrice,
    ReplayEvents,
    Reply,
    ReportGap,
    Request,
    SetLeverage,
    SetRiskLimit,
    SetTradingState,
    SubmitOrder,
    TradingStateReply,
)
from .wire.risk import RiskStatus

__all__ = ["CoreApiCalls", "Route", "expect"]

Route = InstrumentKey | Exchange
R = TypeVar("R")


def expect(reply: Reply, cls: type[R], request: Request) -> R:
    if isinstance(reply, cls):
        return reply
    method = type(request).__struct_config__.tag
    raise BadReply(f"{method}: expected a {cls.__name__}, the runner sent {type(reply).__name__}")


def _checked(reply: Reply, request: Query[R]) -> R:
    """``reply`` if it is what the registry declares ``request`` is answered with."""
    spec = COMMANDS[type(request)]
    if isinstance(reply, spec.reply):
        return cast(R, reply)
    raise BadReply(f"{spec.method}: expected a {spec.reply.__name__}, the runner sent {type(reply).__name__}")


def _target(value: ExchangeLike | KeyLike, field: str) -> InstrumentKey | Exchange:
    """An exchange name, an Exchange, a key or a key's text form."""
    if isinstance(value, InstrumentKey | Exchange):
        return value
    if isinstance(value, str):
        return as_key(value, field) if ":" in value else as_exchange(value, field)
    raise InvalidRequest(f"{field}: expected an exchange or an instrument key, got {type(value).__name__}")


class CoreApiCalls(ABC):
    """Implements :class:`~strategy_client.core_api.CoreApi`; subclasses provide ``_request``.

    Every call runs inside :func:`~strategy_client.telemetry.client_span` (a no-op unless
    tracing or a client observer is on), whose W3C context goes into the request header so the
    runner's span continues the caller's trace.
    """

    @abstractmethod
    async def _request(
        self, request: Request, route: Route, timeout_s: float | None, traceparent: str, tracestate: str
    ) -> Reply:
        """Send ``request`` to the runner serving ``route``; error replies are raised."""

    async def _call(self, request: Request, route: Route, timeout_s: float | None) -> Reply:
        exchange = route.exchange if isinstance(route, InstrumentKey) else route
        with client_span(str(request.__struct_config__.tag), peer=exchange.value) as scope:
            return await self._request(request, route, timeout_s, scope.traceparent, scope.tracestate)

    async def request(
        self, request: Query[R], route: ExchangeLike | KeyLike | None = None, *, timeout_s: float | None = None
    ) -> R:
        """Any command of the registry (:mod:`strategy_client.wire.commands`), answered with
        its declared reply: routed by the instrument or exchange the request names, else by
        ``route`` (an exchange or a key). The named methods below are this, with coercion."""
        spec = COMMANDS.get(type(request))
        if spec is None:
            raise InvalidRequest(f"{type(request).__name__} is not a command of the wire registry")
        named = route if route is not None else spec.route_of(request)
        if named is None:
            raise InvalidRequest(f"{spec.method}: name the exchange it goes to (route=...)")
        return _checked(await self._call(cast(Request, request), _target(named, "route"), timeout_s), request)

    # -- routed by key -------------------------------------------------------------------
    async def submit_order(self, order: OrderRequest, *, timeout_s: float | None = None) -> Order:
        """Place an order. Without a ``client_id`` one is assigned here (and named in errors)."""
        order = check_order(order)
        req = SubmitOrder(order=order)
        return _checked(await self._call(req, order.key, timeout_s), req).order

    async def get_position(self, key: KeyLike, *, timeout_s: float | None = None) -> Position | None:
        """The position, or ``None`` when flat."""
        req = GetPosition(key=as_key(key))
        return _checked(await self._call(req, req.key, timeout_s), req).position

    async def get_instrument(self, key: KeyLike, *, timeout_s: float | None = None) -> Instrument:
        req = GetInstrument(key=as_key(key))
        return _checked(await self._call(req, req.key, timeout_s), req).instrument

    async def get_reference_price(
        self, key: KeyLike, source: PriceSource | str = PriceSource.MID, *, timeout_s: float | None = None
    ) -> ReferencePrice:
        """``mid`` (default), ``bid``, ``ask`` from the live book; ``mark``/``index`` for perps."""
        req = GetReferencePrice(key=as_key(key), source=as_enum(PriceSource, source, "source"))
        return _checked(await self._call(req, req.key, timeout_s), req).price

    async def get_funding_rate(self, key: KeyLike, *, timeout_s: float | None = None) -> FundingRate:
        req = GetFundingRate(key=as_key(key))
        return _checked(await self._call(req, req.key, timeout_s), req).funding

    async def set_leverage(self, key: KeyLike, leverage: int, *, timeout_s: float | None = None) -> int:
        """Set the leverage of a perp; returns what the venue applied."""
        if not isinstance(leverage, int) or isinstance(leverage, bool):
            raise InvalidRequest(f"leverage: expected an int, got {type(leverage).__name__}")
        req = SetLeverage(key=as_key(key), leverage=leverage)
        return _checked(await self._call(req, req.key, timeout_s), req).leverage

    async def get_order(
        self, key: KeyLike, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order:
        """An order by client id or venue id (one of them)."""
        if not client_id and not venue_id:
            raise InvalidRequest("get_order needs client_id or venue_id")
        req = GetOrder(key=as_key(key), client_id=client_id, venue_id=venue_id)
        return _checked(await self._call(req, req.key, timeout_s), req).order

    async def cancel_order(
        self,
        key: KeyLike | Order,
        *,
        client_id: str = "",
        venue_id: str = "",
        timeout_s: float | None = None,
    ) -> Order:
        """Cancel by key + client id or venue id, or pass the :class:`Order` itself."""
        if isinstance(key, Order):
            client_id = client_id or key.client_id
            venue_id = venue_id or (key.venue_id if not client_id else "")
            key = key.key
        if not client_id and not venue_id:
            raise InvalidRequest("cancel_order needs client_id or venue_id")
        req = CancelOrder(key=as_key(key), client_id=client_id, venue_id=venue_id)
        return _checked(await self._call(req, req.key, timeout_s), req).order

    # -- explicit exchange ---------------------------------------------------------------
    async def get_open_orders(
        self,
        target: ExchangeLike | KeyLike,
        *,
        kind: MarketKind | str | None = None,
        timeout_s: float | None = None,
    ) -> tuple[Order, ...]:
        """Open orders of an exchange (optionally one market kind), or of one instrument."""
        route = _target(target, "target")
        key = route if isinstance(route, InstrumentKey) else None
        req = GetOpenOrders(key=key, kind=as_market(kind))
        return _checked(await self._call(req, route, timeout_s), req).orders

    async def get_all_positions(
        self, exchange: ExchangeLike, *, timeout_s: float | None = None
    ) -> tuple[Position, ...]:
        req = GetAllPositions(exchange=as_exchange(exchange))
        return _checked(await self._call(req, req.exchange, timeout_s), req).positions

    async def get_account_snapshot(self, exchange: ExchangeLike, *, timeout_s: float | None = None) -> AccountSnapshot:
        req = GetAccountSnapshot(exchange=as_exchange(exchange))
        return _checked(await self._call(req, req.exchange, timeout_s), req).account

    async def get_all_instruments(
        self, exchange: ExchangeLike, *, kind: MarketKind | str | None = None, timeout_s: float | None = None
    ) -> tuple[Instrument, ...]:
        req = GetAllInstruments(exchange=as_exchange(exchange), kind=as_market(kind))
        return _checked(await self._call(req, req.exchange, timeout_s), req).instruments

    async def get_book_snapshot(
        self,
        target: ExchangeLike | KeyLike | Sequence[KeyLike],
        *,
        timeout_s: float | None = None,
    ) -> BookSnapshotReply:
        """Current books (of an exchange, one key, or several keys of one exchange) and the
        per-topic sequence numbers they correspond to (for resyncing a subscriber)."""
        if isinstance(target, str | InstrumentKey | Exchange):
            route = _target(target, "target")
            keys: tuple[InstrumentKey, ...] = (route,) if isinstance(route, InstrumentKey) else ()
        else:
            keys = tuple(as_key(k, "keys") for k in target)
            if not keys:
                raise InvalidRequest("keys: give at least one key, or an exchange for all books")
            exchanges = {k.exchange for k in keys}
            if len(exchanges) > 1:
                raise InvalidRequest(f"keys: one exchange per call, got {sorted(e.value for e in exchanges)}")
            route = keys[0]
        req = GetBookSnapshot(keys=keys)
        return _checked(await self._call(req, route, timeout_s), req)

    async def replay_events(
        self,
        exchange: ExchangeLike,
        after_seq: int = 0,
        *,
        topic: bytes = b"",
        limit: int = MAX_REPLAY_EVENTS,
        timeout_s: float | None = None,
    ) -> EventsReply:
        """The runner's journaled events after journal sequence ``after_seq`` (the header's
        ``jseq``), on topics starting with ``topic``, each with its wire bytes as published;
        ``more``: ask again from ``next_after`` (docs/journal.md, replay)."""
        req = ReplayEvents(after_seq=after_seq, topic=topic, limit=limit)
        return _checked(await self._call(req, as_exchange(exchange), timeout_s), req)

    async def report_gap(
        self,
        exchange: ExchangeLike,
        gaps: Sequence[GapRange],
        *,
        client_kind: str = "client",
        timeout_s: float | None = None,
    ) -> GapAck:
        """Tell the runner which events a subscriber lost (holes in topic sequence numbers),
        counted in its ``tradebus_publish_dropped_total`` (docs/protocol.md, report_gap); role read."""
        req = ReportGap(gaps=tuple(gaps), client_kind=client_kind)
        return _checked(await self._call(req, as_exchange(exchange), timeout_s), req)

    # -- the runner's risk gate (docs/risk.md; admin calls beyond the CoreApi protocol) ----
    async def get_risk_status(self, exchange: ExchangeLike, *, timeout_s: float | None = None) -> RiskStatus:
        """The risk gate's state, limits and usage (what ``runner risk show`` prints); role read."""
        req = GetRiskStatus()
        return _checked(await self._call(req, as_exchange(exchange), timeout_s), req).status

    async def set_trading_state(
        self,
        exchange: ExchangeLike,
        state: TradingState | str,
        *,
        reason: str = "",
        force: bool = False,
        timeout_s: float | None = None,
    ) -> TradingStateReply:
        """Admin: ACTIVE / REDUCING / HALTED; HALTED cancels every open order before answering
        (``canceled``). Leaving a tripped loss limit needs ``force``."""
        req = SetTradingState(state=as_enum(TradingState, state, "state"), reason=reason, force=force)
        return _checked(await self._call(req, as_exchange(exchange), timeout_s), req)

    async def set_risk_limit(
        self,
        exchange: ExchangeLike,
        field: str,
        value: str = "",
        *,
        instrument: str = "",
        timeout_s: float | None = None,
    ) -> RiskStatus:
        """Admin: change one limit at run time (``value`` as TOML text, "" removes it; only
        tightening unless the runner allows loosening). Returns the gate's new status."""
        req = SetRiskLimit(field=field, value=value, instrument=instrument)
        return _checked(await self._call(req, as_exchange(exchange), timeout_s), req).status
