"""CoreApi handlers: each request is answered by asking the actor that owns the state.

The dispatch is driven by the command registry (:mod:`strategy_client.wire.commands`): a
request that an actor declares it answers (its ``ANSWERS``) is routed — the instrument or
exchange it names must be this runner's — and handed, as it is, to that actor, whose answer is
the declared reply. Only the requests that need more than that have a handler here (submit and
cancel: the caller's deadline and "outcome unknown"; the risk gate's admin requests: who sent
them; ``ping``, instruments, gap reports, leverage, book snapshots, journal replay). The service
sees the runner through :class:`CommandHost`, not the runner class.

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
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple, Protocol

import msgspec

from exchanges import errors as xerr
from exchanges.base import ExchangeAdapter
from strategy_client.aio import within
from strategy_client.model import Exchange, Instrument, InstrumentKey, RejectCode
from strategy_client.model.order import InvalidOrderRequest, new_client_id
from strategy_client.wire import (
    COMMANDS,
    PROTOCOL_VERSION,
    BookSnapshotReply,
    CancelOrder,
    ErrorCode,
    ErrorReply,
    GetAllInstruments,
    GetBookSnapshot,
    GetInstrument,
    Header,
    InstrumentReply,
    InstrumentsReply,
    LeverageReply,
    OrderReply,
    Ping,
    Pong,
    ReconcileNow,
    ReconcileReply,
    ReplayEvents,
    Reply,
    ReportGap,
    Request,
    Routing,
    SetLeverage,
    SetRiskLimit,
    SetTradingState,
    SubmitOrder,
    TopicKind,
    TopicSeq,
    topic,
)

from .actors.account import AccountManager, RefreshAccount
from .actors.base import Actor
from .actors.funding import FundingPoller
from .actors.market import MarketDataManager
from .actors.order import Admin, OrderManager, Reconcile, Submit
from .actors.position import PositionManager, SyncPositions
from .actors.price import GetBooks, PriceManager
from .host import RunnerInfo
from .journaling import JournalRefused, RunnerJournal
from .publisher import Publisher
from .refusals import BadParams, ClientIdInUse, NotAvailable
from .risk import RiskChangeRefused, RiskConfigError, RiskRejected
from .zmq_server import PEER, Pending

__all__ = ["CommandHost", "CommandService", "ERROR_TABLE", "ErrorRow", "error_reply", "unanswered_reply"]


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


def _as_is(reply: Reply) -> Reply:
    """The actor answered with the request's declared reply."""
    return reply


def _order_reply(order: Any) -> Reply:
    return OrderReply(order=order)


class CommandHost(RunnerInfo, Protocol):
    """What the command service reads of its runner (``ExchangeRunner`` is one)."""

    @property
    def instruments(self) -> Mapping[InstrumentKey, Instrument]: ...
    @property
    def adapter(self) -> ExchangeAdapter: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def journal(self) -> RunnerJournal | None: ...
    @property
    def orders(self) -> OrderManager: ...
    @property
    def positions(self) -> PositionManager: ...
    @property
    def prices(self) -> PriceManager: ...
    @property
    def funding(self) -> FundingPoller: ...
    @property
    def account(self) -> AccountManager: ...
    @property
    def market(self) -> MarketDataManager: ...


#: How a request answered by an actor is checked before it is handed over (from its routing).
_KEY, _EXCHANGE, _OPTIONAL_KEY, _NONE = "key", "exchange", "key?", ""

Plan = Reply | _Ask | None


def _route_check(cls: type) -> str:
    spec = COMMANDS[cls]
    if spec.route is Routing.INSTRUMENT:
        return _KEY
    if spec.route is Routing.EXCHANGE:
        return _EXCHANGE
    if spec.route is Routing.CALLER and "key" in getattr(cls, "__struct_fields__", ()):
        return _OPTIONAL_KEY  # narrows to one instrument when given (get_open_orders)
    return _NONE


class CommandService:
    def __init__(self, host: CommandHost) -> None:
        self.r = host
        #: request class → (the actor that answers it, the route check): the registry's commands
        #: the actors declare (``ANSWERS``)
        self._answered: dict[type, tuple[Actor[Any], str]] = {
            cls: (actor, _route_check(cls))
            for actor in (host.orders, host.positions, host.prices, host.funding, host.account, host.market)
            for cls in actor.ANSWERS
        }
        #: requests that need more than one actor message, answered at once or planned here
        self._planned: dict[type, Callable[[Any, float], Plan]] = {
            SubmitOrder: self._submit,
            CancelOrder: self._cancel,
            Ping: self._ping,
            GetInstrument: self._instrument,
            GetAllInstruments: self._instruments,
            ReportGap: self._report_gap,
            SetTradingState: self._admin,
            SetRiskLimit: self._admin,
        }
        #: requests that wait on more than one actor (``handle`` only)
        self._awaited: dict[type, Callable[[Any, float], Awaitable[Reply]]] = {
            SetLeverage: self._set_leverage,
            GetBookSnapshot: self._book_snapshot,
            ReplayEvents: self._replay,
            ReconcileNow: self._reconcile,
        }
        unserved = set(COMMANDS) - set(self._answered) - set(self._planned) - set(self._awaited)
        if unserved:
            names = sorted(COMMANDS[c].method for c in unserved)
            raise TypeError(f"commands of the wire registry no actor answers: {', '.join(names)}")

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

    def _plan(self, req: Request, timeout: float) -> Plan:
        """What a request needs: a reply at once, one actor message (:class:`_Ask`), or None
        (more than that: ``_handle`` does it)."""
        cls = type(req)
        planned = self._planned.get(cls)
        if planned is not None:
            return planned(req, timeout)
        answered = self._answered.get(cls)
        if answered is None:
            return None
        actor, check = answered
        msg: Any = req  # the route check named the field it has
        if check is _KEY:
            bad = self._check_key(msg.key)
        elif check is _EXCHANGE:
            bad = self._check_exchange(msg.exchange)
        elif check is _OPTIONAL_KEY and msg.key is not None:
            bad = self._check_key(msg.key)
        else:
            bad = None
        return bad or _Ask(actor, req, _as_is)

    async def _handle(self, req: Request, header: Header) -> Reply:
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
        awaited = self._awaited.get(type(req))
        if awaited is None:
            return ErrorReply(code=ErrorCode.UNKNOWN_METHOD, message=f"unhandled request {type(req).__name__}")
        return await awaited(req, timeout)

    # -- requests planned here ------------------------------------------------------------
    def _submit(self, req: SubmitOrder, timeout: float) -> Plan:
        order = req.order
        if (bad := self._check_key(order.key)) is not None:
            return bad
        if not order.client_id:  # named now, so that an unanswered submit can say which order it was
            order = msgspec.structs.replace(order, client_id=new_client_id())
        # the actor answers a little before the caller's timeout, so that its answer (what the
        # venue said so far, or UNKNOWN) is what the caller gets, not the server's timer
        orders = self.r.orders
        answer_by = orders.monotonic() + timeout - min(0.1, timeout / 10)  # on the actor's clock
        op = f"submit_order {order.client_id}"
        return _Ask(orders, Submit(order, answer_by, _peer()), _order_reply, order_op=op)

    def _cancel(self, req: CancelOrder, timeout: float) -> Plan:
        op = f"cancel_order {req.client_id or req.venue_id}"
        return self._check_key(req.key) or _Ask(self.r.orders, req, _as_is, order_op=op)

    def _ping(self, req: Ping, timeout: float) -> Plan:
        r = self.r
        return Pong(
            exchange=r.exchange,
            runner_version=r.version,
            protocol_version=PROTOCOL_VERSION,
            mode=r.config.mode,
            venue=r.config.venue,
            ready=r.ready,
            queues=r.queue_stats(),
        )

    def _instrument(self, req: GetInstrument, timeout: float) -> Plan:
        return self._check_key(req.key) or InstrumentReply(instrument=self.r.instruments[req.key])

    def _instruments(self, req: GetAllInstruments, timeout: float) -> Plan:
        kind = req.kind
        return self._check_exchange(req.exchange) or InstrumentsReply(
            instruments=tuple(i for i in self.r.instruments.values() if kind is None or i.key.kind is kind)
        )

    def _report_gap(self, req: ReportGap, timeout: float) -> Plan:
        """A subscriber's lost events: counted."""
        return self.r.publisher.report_gaps(req.gaps, req.client_kind)

    def _admin(self, req: SetTradingState | SetRiskLimit, timeout: float) -> Plan:
        who = _peer()
        security = getattr(self.r, "security", None)  # CURVE on: name the key by its allow-list label
        if who and security is not None:
            who = security.who(who)
        return _Ask(self.r.orders, Admin(req, who or "admin"), _as_is)

    # -- requests awaited here ------------------------------------------------------------
    async def _set_leverage(self, req: SetLeverage, wait_s: float) -> Reply:
        key, lev = req.key, req.leverage
        if (bad := self._check_key(key)) is not None:
            return bad
        if not 1 <= lev <= 125:
            return ErrorReply(code=ErrorCode.INVALID_PARAMS, message=f"leverage {lev} outside 1..125")
        got = await within(self.r.adapter.set_leverage(key, lev), wait_s)
        return LeverageReply(key=key, leverage=got)

    async def _book_snapshot(self, req: GetBookSnapshot, wait_s: float) -> Reply:
        r, keys = self.r, req.keys
        for k in keys:
            if (bad := self._check_key(k)) is not None:
                return bad
        # sequence numbers first: a book published after this point has a higher seq
        seqs = tuple(
            TopicSeq(t, r.publisher.sequence(t))
            for t in (topic(TopicKind.BOOK, r.exchange, k) for k in (keys or r.instruments))
        )
        results = await r.prices.ask(GetBooks(tuple(keys)), wait_s)
        return BookSnapshotReply(books=tuple(b.book for b in results), seqs=seqs)

    async def _reconcile(self, req: ReconcileNow, wait_s: float) -> Reply:
        """``reconcile`` (admin): the periodic reconcile now — account, positions, then orders."""
        if (bad := self._check_exchange(req.exchange)) is not None:
            return bad
        r = self.r
        await r.account.ask(RefreshAccount("manual"), wait_s)
        positions = await r.positions.ask(SyncPositions("manual"), wait_s)
        open_orders = await r.orders.ask(Reconcile(reason="manual"), wait_s)
        return ReconcileReply(positions=positions, open_orders=open_orders)

    async def _replay(self, req: ReplayEvents, wait_s: float) -> Reply:
        journal = self.r.journal
        if journal is None:
            why = "this runner journals nothing (--no-journal): nothing to replay"
            return ErrorReply(code=ErrorCode.NOT_FOUND, message=why)
        return await within(asyncio.to_thread(journal.replay, req.after_seq, req.topic, req.limit), wait_s)
