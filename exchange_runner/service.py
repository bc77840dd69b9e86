"""CoreApi handlers: each request is answered by asking the actor that owns the state.

Errors are translated here, at the boundary, into typed error replies: venue errors keep the
venue's code and message; unknown instruments, unknown orders and bad parameters get their
own codes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

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
from .actors.funding import GetFunding
from .actors.order import Cancel, GetOpen, GetOrderMsg, Submit
from .actors.position import GetAllPositionsMsg, GetPositionMsg
from .actors.price import GetBooks, GetReferencePriceMsg, StaleBook

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

    async def _handle(self, req: Request, header: Header) -> Reply:  # noqa: C901 - a dispatch table
        r = self.r
        timeout = max(1.0, header.timeout_ms / 1000) if header.timeout_ms else r.config.venue_timeout_s
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
                if (bad := self._check_key(order.key)) is not None:
                    return bad
                return OrderReply(order=await r.orders.ask(Submit(order), timeout))
            case CancelOrder(key=key, client_id=cid, venue_id=vid):
                if (bad := self._check_key(key)) is not None:
                    return bad
                return OrderReply(order=await r.orders.ask(Cancel(key, cid, vid), timeout))
            case GetOrder(key=key, client_id=cid, venue_id=vid):
                if (bad := self._check_key(key)) is not None:
                    return bad
                return OrderReply(order=await r.orders.ask(GetOrderMsg(key, cid, vid), timeout))
            case GetOpenOrders(key=key, kind=kind):
                if key is not None and (bad := self._check_key(key)) is not None:
                    return bad
                return OrdersReply(orders=tuple(await r.orders.ask(GetOpen(key, kind), timeout)))
            case GetPosition(key=key):
                if (bad := self._check_key(key)) is not None:
                    return bad
                return PositionReply(position=await r.positions.ask(GetPositionMsg(key), timeout))
            case GetAllPositions(exchange=exchange):
                if (bad := self._check_exchange(exchange)) is not None:
                    return bad
                return PositionsReply(positions=tuple(await r.positions.ask(GetAllPositionsMsg(), timeout)))
            case GetInstrument(key=key):
                if (bad := self._check_key(key)) is not None:
                    return bad
                return InstrumentReply(instrument=r.instruments[key])
            case GetAllInstruments(exchange=exchange, kind=kind):
                if (bad := self._check_exchange(exchange)) is not None:
                    return bad
                return InstrumentsReply(
                    instruments=tuple(i for i in r.instruments.values() if kind is None or i.key.kind is kind)
                )
            case GetReferencePrice(key=key, source=source):
                if (bad := self._check_key(key)) is not None:
                    return bad
                return PriceReply(price=await r.prices.ask(GetReferencePriceMsg(key, source), timeout))
            case GetFundingRate(key=key):
                if (bad := self._check_key(key)) is not None:
                    return bad
                return FundingReply(funding=await r.funding.ask(GetFunding(key), timeout))
            case GetAccountSnapshot(exchange=exchange):
                if (bad := self._check_exchange(exchange)) is not None:
                    return bad
                return AccountReply(account=await r.account.ask(GetAccount(), timeout))
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
