"""CoreApi handlers: each request is answered by asking the actor that owns the state.

Errors are translated here, at the boundary, into typed error replies: venue errors keep the
venue's code and message; unknown instruments, unknown orders and bad parameters get their
own codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from exchanges import errors as xerr
from strategy_client.model import Exchange, InstrumentKey
from strategy_client.wire import (
    PROTOCOL_VERSION,
    AccountReply,
    BookSnapshotReply,
    CancelOrder,
    ErrorCode,
    ErrorReply,
    FundingReply,
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
    Header,
    InstrumentReply,
    InstrumentsReply,
    LeverageReply,
    OrderReply,
    OrdersReply,
    Ping,
    Pong,
    PositionReply,
    PositionsReply,
    PriceReply,
    Reply,
    Request,
    SetLeverage,
    SubmitOrder,
    TopicKind,
    TopicSeq,
    topic,
)

from .actors.account import GetAccount
from .actors.base import Actor
from .actors.funding import GetFunding
from .actors.order import Cancel, GetOpen, GetOrderMsg, Submit
from .actors.position import GetAllPositionsMsg, GetPositionMsg
from .actors.price import GetBooks, GetReferencePriceMsg, StaleBook
from .zmq_server import Pending

if TYPE_CHECKING:
    from .runner import ExchangeRunner

__all__ = ["CommandService", "error_reply"]


def error_reply(exc: BaseException) -> ErrorReply:
    if isinstance(exc, xerr.OrderNotFound):
        return ErrorReply(
            code=ErrorCode.NOT_FOUND,
            message=str(exc),
            venue_code=str(exc.venue_code or ""),
            venue_message=exc.venue_message,
        )
    if isinstance(exc, xerr.UnknownOutcome):
        return ErrorReply(
            code=ErrorCode.OUTCOME_UNKNOWN,
            message=f"outcome unknown, reconciling: {exc}",
            venue_code=str(exc.venue_code or ""),
            venue_message=exc.venue_message,
        )
    if isinstance(exc, xerr.RateLimited):
        return ErrorReply(
            code=ErrorCode.RATE_LIMITED,
            message=str(exc),
            retryable=not isinstance(exc, xerr.IpBanned),
            venue_code=str(exc.venue_code or ""),
            venue_message=exc.venue_message,
        )
    if isinstance(exc, xerr.ExchangeError) and exc.retryable:
        return ErrorReply(
            code=ErrorCode.VENUE_UNAVAILABLE,
            message=str(exc),
            retryable=True,
            venue_code=str(exc.venue_code or ""),
            venue_message=exc.venue_message,
        )
    if isinstance(exc, xerr.InvalidRequest) and exc.venue_code is None:
        return ErrorReply(code=ErrorCode.INVALID_PARAMS, message=str(exc))
    if isinstance(exc, xerr.ExchangeError):
        return ErrorReply(
            code=ErrorCode.VENUE_REJECTED,
            message=str(exc),
            venue_code=str(exc.venue_code or ""),
            venue_message=exc.venue_message,
        )
    if isinstance(exc, StaleBook | LookupError):
        return ErrorReply(code=ErrorCode.NOT_FOUND, message=str(exc))
    if isinstance(exc, TimeoutError):
        return ErrorReply(
            code=ErrorCode.VENUE_UNAVAILABLE,
            message="the runner timed out waiting for the venue",
            retryable=True,
        )
    if isinstance(exc, ValueError):
        return ErrorReply(code=ErrorCode.INVALID_PARAMS, message=str(exc))
    return ErrorReply(code=ErrorCode.INTERNAL, message=f"{type(exc).__name__}: {exc}")


class _Ask:
    """One message to one actor; ``wrap`` turns its answer into the reply."""

    __slots__ = ("actor", "msg", "wrap")

    def __init__(self, actor: Actor[Any], msg: Any, wrap: Callable[[Any], Reply]) -> None:
        self.actor = actor
        self.msg = msg
        self.wrap = wrap

    def finish(self, fut: asyncio.Future[Any]) -> Reply:
        try:
            return self.wrap(fut.result())
        except BaseException as exc:  # noqa: BLE001 - translated into a typed reply (also cancellation)
            return error_reply(exc)


def _order_reply(order: Any) -> Reply:
    return OrderReply(order=order)


def _orders_reply(orders: Any) -> Reply:
    return OrdersReply(orders=tuple(orders))


def _position_reply(position: Any) -> Reply:
    return PositionReply(position=position)


def _positions_reply(positions: Any) -> Reply:
    return PositionsReply(positions=tuple(positions))


def _price_reply(price: Any) -> Reply:
    return PriceReply(price=price)


def _funding_reply(funding: Any) -> Reply:
    return FundingReply(funding=funding)


def _account_reply(account: Any) -> Reply:
    return AccountReply(account=account)


class CommandService:
    def __init__(self, runner: ExchangeRunner) -> None:
        self.r = runner

    def _check_key(self, key: InstrumentKey) -> ErrorReply | None:
        if key.exchange is not self.r.exchange:
            return ErrorReply(
                code=ErrorCode.UNKNOWN_INSTRUMENT,
                message=f"{key} belongs to {key.exchange.value}; this runner serves {self.r.exchange.value}",
            )
        if key not in self.r.instruments:
            return ErrorReply(code=ErrorCode.UNKNOWN_INSTRUMENT, message=f"unknown instrument {key}")
        return None

    def _check_exchange(self, exchange: Exchange) -> ErrorReply | None:
        if exchange is not self.r.exchange:
            return ErrorReply(
                code=ErrorCode.UNKNOWN_INSTRUMENT,
                message=f"this runner serves {self.r.exchange.value}, not {exchange.value}",
            )
        return None

    async def handle(self, req: Request, header: Header) -> Reply:
        try:
            return await self._handle(req, header)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - translated into a typed reply
            return error_reply(exc)

    def start(self, req: Request, header: Header) -> Reply | Pending | None:
        """The fast path (``ZmqServer`` starter): a reply now, or the request already handed to
        the actor that answers it (:class:`Pending`); None sends the request down ``handle``
        (commands that are not one actor message, or an actor inbox that is full)."""
        try:
            plan = self._plan(req)
        except BaseException as exc:  # noqa: BLE001 - translated into a typed reply
            return error_reply(exc)
        if isinstance(plan, _Ask):
            fut = plan.actor.ask_nowait(plan.msg)
            if fut is None:
                return None  # inbox full: ``handle`` waits for room
            return Pending(fut, plan.finish, self._timeout(header))
        return plan

    def _timeout(self, header: Header) -> float:
        return max(1.0, header.timeout_ms / 1000) if header.timeout_ms else self.r.config.venue_timeout_s

    def _plan(self, req: Request) -> Reply | _Ask | None:  # noqa: C901 - a dispatch table
        """What a request needs: a reply at once, one actor message (:class:`_Ask`), or None
        (more than that: ``_handle`` does it)."""
        r = self.r
        match req:
            case Ping():
                return Pong(
                    exchange=r.exchange,
                    runner_version=r.version,
                    protocol_version=PROTOCOL_VERSION,
                    mode=r.config.mode,
                    venue=r.config.venue,
                    ready=r.ready,
                    queues=r.queue_stats(),
                )
            case SubmitOrder(order=order):
                return self._check_key(order.key) or _Ask(r.orders, Submit(order), _order_reply)
            case CancelOrder(key=key, client_id=cid, venue_id=vid):
                return self._check_key(key) or _Ask(r.orders, Cancel(key, cid, vid), _order_reply)
            case GetOrder(key=key, client_id=cid, venue_id=vid):
                return self._check_key(key) or _Ask(r.orders, GetOrderMsg(key, cid, vid), _order_reply)
            case GetOpenOrders(key=key, kind=kind):
                bad = self._check_key(key) if key is not None else None
                return bad or _Ask(r.orders, GetOpen(key, kind), _orders_reply)
            case GetPosition(key=key):
                return self._check_key(key) or _Ask(r.positions, GetPositionMsg(key), _position_reply)
            case GetAllPositions(exchange=exchange):
                return self._check_exchange(exchange) or _Ask(r.positions, GetAllPositionsMsg(), _positions_reply)
            case GetInstrument(key=key):
                return self._check_key(key) or InstrumentReply(instrument=r.instruments[key])
            case GetAllInstruments(exchange=exchange, kind=kind):
                return self._check_exchange(exchange) or InstrumentsReply(
                    instruments=tuple(i for i in r.instruments.values() if kind is None or i.key.kind is kind)
                )
            case GetReferencePrice(key=key, source=source):
                return self._check_key(key) or _Ask(r.prices, GetReferencePriceMsg(key, source), _price_reply)
            case GetFundingRate(key=key):
                return self._check_key(key) or _Ask(r.funding, GetFunding(key), _funding_reply)
            case GetAccountSnapshot(exchange=exchange):
                return self._check_exchange(exchange) or _Ask(r.account, GetAccount(), _account_reply)
        return None

    async def _handle(self, req: Request, header: Header) -> Reply:
        r = self.r
        timeout = self._timeout(header)
        plan = self._plan(req)
        if isinstance(plan, _Ask):
            return plan.wrap(await plan.actor.ask(plan.msg, timeout))
        if plan is not None:
            return plan
        match req:
            case SetLeverage(key=key, leverage=lev):
                if (bad := self._check_key(key)) is not None:
                    return bad
                if not 1 <= lev <= 125:
                    return ErrorReply(code=ErrorCode.INVALID_PARAMS, message=f"leverage {lev} outside 1..125")
                got = await asyncio.wait_for(r.adapter.set_leverage(key, lev), timeout)
                return LeverageReply(key=key, leverage=got)
            case GetBookSnapshot(keys=keys):
                for k in keys:
                    if (bad := self._check_key(k)) is not None:
                        return bad
                # sequence numbers first: a book published after this point has a higher seq
                seqs = tuple(
                    TopicSeq(t, r.publisher.sequence(t))
                    for t in (topic(TopicKind.BOOK, r.exchange, k) for k in (keys or r.instruments))
                )
                results = await r.prices.ask(GetBooks(tuple(keys)), timeout)
                return BookSnapshotReply(books=tuple(b.book for b in results), seqs=seqs)
        return ErrorReply(code=ErrorCode.UNKNOWN_METHOD, message=f"unhandled request {type(req).__name__}")
