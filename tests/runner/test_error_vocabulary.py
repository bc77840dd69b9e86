"""One translation table from exceptions to error replies: every row, most specific first, and
a bug inside the runner is ``internal`` — never blamed on the client."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from exchange_runner.actors.price import NoMarketData
from exchange_runner.journaling import JournalRefused
from exchange_runner.refusals import BadParams, ClientIdInUse, NotAvailable
from exchange_runner.risk import RiskChangeRefused, RiskConfigError, RiskRejected
from exchange_runner.service import ERROR_TABLE, _Ask, error_reply
from exchanges import errors as xerr
from exchanges.binance.sim.payloads_user import EXEC_TYPE_TEXT
from exchanges.sim.engine.errors import REJECT_CODES as SIM_CODES
from exchanges.sim.engine.errors import RejectReason, SimReject
from strategy_client.command_client import _to_exception
from strategy_client.errors import OutcomeUnknown, VenueUnavailable
from strategy_client.model import ExecType, LimitName, RejectCode, RiskBreach
from strategy_client.model.order import InvalidOrderRequest
from strategy_client.wire import ErrorCode, ErrorReply

E = ErrorCode
_BREACH = RiskBreach(
    limit=LimitName.MAX_ORDER_QTY,
    key=None,
    limit_value=Decimal("0.05"),
    requested=Decimal("0.051"),
    current=Decimal(0),
)

# (exception, code, retryable, venue fields carried)
CASES: list[tuple[BaseException, ErrorCode, bool, bool]] = [
    (NotAvailable("no such thing"), E.NOT_FOUND, False, False),
    (NoMarketData("no book"), E.NOT_FOUND, False, False),
    (BadParams("give a client_id"), E.INVALID_PARAMS, False, False),
    (ClientIdInUse("client id x is already live"), E.INVALID_PARAMS, False, False),
    (InvalidOrderRequest("order.qty is not finite"), E.INVALID_PARAMS, False, False),
    (RiskRejected(_BREACH), E.RISK_REJECTED, False, False),
    (RiskChangeRefused("max_open_orders: loosening at run time is refused"), E.INVALID_PARAMS, False, False),
    (RiskConfigError("risk.max_open_orders: Expected `int` >= 1"), E.INVALID_PARAMS, False, False),
    (JournalRefused("not sent: its intent could not be journaled: journal … is locked"), E.UNAVAILABLE, True, False),
    (xerr.OrderNotFound("unknown order", venue_code=-2013), E.NOT_FOUND, False, True),
    (xerr.UnknownOutcome("timeout", venue_code=-1007), E.OUTCOME_UNKNOWN, False, True),
    (xerr.IpBanned("banned", venue_code=-1003), E.RATE_LIMITED, False, True),
    (xerr.RateLimited("slow down", venue_code=-1003), E.RATE_LIMITED, True, True),
    (xerr.TransportError("connection refused"), E.VENUE_UNAVAILABLE, True, True),
    (xerr.ServiceUnavailable("busy", venue_code=-1001), E.VENUE_UNAVAILABLE, True, True),
    (xerr.TimestampOutOfWindow("clock", venue_code=-1021), E.VENUE_UNAVAILABLE, True, True),
    (xerr.ListenKeyExpired("expired"), E.VENUE_UNAVAILABLE, True, True),
    (xerr.MalformedPayload("garbage"), E.VENUE_UNAVAILABLE, False, True),
    (xerr.InvalidRequest("client id too long", venue="binance"), E.INVALID_PARAMS, False, False),
    (xerr.InvalidRequest("Filter failure: LOT_SIZE", venue_code=-1013), E.VENUE_REJECTED, False, True),
    (xerr.InsufficientFunds("balance", venue_code=-2019), E.VENUE_REJECTED, False, True),
    (xerr.WouldTakeLiquidity("post only", venue_code=-5022), E.VENUE_REJECTED, False, True),
    (xerr.NotFillable("fok", venue_code=-5021), E.VENUE_REJECTED, False, True),
    (xerr.DuplicateClientId("dup", venue_code=-4116), E.VENUE_REJECTED, False, True),
    (xerr.OrderRejected("no", venue_code=-2010), E.VENUE_REJECTED, False, True),
    (xerr.AuthError("bad key", venue_code=-2015), E.VENUE_REJECTED, False, True),
    (xerr.ExchangeError("something", venue_code=-1), E.VENUE_REJECTED, False, True),
    (TimeoutError(), E.VENUE_UNAVAILABLE, True, False),
    (asyncio.CancelledError(), E.UNAVAILABLE, True, False),
    # bugs of ours: never the client's fault
    (ValueError("bad"), E.INTERNAL, False, False),
    (KeyError("k"), E.INTERNAL, False, False),
    (LookupError("l"), E.INTERNAL, False, False),
    (TypeError("t"), E.INTERNAL, False, False),
    (RuntimeError("r"), E.INTERNAL, False, False),
]


@pytest.mark.parametrize(("exc", "code", "retryable", "venue"), CASES, ids=lambda v: type(v).__name__)
def test_each_row(exc: BaseException, code: ErrorCode, retryable: bool, venue: bool) -> None:
    rep = error_reply(exc)
    assert (rep.code, rep.retryable) == (code, retryable), rep
    if venue:
        assert isinstance(exc, xerr.ExchangeError)
        assert rep.venue_code == str(exc.venue_code or "") and rep.venue_message == exc.venue_message
    else:
        assert rep.venue_code == "" and rep.venue_message == ""


def test_every_row_is_reached_and_ordered_most_specific_first() -> None:
    reached = set()
    for exc, *_ in CASES:
        for i, row in enumerate(ERROR_TABLE):
            if isinstance(exc, row.cls) and (row.when is None or row.when(exc)):
                reached.add(i)
                break
    assert reached == set(range(len(ERROR_TABLE)))
    for i, row in enumerate(ERROR_TABLE):  # no row is shadowed by a broader one above it
        for above in ERROR_TABLE[:i]:
            assert not (issubclass(row.cls, above.cls) and above.when is None), (row, above)


def test_every_venue_error_class_has_its_row() -> None:
    """A new class in the venue error tree must be placed in the table, not fall into a catch-all."""
    catch_all = {xerr.ExchangeError}
    rejected_by_venue = {xerr.AuthError, xerr.OrderRejected, xerr.InvalidRequest}
    for name in xerr.__all__:
        cls = getattr(xerr, name)
        if not isinstance(cls, type) or cls in catch_all:
            continue
        row = next(r for r in ERROR_TABLE if issubclass(cls, r.cls))
        if row.cls is xerr.ExchangeError:
            assert any(issubclass(cls, ok) for ok in rejected_by_venue), name


@pytest.mark.parametrize(
    ("exc", "reject"),
    [
        (ClientIdInUse("live"), RejectCode.DUPLICATE_CLIENT_ID),
        (BadParams("x"), RejectCode.INVALID),
        (NotAvailable("x"), None),
        (RiskRejected(_BREACH), RejectCode.NOT_SENT),  # refused by the gate: never sent
        (xerr.WouldTakeLiquidity("post only", venue_code=-5022), RejectCode.WOULD_TAKE_LIQUIDITY),
        (xerr.InsufficientFunds("balance", venue_code=-2019), RejectCode.INSUFFICIENT_FUNDS),
        (xerr.OrderNotFound("unknown order", venue_code=-2013), RejectCode.NOT_FOUND),
        (xerr.RateLimited("slow down"), RejectCode.TOO_MANY_ORDERS),
        (xerr.InvalidRequest("too long", venue="binance"), RejectCode.INVALID),
        (xerr.UnknownOutcome("timeout"), None),  # not a refusal
        (xerr.ServiceUnavailable("busy"), None),
        (TimeoutError(), None),
        (ValueError("bug"), None),
    ],
    ids=lambda v: type(v).__name__,
)
def test_refusals_carry_their_reject_code(exc: BaseException, reject: RejectCode | None) -> None:
    rep = error_reply(exc)
    assert rep.reject_code is reject
    assert _to_exception(rep).reject_code is reject  # type: ignore[attr-defined]


def test_internal_names_the_bug() -> None:
    rep = error_reply(KeyError("client_id"))
    assert rep.code is E.INTERNAL and "KeyError" in rep.message


@pytest.mark.parametrize("exc", [TimeoutError(), asyncio.CancelledError()])
@pytest.mark.parametrize("op", ["submit_order c1", "cancel_order c1"])
def test_an_unanswered_order_command_is_outcome_unknown(exc: BaseException, op: str) -> None:
    ask = _Ask(actor=None, msg=None, wrap=lambda x: x, order_op=op)  # type: ignore[arg-type]
    rep = ask.fail(exc)
    assert isinstance(rep, ErrorReply)
    assert rep.code is E.OUTCOME_UNKNOWN and not rep.retryable and "c1" in rep.message
    read = _Ask(actor=None, msg=None, wrap=lambda x: x)  # type: ignore[arg-type]
    assert read.fail(exc).code is not E.OUTCOME_UNKNOWN  # type: ignore[union-attr]


def test_the_client_honours_the_reply_retryable_flag() -> None:
    banned = _to_exception(ErrorReply(code=E.RATE_LIMITED, message="banned", retryable=False))
    assert isinstance(banned, VenueUnavailable) and not banned.retryable
    limited = _to_exception(ErrorReply(code=E.RATE_LIMITED, message="slow", retryable=True))
    assert limited.retryable  # type: ignore[attr-defined]
    unknown = _to_exception(ErrorReply(code=E.OUTCOME_UNKNOWN, message="?", retryable=False))
    assert isinstance(unknown, OutcomeUnknown) and not unknown.retryable


# ----------------------------------------------------------------- one refusal vocabulary


def test_one_exec_type_and_one_reject_code_everywhere() -> None:
    from exchanges.base import ExecType as AdapterExecType
    from exchanges.sim.engine import ExecType as SimExecType
    from strategy_client.paper import RejectCode as PaperRejectCode

    assert AdapterExecType is ExecType and SimExecType is ExecType
    assert PaperRejectCode is RejectCode


def test_every_simulator_reason_has_its_code() -> None:
    assert set(SIM_CODES) == set(RejectReason)
    assert SimReject(RejectReason.LOT_SIZE, "qty").code is RejectCode.FILTER
    assert SimReject(RejectReason.POST_ONLY_WOULD_TAKE).code is RejectCode.WOULD_TAKE_LIQUIDITY


def test_binance_dialect_names_every_exec_type() -> None:
    assert set(EXEC_TYPE_TEXT) == set(ExecType)
    assert EXEC_TYPE_TEXT[ExecType.TRADE] == "TRADE"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (xerr.InsufficientFunds("x"), RejectCode.INSUFFICIENT_FUNDS),
        (xerr.WouldTakeLiquidity("x"), RejectCode.WOULD_TAKE_LIQUIDITY),
        (xerr.NotFillable("x"), RejectCode.NOT_FILLABLE),
        (xerr.DuplicateClientId("x"), RejectCode.DUPLICATE_CLIENT_ID),
        (xerr.OrderRejected("x"), RejectCode.OTHER),
        (xerr.InvalidRequest("x"), RejectCode.INVALID),
        (xerr.OrderNotFound("x"), RejectCode.NOT_FOUND),
        (xerr.AuthError("x"), RejectCode.AUTH),
        (xerr.IpBanned("x"), RejectCode.TOO_MANY_ORDERS),
        (xerr.TransportError("x"), RejectCode.NOT_SENT),
        (xerr.MalformedPayload("x"), RejectCode.OTHER),
    ],
    ids=lambda v: type(v).__name__,
)
def test_venue_errors_in_the_refusal_vocabulary(exc: xerr.ExchangeError, code: RejectCode) -> None:
    assert xerr.reject_code(exc) is code


def test_an_order_the_journal_refused_says_it_was_not_sent() -> None:
    rep = error_reply(JournalRefused("not sent: its intent could not be journaled: journal x is locked"))
    assert (rep.code, rep.retryable, rep.reject_code) == (ErrorCode.UNAVAILABLE, True, RejectCode.NOT_SENT)
    assert rep.message.startswith("not sent:")
