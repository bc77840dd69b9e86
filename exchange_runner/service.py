"""CoreApi handlers: each request is answered by asking the actor that owns the state.

Errors are translated here, at the boundary, by one table (:data:`ERROR_TABLE`): exception
class → error code, retryable, whether the venue's code and message are carried. The most
specific class comes first; the first row that matches wins. Only the runner's typed refusals
(:mod:`exchange_runner.refusals`) and the venue's typed errors may blame the client
(``invalid_params``/``not_found``); anything else raised inside the runner — a plain
``ValueError``, ``KeyError``, ``LookupError`` — is a bug and is answered ``internal``.

An order command (submit, cancel) whose answer does not come in time is ``outcome_unknown``
(never retryable): the request may have reached the venue. The order actor keeps tracking the
order (UNKNOWN) until the venue says what became of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from exchanges import errors as xerr
from strategy_client.model import Exchange, InstrumentKey, RejectCode
from strategy_client.model.order import InvalidOrderRequest
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
    GetRiskStatus,
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
    ReplayEvents,
    Reply,
    ReportGap,
    Request,
    RiskStatusReply,
    SetLeverage,
    SetRiskLimit,
    SetTradingState,
    SubmitOrder,
    TopicKind,
    TopicSeq,
    TradingStateReply,
    topic,
)

from .actors.account import GetAccount
from .actors.base import Actor
from .actors.funding import GetFunding
from .actors.order import (
    Cancel,
    GetOpen,
    GetOrderMsg,
    RiskStatusMsg,
    SetRiskLimitMsg,
    SetTradingStateMsg,
    Submit,
    new_client_id,
)
from .actors.position import GetAllPositionsMsg, GetPositionMsg
from .actors.price import GetBooks, GetReferencePriceMsg
from .journaling import JournalRefused
from .refusals import BadParams, ClientIdInUse, NotAvailable
from .risk import RiskChangeRefused, RiskConfigError, RiskRejected
from .zmq_server import PEER, Pending

if TYPE_CHECKING:
    from .runner import ExchangeRunner

__all__ = ["CommandService", "ERROR_TABLE", "ErrorRow", "error_reply", "unanswered_reply"]


class ErrorRow(NamedTuple):
    """One translation: exceptions of ``cls`` (and ``when`` true, if given) become ``code``.

    ``reject``: the refusal's :class:`RejectCode` carried in the reply — a fixed code, or
    ``VENUE`` for the venue error's own (``exchanges.errors.reject_code``); None: not a refusal."""

    cls: type[BaseException]
    code: ErrorCode
    retryable: bool
    venue: bool = True  # carry the venue's code and words (``ExchangeError`` only)
    when: Callable[[BaseException], bool] | None = None
    message: str = "{exc}"
    reject: RejectCode | str | None = None


#: ``ErrorRow.reject``: take the code from the venue error (``exchanges.errors.REJECT_CODES``).
VENUE = "venue"


def _ours(exc: BaseException) -> bool:
    """An ``InvalidRequest`` the adapter raised before sending (no venue code): the client's."""
    return getattr(exc, "venue_code", None) is None


#: Exception → error reply, most specific first; the first row that matches wins.
ERROR_TABLE: tuple[ErrorRow, ...] = (
    # the runner's own refusals: the client's request is at fault
    ErrorRow(NotAvailable, ErrorCode.NOT_FOUND, False, venue=False),
    ErrorRow(ClientIdInUse, ErrorCode.INVALID_PARAMS, False, venue=False, reject=RejectCode.DUPLICATE_CLIENT_ID),
    ErrorRow(BadParams, ErrorCode.INVALID_PARAMS, False, venue=False, reject=RejectCode.INVALID),
    ErrorRow(InvalidOrderRequest, ErrorCode.INVALID_PARAMS, False, venue=False, reject=RejectCode.INVALID),
    # the pre-trade risk gate (docs/risk.md): the message is its one line naming limit and numbers
    ErrorRow(RiskRejected, ErrorCode.RISK_REJECTED, False, venue=False, reject=RejectCode.NOT_SENT),
    ErrorRow(RiskChangeRefused, ErrorCode.INVALID_PARAMS, False, venue=False),  # loosening / resume refused
    ErrorRow(RiskConfigError, ErrorCode.INVALID_PARAMS, False, venue=False),  # a bad set_risk_limit value
    # the journal could not record the order's intent: not sent (docs/journal.md)
    ErrorRow(JournalRefused, ErrorCode.UNAVAILABLE, True, venue=False, reject=RejectCode.NOT_SENT),
    # the venue's answers (exchanges.errors), as the venue meant them
    ErrorRow(xerr.OrderNotFound, ErrorCode.NOT_FOUND, False, reject=VENUE),
    ErrorRow(
        xerr.UnknownOutcome,
        ErrorCode.OUTCOME_UNKNOWN,
        False,
        message="outcome unknown; the runner tracks the order as UNKNOWN until the venue says: {exc}",
    ),
    ErrorRow(xerr.IpBanned, ErrorCode.RATE_LIMITED, False, reject=VENUE),
    ErrorRow(xerr.RateLimited, ErrorCode.RATE_LIMITED, True, reject=VENUE),
    ErrorRow(xerr.TransportError, ErrorCode.VENUE_UNAVAILABLE, True),
    ErrorRow(xerr.ServiceUnavailable, ErrorCode.VENUE_UNAVAILABLE, True),
    ErrorRow(xerr.TimestampOutOfWindow, ErrorCode.VENUE_UNAVAILABLE, True),
    ErrorRow(xerr.ListenKeyExpired, ErrorCode.VENUE_UNAVAILABLE, True),
    ErrorRow(xerr.MalformedPayload, ErrorCode.VENUE_UNAVAILABLE, False),
    ErrorRow(xerr.InvalidRequest, ErrorCode.INVALID_PARAMS, False, venue=False, when=_ours, reject=VENUE),
    # refusals, auth, bad parameters at the venue
    ErrorRow(xerr.ExchangeError, ErrorCode.VENUE_REJECTED, False, reject=VENUE),
    # no answer in time (a read: ask again; orders are handled by ``unanswered_reply``)
    ErrorRow(TimeoutError, ErrorCode.VENUE_UNAVAILABLE, True, venue=False, message="no answer in time"),
    ErrorRow(asyncio.CancelledError, ErrorCode.UNAVAILABLE, True, venue=False, message="the runner is stopping"),
    # anything else is a bug of ours: never the client's fault
    ErrorRow(BaseException, ErrorCode.INTERNAL, False, venue=False, message="{name}: {exc}"),
)


def error_reply(exc: BaseException) -> ErrorReply:
    """The reply for ``exc``: the first :data:`ERROR_TABLE` row that matches."""
    for row in ERROR_TABLE:
        if isinstance(exc, row.cls) and (row.when is None or row.when(exc)):
            break
    message = row.message.format(exc=exc, name=type(exc).__name__)
    reject = row.reject
    if reject == VENUE:
        reject = xerr.reject_code(exc) if isinstance(exc, xerr.ExchangeError) else None
    code = reject if isinstance(reject, RejectCode) else None
    if row.venue and isinstance(exc, xerr.ExchangeError):
        return ErrorReply(
            code=row.code,
            message=message,
            retryable=row.retryable,
            venue_code=str(exc.venue_code or ""),
            venue_message=exc.venue_message,
            reject_code=code,
        )
    return ErrorReply(code=row.code, message=message, retryable=row.retryable, reject_code=code)


#: Exceptions that, on an order command, mean "no answer": the request may have been sent.
_UNANSWERED = (TimeoutError, asyncio.CancelledError)


def unanswered_reply(what: str) -> ErrorReply:
    """An order command (``what``) not answered in time: its outcome is unknown, never retry."""
    return ErrorReply(
        code=ErrorCode.OUTCOME_UNKNOWN,
        message=f"{what}: no answer in time; it may have reached the venue. The runner tracks the order "
        "until the venue says — learn its fate from the exec topic or get_order, do not resend",
        retryable=False,
    )


class _Ask:
    """One message to one actor; ``wrap`` turns its answer into the reply. ``order_op`` names
    an order command (submit/cancel): not answered in time, its outcome is unknown."""

    __slots__ = ("actor", "msg", "wrap", "order_op")

    def __init__(self, actor: Actor[Any], msg: Any, wrap: Callable[[Any], Reply], order_op: str = "") -> None:
        self.actor = actor
        self.msg = msg
        self.wrap = wrap
        self.order_op = order_op

    def finish(self, fut: asyncio.Future[Any]) -> Reply:
        try:
            return self.wrap(fut.result())
        except BaseException as exc:  # noqa: BLE001 - translated into a typed reply (also cancellation)
            return self.fail(exc)

    def fail(self, exc: BaseException) -> Reply:
        if self.order_op and isinstance(exc, _UNANSWERED):
            return unanswered_reply(self.order_op)
        return error_reply(exc)


def _peer() -> str:
    """The sender of the request being served (CURVE key, else ROUTER identity as hex)."""
    peer = PEER.get()
    return peer if isinstance(peer, str) else peer.hex()


def _as_reply(reply: Any) -> Reply:
    """The actor answered with the reply itself (risk status, trading state)."""
    assert isinstance(reply, RiskStatusReply | TradingStateReply)
    return reply


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
        timeout = self._timeout(header)
        try:
            plan = self._plan(req, timeout)
        except BaseException as exc:  # noqa: BLE001 - translated into a typed reply
            return error_reply(exc)
        if isinstance(plan, _Ask):
            fut = plan.actor.ask_nowait(plan.msg)
            if fut is None:
                return None  # inbox full: ``handle`` waits for room
            return Pending(fut, plan.finish, timeout)
        return plan

    def _timeout(self, header: Header) -> float:
        return max(1.0, header.timeout_ms / 1000) if header.timeout_ms else self.r.config.venue_timeout_s

    def _submit(self, req: SubmitOrder, timeout: float) -> Reply | _Ask:
        order = req.order
        if (bad := self._check_key(order.key)) is not None:
            return bad
        if not order.client_id:  # named now, so that an unanswered submit can say which order it was
            order = msgspec.structs.replace(order, client_id=new_client_id())
        # the actor answers a little before the caller's timeout, so that its answer (what the
        # venue said so far, or UNKNOWN) is what the caller gets, not the server's timer
        answer_by = time.monotonic() + timeout - min(0.1, timeout / 10)
        op = f"submit_order {order.client_id}"
        return _Ask(self.r.orders, Submit(order, answer_by, _peer()), _order_reply, order_op=op)

    def _plan(self, req: Request, timeout: float) -> Reply | _Ask | None:  # noqa: C901 - a dispatch table
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
            case SubmitOrder():
                return self._submit(req, timeout)
            case CancelOrder(key=key, client_id=cid, venue_id=vid):
                op = f"cancel_order {cid or vid}"
                return self._check_key(key) or _Ask(r.orders, Cancel(key, cid, vid), _order_reply, order_op=op)
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
            case ReportGap(gaps=gaps, client_kind=client_kind):  # a subscriber's lost events: counted
                return r.publisher.report_gaps(gaps, client_kind)
            case GetRiskStatus():
                return _Ask(r.orders, RiskStatusMsg(), _as_reply)
            case SetTradingState(state=state, reason=reason, force=force):
                return _Ask(r.orders, SetTradingStateMsg(state, reason, force, _peer() or "admin"), _as_reply)
            case SetRiskLimit(field=field, value=value, instrument=instrument):
                return _Ask(r.orders, SetRiskLimitMsg(field, value, instrument, _peer() or "admin"), _as_reply)
        return None

    async def _handle(self, req: Request, header: Header) -> Reply:
        r = self.r
        timeout = self._timeout(header)
        plan = self._plan(req, timeout)
        if isinstance(plan, _Ask):
            try:
                answer = await plan.actor.ask(plan.msg, timeout)
            except Exception as exc:  # noqa: BLE001 - translated into a typed reply
                return plan.fail(exc)
            return plan.wrap(answer)
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
            case ReplayEvents(after_seq=after, topic=prefix, limit=limit):
                if r.journal is None:
                    why = "this runner journals nothing (--no-journal): nothing to replay"
                    return ErrorReply(code=ErrorCode.NOT_FOUND, message=why)
                return await asyncio.wait_for(asyncio.to_thread(r.journal.replay, after, prefix, limit), timeout)
        return ErrorReply(code=ErrorCode.UNKNOWN_METHOD, message=f"unhandled request {type(req).__name__}")
