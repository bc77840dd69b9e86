"""The REST API: one table of routes (method, path, role, request and response models) that
both registers the handlers and generates the OpenAPI document (:mod:`gateway.openapi`).

Every handler gets the parsed body (a msgspec Struct, decoded and validated at the edge), returns
a msgspec-encodable value (JSON, decimals as strings) or raises :class:`ApiError` /
:class:`CoreApiError`, which become RFC 9457 problem documents. State-changing routes go through
the command outbox (202 + the command) and are written to the audit log, refused ones included.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from strategy_client import ZmqRouter
from strategy_client.errors import CoreApiError
from strategy_client.journal import (
    DayPnlRow,
    DecisionRow,
    FillRow,
    FundingRow,
    HistoryFilter,
    JournalError,
    OrderRow,
    PairState,
)
from strategy_client.model import (
    Instrument,
    InstrumentKey,
    InvalidInstrumentKey,
    MarketKind,
    Order,
    OrderType,
    Position,
)
from strategy_client.wire import GetFundingRates, PriceSource, ReferencePrice

from .auth import COOKIE, KEY_CACHE_S, Principal, RateLimiter, Sessions
from .db import Db
from .journals import JournalReader
from .models import (
    ApiKeyInfo,
    AuditRow,
    BalanceView,
    BookView,
    CancelAllTicket,
    CancelTicket,
    CommandStatus,
    CommandView,
    FundingRate,
    HealthView,
    KillSwitchTicket,
    LeverageTicket,
    OrderTicket,
    Preview,
    RiskStatus,
    Role,
    RunnerView,
    SessionRequest,
    SessionView,
    StrategyView,
    SyncTicket,
    TradingStateTicket,
    TradingStateView,
)
from .preview import preview_order
from .problems import ApiError, from_core, problem_response
from .processor import Processor, order_request
from .routing import runner_for, runners_matching
from .store import GatewayStore, IdempotencyConflict, KeyRow, NewCommand, StoreError
from .stream import Hub

__all__ = ["Ctx", "Route", "ROUTES", "add_routes", "API"]

log = logging.getLogger("gateway.api")

API = "/api/v1"
MAX_WAIT_S = 30.0
OPEN = (CommandStatus.ACCEPTED, CommandStatus.RUNNING)

Handler = Callable[["Call"], Awaitable[Any]]


@dataclass
class Ctx:
    """What the handlers share."""

    router: ZmqRouter
    store: GatewayStore
    db: Db
    hub: Hub
    processor: Processor
    journals: JournalReader
    limiter: RateLimiter
    sessions: Sessions
    version: str
    tls: bool = False
    timeout_s: float = 10.0
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self.key_cache: dict[str, tuple[KeyRow, float]] = {}
        self.bad_requests: Counter[str] = Counter()
        self.responses: Counter[tuple[str, int]] = Counter()
        self.rate_limited = 0

    def bad_input(self, kind: str, sample: str) -> None:
        """Count bad input (``bad_json``, ``bad_params``, ``stream_*``); log the first of each kind."""
        self.bad_requests[kind] += 1
        if self.bad_requests[kind] == 1:
            log.warning("gateway: bad input (%s), e.g. %s; more are counted, not logged", kind, sample[:300])


@dataclass
class Call:
    """One request as a handler sees it."""

    request: web.Request
    ctx: Ctx
    principal: Principal | None
    body: Any


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under /api/v1
    handler: Handler
    role: Role | None  # None: no key needed
    summary: str
    body: type | None = None
    response: Any = None  # the 2xx body's type (OpenAPI)
    status: int = 200
    command: str = ""  # a state-changing route: the outbox command kind
    query: tuple[str, ...] = ()  # query parameters (OpenAPI)


# -- helpers ----------------------------------------------------------------------------------


def _key(text: str) -> InstrumentKey:
    try:
        return InstrumentKey.parse(text)
    except InvalidInstrumentKey as exc:
        raise ApiError("bad_params", str(exc)) from None


def _q(call: Call, name: str) -> str | None:
    value = call.request.query.get(name)
    return value if value not in (None, "") else None


def _q_int(call: Call, name: str, default: int, lo: int, hi: int) -> int:
    text = _q(call, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError("bad_params", f"{name}: expected an integer, got {text!r}") from None
    if not lo <= value <= hi:
        raise ApiError("bad_params", f"{name}: {value} is outside {lo}..{hi}")
    return value


def _q_float(call: Call, name: str, default: float, lo: float, hi: float) -> float:
    text = _q(call, name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ApiError("bad_params", f"{name}: expected a number, got {text!r}") from None
    if not lo <= value <= hi:
        raise ApiError("bad_params", f"{name}: {value} is outside {lo}..{hi}")
    return value


def _q_time(call: Call, name: str) -> int | None:
    text = _q(call, name)
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ApiError("bad_params", f"{name}: expected epoch ms or an ISO time, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _selected(call: Call) -> list[str]:
    """The runners a list read covers: ``?runner=``, ``?exchange=``, ``?key=``, else all."""
    key = _key(k) if (k := _q(call, "key")) else None
    return runners_matching(call.ctx.router, runner=_q(call, "runner"), exchange=_q(call, "exchange"), key=key)


async def _each(call: Call, fn: Callable[[str, Any], Awaitable[Any]]) -> list[tuple[str, Any]]:
    """``fn(name, exchange)`` on every selected runner at once; runners that fail are left out
    (logged), unless every one failed (then the first error is the answer)."""
    records = call.ctx.router.runners()
    names = [n for n in _selected(call) if n in records]

    async def one(name: str) -> Any:
        try:
            return await fn(name, records[name].exchange)
        except (CoreApiError, ApiError) as exc:  # that runner's answer: the others still count
            return exc

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(n)) for n in names]
    out: list[tuple[str, Any]] = []
    errors: list[BaseException] = []
    for name, task in zip(names, tasks, strict=True):
        res = task.result()
        if isinstance(res, CoreApiError | ApiError):
            log.info("gateway: %s %s: runner %s: %s", call.request.method, call.request.path, name, res)
            errors.append(res)
        else:
            out.append((name, res))
    if errors and not out:
        raise errors[0]
    return out


def _runner_of(call: Call, key: InstrumentKey) -> str:
    return runner_for(call.ctx.router, key.exchange, _q(call, "runner"))


# -- reads ------------------------------------------------------------------------------------


async def health(call: Call) -> HealthView:
    ctx = call.ctx
    return HealthView(
        status="ok", version=ctx.version, runners=len(ctx.router.runners()), uptime_s=time.monotonic() - ctx.started
    )


def _runner_view(ctx: Ctx, name: str) -> RunnerView:
    rec = ctx.router.runners().get(name)
    if rec is None:
        raise ApiError("not_found", f"no runner named {name!r} is registered")
    st = ctx.hub.last_status.get(name)
    unlisted = name in ctx.router.unlisted()
    return RunnerView(
        name=name,
        exchange=rec.exchange.value,
        mode=rec.mode,
        venue=rec.venue,
        status=rec.status,
        connected=not unlisted,
        host=rec.host,
        pid=rec.pid,
        started_ms=rec.started_at_ms,
        heartbeat_ms=rec.heartbeat_ms,
        symbols=rec.symbols,
        unlisted=unlisted,
        last_status=getattr(st, "status", ""),
        last_status_detail=getattr(st, "detail", ""),
        streams=dict(getattr(st, "streams", {})),
        last_jseq=ctx.hub.last_jseq.get(name, 0),
    )


async def runners(call: Call) -> list[RunnerView]:
    return [_runner_view(call.ctx, n) for n in sorted(call.ctx.router.runners())]


async def runner_one(call: Call) -> RunnerView:
    name = call.request.match_info["name"]
    view = _runner_view(call.ctx, name)
    pong = await call.ctx.router.runner(name).ping(timeout_s=call.ctx.timeout_s)
    return msgspec.structs.replace(view, ready=pong.ready, queues=dict(pong.queues))


async def instruments(call: Call) -> list[Instrument]:
    kind_text = _q(call, "kind")
    try:
        kind = MarketKind(kind_text) if kind_text else None
    except ValueError:
        raise ApiError("bad_params", f"kind: spot or perp, got {kind_text!r}") from None
    t = call.ctx.timeout_s
    got = await _each(call, lambda n, ex: call.ctx.router.runner(n).get_all_instruments(ex, kind=kind, timeout_s=t))
    return [i for _, items in got for i in items]


async def instrument_one(call: Call) -> Instrument:
    key = _key(call.request.match_info["key"])
    return await call.ctx.router.runner(_runner_of(call, key)).get_instrument(key, timeout_s=call.ctx.timeout_s)


async def book(call: Call) -> BookView:
    key = _key(call.request.match_info["key"])
    depth = _q_int(call, "depth", 20, 1, 1000)
    name = _runner_of(call, key)
    snap = await call.ctx.router.runner(name).get_book_snapshot(key, timeout_s=call.ctx.timeout_s)
    if not snap.books:
        raise ApiError("not_found", f"no book for {key} yet")
    b = snap.books[0]
    seq = next((s.seq for s in snap.seqs if s.topic.decode().startswith("ob|")), 0)
    return BookView(runner=name, book=msgspec.structs.replace(b, bids=b.bids[:depth], asks=b.asks[:depth]), seq=seq)


async def price(call: Call) -> ReferencePrice:
    key = _key(call.request.match_info["key"])
    text = _q(call, "source") or "mid"
    try:
        source = PriceSource(text)
    except ValueError:
        raise ApiError("bad_params", f"source: mid, bid, ask, mark or index, got {text!r}") from None
    api = call.ctx.router.runner(_runner_of(call, key))
    return await api.get_reference_price(key, source, timeout_s=call.ctx.timeout_s)


async def funding(call: Call) -> list[FundingRate]:
    t = call.ctx.timeout_s
    got = await _each(call, lambda n, ex: call.ctx.router.runner(n).request(GetFundingRates(exchange=ex), timeout_s=t))
    return [r for _, reply in got for r in reply.rates]


async def funding_one(call: Call) -> FundingRate:
    key = _key(call.request.match_info["key"])
    return await call.ctx.router.runner(_runner_of(call, key)).get_funding_rate(key, timeout_s=call.ctx.timeout_s)


async def balances(call: Call) -> list[BalanceView]:
    t = call.ctx.timeout_s
    got = await _each(call, lambda n, ex: call.ctx.router.runner(n).get_account_snapshot(ex, timeout_s=t))
    return [BalanceView(runner=n, account=a) for n, a in got]


async def positions(call: Call) -> list[Position]:
    t = call.ctx.timeout_s
    got = await _each(call, lambda n, ex: call.ctx.router.runner(n).get_all_positions(ex, timeout_s=t))
    return [p for _, ps in got for p in ps]


async def open_orders(call: Call) -> list[Order]:
    t = call.ctx.timeout_s
    key = _key(k) if (k := _q(call, "key")) else None
    got = await _each(call, lambda n, ex: call.ctx.router.runner(n).get_open_orders(key or ex, timeout_s=t))
    return [o for _, os in got for o in os]


async def order_one(call: Call) -> Order:
    key = _key(call.request.match_info["key"])
    cid = call.request.match_info["client_id"]
    api = call.ctx.router.runner(_runner_of(call, key))
    return await api.get_order(key, client_id=cid, timeout_s=call.ctx.timeout_s)


def _history_filter(call: Call) -> HistoryFilter:
    return HistoryFilter(
        since_ms=_q_time(call, "since"),
        until_ms=_q_time(call, "until"),
        key=_q(call, "key") or "",
        limit=_q_int(call, "limit", 500, 1, 10_000),
    )


async def _history(call: Call, what: str) -> list[Any]:
    f = _history_filter(call)
    try:
        return await call.ctx.db.call(call.ctx.journals.rows, "runner", what, f, _q(call, "runner"))
    except JournalError as exc:
        raise ApiError("unavailable", exc.line) from None


async def history_orders(call: Call) -> list[OrderRow]:
    return await _history(call, "orders")


async def history_fills(call: Call) -> list[FillRow]:
    return await _history(call, "fills")


async def history_funding(call: Call) -> list[FundingRow]:
    return await _history(call, "funding")


async def strategies(call: Call) -> list[StrategyView]:
    try:
        return await call.ctx.db.call(call.ctx.journals.strategies)
    except JournalError as exc:
        raise ApiError("unavailable", exc.line) from None


async def strategy_pairs(call: Call) -> list[PairState]:
    name = call.request.match_info["name"]
    closed = (_q(call, "include_closed") or "true").lower() in ("1", "true", "yes")
    try:
        pairs = await call.ctx.db.call(call.ctx.journals.pairs, name, closed)
    except JournalError as exc:
        raise ApiError("unavailable", exc.line) from None
    if pairs is None:
        raise ApiError("not_found", f"no journal of strategy {name!r}")
    return [msgspec.structs.replace(p, state=b"") for p in pairs]


async def strategy_pnl(call: Call) -> list[DayPnlRow]:
    name = call.request.match_info["name"]
    try:
        rows = await call.ctx.db.call(call.ctx.journals.pnl_by_day, name)
    except JournalError as exc:
        raise ApiError("unavailable", exc.line) from None
    if rows is None:
        raise ApiError("not_found", f"no journal of strategy {name!r}")
    return rows


async def strategy_decisions(call: Call) -> list[DecisionRow]:
    name = call.request.match_info["name"]
    try:
        rows = await call.ctx.db.call(call.ctx.journals.decisions, name, _history_filter(call))
    except JournalError as exc:
        raise ApiError("unavailable", exc.line) from None
    if rows is None:
        raise ApiError("not_found", f"no journal of strategy {name!r}")
    return rows


async def risk(call: Call) -> list[RiskStatus]:
    t = call.ctx.timeout_s
    got = await _each(call, lambda n, ex: call.ctx.router.runner(n).get_risk_status(ex, timeout_s=t))
    return [s for _, s in got]


async def trading_state(call: Call) -> list[TradingStateView]:
    t = call.ctx.timeout_s
    got = await _each(call, lambda n, ex: call.ctx.router.runner(n).get_risk_status(ex, timeout_s=t))
    return [TradingStateView(runner=n, state=s.state, reason=s.state_reason) for n, s in got]


async def command_one(call: Call) -> CommandView:
    cid = call.request.match_info["id"]
    view = await call.ctx.db.call(call.ctx.store.get, cid)
    if view is None:
        raise ApiError("not_found", f"no command {cid!r}")
    return view


async def command_list(call: Call) -> list[CommandView]:
    return await call.ctx.db.call(call.ctx.store.latest, _q_int(call, "limit", 50, 1, 1000))


async def audit_list(call: Call) -> list[AuditRow]:
    return await call.ctx.db.call(call.ctx.store.audit_rows, _q_int(call, "limit", 100, 1, 10_000))


async def keys_list(call: Call) -> list[ApiKeyInfo]:
    return await call.ctx.db.call(call.ctx.store.list_keys)


async def preview(call: Call) -> Preview:
    ticket: OrderTicket = call.body
    _check_order(ticket)
    key = _key(ticket.key)
    name = runner_for(call.ctx.router, key.exchange, ticket.runner)
    return await preview_order(call.ctx.router.runner(name), name, ticket, call.ctx.timeout_s)


# -- sessions ---------------------------------------------------------------------------------


async def session_open(call: Call) -> web.Response:
    body: SessionRequest = call.body
    row = await _verify(call.ctx, body.api_key)
    if row is None:
        raise ApiError("unauthorized", "unknown or revoked API key")
    call.request["audit_key_id"] = row.key_id
    token, expires = call.ctx.sessions.open(Principal(row.key_id, row.role, row.label, "key"))
    view = SessionView(key_id=row.key_id, role=row.role, label=row.label, expires_ms=int(expires * 1000))
    resp = web.Response(body=msgspec.json.encode(view), content_type="application/json")
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=call.ctx.tls,
        path="/",
        max_age=int(call.ctx.sessions.ttl_s),
    )
    return resp


async def session_who(call: Call) -> SessionView:
    """Who is asking: the session's key (or the ``X-API-Key``'s), its role, when the session ends."""
    assert call.principal is not None
    p = call.principal
    expires = call.ctx.sessions.expires(call.request.cookies.get(COOKIE, "")) if p.via == "session" else 0.0
    return SessionView(key_id=p.key_id, role=p.role, label=p.label, expires_ms=int(expires * 1000))


async def session_close(call: Call) -> web.Response:
    token = call.request.cookies.get(COOKIE)
    if token:
        ended = call.ctx.sessions.get(token)
        call.request["audit_key_id"] = ended.key_id if ended else ""
        call.ctx.sessions.close(token)
    resp = web.Response(status=204)
    resp.del_cookie(COOKIE, path="/")
    return resp


# -- commands ---------------------------------------------------------------------------------


def _check_order(ticket: OrderTicket) -> None:
    try:
        order_request(ticket)
    except (ValueError, InvalidInstrumentKey) as exc:
        raise ApiError("bad_params", str(exc)) from None
    if ticket.type is OrderType.LIMIT and ticket.price is None:
        raise ApiError("bad_params", "price: a limit order needs a price")


def _validate(kind: str, call: Call) -> None:
    """What can be refused before the outbox: the instrument key, the numbers, the runner."""
    body = call.body
    router = call.ctx.router
    if kind == "submit_order":
        _check_order(body)
        runner_for(router, _key(body.key).exchange, body.runner)
    elif kind in ("cancel_order", "set_leverage"):
        runner_for(router, _key(body.key).exchange, body.runner)
        if kind == "cancel_order" and not body.client_id and not body.venue_id:
            raise ApiError("bad_params", "cancel: give client_id or venue_id")
    elif kind == "cancel_all":
        runners_matching(router, runner=body.runner, exchange=body.exchange, key=_key(body.key) if body.key else None)
    elif (kind == "set_trading_state" and body.runner) or kind == "sync":
        runners_matching(router, runner=body.runner)


def command_handler(kind: str) -> Handler:
    async def handle(call: Call) -> web.Response:
        ctx = call.ctx
        if kind == "sync":
            call.body = SyncTicket(runner=call.request.match_info["name"])
        _validate(kind, call)
        idem = call.request.headers.get("Idempotency-Key")
        if idem is not None and not 1 <= len(idem) <= 64:
            raise ApiError("bad_params", "Idempotency-Key: 1 to 64 characters")
        assert call.principal is not None
        new = NewCommand(
            kind=kind, key_id=call.principal.key_id, request=msgspec.to_builtins(call.body), idempotency_key=idem
        )
        try:
            view, created = await ctx.db.call(ctx.store.accept, new)
        except IdempotencyConflict as exc:
            raise ApiError("idempotency_conflict", str(exc)) from None
        if created:
            ctx.processor.push(view.id)
        wait = _q_float(call, "wait", 0.0, 0.0, MAX_WAIT_S)
        if wait and view.status in OPEN:
            finished = ctx.processor.watch(view.id)
            latest = await ctx.db.call(ctx.store.get, view.id)  # it may have finished meanwhile
            if latest is not None and latest.status in OPEN:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await finished.wait()
                latest = await ctx.db.call(ctx.store.get, view.id)
            view = latest if latest is not None else view
        done = view.status not in OPEN
        resp = web.Response(
            body=msgspec.json.encode(view),
            status=200 if done else 202,
            content_type="application/json",
            headers={"Location": f"{API}/commands/{view.id}"},
        )
        call.request["command_id"] = view.id
        return resp

    return handle


# -- the table --------------------------------------------------------------------------------

R = Role
ROUTES: Sequence[Route] = (
    Route("GET", "/health", health, None, "liveness and the number of runners", response=HealthView),
    Route("GET", "/runners", runners, R.READ, "runners and their health", response=list[RunnerView]),
    Route("GET", "/runners/{name}", runner_one, R.READ, "one runner, pinged now", response=RunnerView),
    Route(
        "GET",
        "/instruments",
        instruments,
        R.READ,
        "instruments",
        response=list[Instrument],
        query=("exchange", "kind", "runner"),
    ),
    Route(
        "GET", "/instruments/{key}", instrument_one, R.READ, "one instrument", response=Instrument, query=("runner",)
    ),
    Route(
        "GET", "/books/{key}", book, R.READ, "a book (top depth levels)", response=BookView, query=("depth", "runner")
    ),
    Route(
        "GET", "/prices/{key}", price, R.READ, "a reference price", response=ReferencePrice, query=("source", "runner")
    ),
    Route(
        "GET",
        "/funding",
        funding,
        R.READ,
        "every perpetual's funding rate",
        response=list[FundingRate],
        query=("exchange", "runner"),
    ),
    Route("GET", "/funding/{key}", funding_one, R.READ, "one funding rate", response=FundingRate, query=("runner",)),
    Route(
        "GET",
        "/balances",
        balances,
        R.READ,
        "account snapshots",
        response=list[BalanceView],
        query=("exchange", "runner"),
    ),
    Route("GET", "/positions", positions, R.READ, "positions", response=list[Position], query=("exchange", "runner")),
    Route(
        "GET",
        "/orders",
        open_orders,
        R.READ,
        "open orders (UNKNOWN included)",
        response=list[Order],
        query=("exchange", "key", "runner"),
    ),
    Route("GET", "/orders/{key}/{client_id}", order_one, R.READ, "one order", response=Order, query=("runner",)),
    Route(
        "GET",
        "/history/orders",
        history_orders,
        R.READ,
        "journaled orders",
        response=list[OrderRow],
        query=("runner", "key", "since", "until", "limit"),
    ),
    Route(
        "GET",
        "/history/fills",
        history_fills,
        R.READ,
        "journaled fills",
        response=list[FillRow],
        query=("runner", "key", "since", "until", "limit"),
    ),
    Route(
        "GET",
        "/history/funding",
        history_funding,
        R.READ,
        "journaled funding payments",
        response=list[FundingRow],
        query=("runner", "key", "since", "until", "limit"),
    ),
    Route("GET", "/strategies", strategies, R.READ, "strategies from their journals", response=list[StrategyView]),
    Route(
        "GET",
        "/strategies/{name}/pairs",
        strategy_pairs,
        R.READ,
        "a strategy's pairs",
        response=list[PairState],
        query=("include_closed",),
    ),
    Route(
        "GET", "/strategies/{name}/pnl", strategy_pnl, R.READ, "a strategy's PnL by UTC day", response=list[DayPnlRow]
    ),
    Route(
        "GET",
        "/strategies/{name}/decisions",
        strategy_decisions,
        R.READ,
        "a strategy's decisions and edge terms",
        response=list[DecisionRow],
        query=("key", "since", "until", "limit"),
    ),
    Route(
        "GET", "/risk", risk, R.READ, "each runner's risk gate", response=list[RiskStatus], query=("exchange", "runner")
    ),
    Route(
        "GET",
        "/trading-state",
        trading_state,
        R.READ,
        "each runner's trading state",
        response=list[TradingStateView],
        query=("exchange", "runner"),
    ),
    Route(
        "GET", "/commands", command_list, R.READ, "the latest commands", response=list[CommandView], query=("limit",)
    ),
    Route("GET", "/commands/{id}", command_one, R.READ, "one command's fate", response=CommandView),
    Route("GET", "/audit", audit_list, R.ADMIN, "the audit log", response=list[AuditRow], query=("limit",)),
    Route("GET", "/keys", keys_list, R.ADMIN, "the API keys (never their secrets)", response=list[ApiKeyInfo]),
    Route(
        "POST",
        "/orders/preview",
        preview,
        R.READ,
        "fit an order to the filters and ask the risk gate; nothing is sent",
        body=OrderTicket,
        response=Preview,
    ),
    Route(
        "POST",
        "/session",
        session_open,
        None,
        "exchange an API key for a session cookie",
        body=SessionRequest,
        response=SessionView,
    ),
    Route("GET", "/session", session_who, R.READ, "who is asking (the session or the key)", response=SessionView),
    Route("DELETE", "/session", session_close, None, "end the session", status=204),
    Route(
        "POST",
        "/orders",
        command_handler("submit_order"),
        R.TRADE,
        "submit an order (command)",
        body=OrderTicket,
        response=CommandView,
        status=202,
        command="submit_order",
        query=("wait",),
    ),
    Route(
        "POST",
        "/orders/cancel",
        command_handler("cancel_order"),
        R.TRADE,
        "cancel an order (command)",
        body=CancelTicket,
        response=CommandView,
        status=202,
        command="cancel_order",
        query=("wait",),
    ),
    Route(
        "POST",
        "/orders/cancel-all",
        command_handler("cancel_all"),
        R.TRADE,
        "cancel every matching open order",
        body=CancelAllTicket,
        response=CommandView,
        status=202,
        command="cancel_all",
        query=("wait",),
    ),
    Route(
        "POST",
        "/leverage",
        command_handler("set_leverage"),
        R.ADMIN,
        "set leverage (command)",
        body=LeverageTicket,
        response=CommandView,
        status=202,
        command="set_leverage",
        query=("wait",),
    ),
    Route(
        "POST",
        "/trading-state",
        command_handler("set_trading_state"),
        R.ADMIN,
        "set the trading state",
        body=TradingStateTicket,
        response=CommandView,
        status=202,
        command="set_trading_state",
        query=("wait",),
    ),
    Route(
        "POST",
        "/kill-switch",
        command_handler("kill_switch"),
        R.ADMIN,
        "halt every runner",
        body=KillSwitchTicket,
        response=CommandView,
        status=202,
        command="kill_switch",
        query=("wait",),
    ),
    Route(
        "POST",
        "/runners/{name}/sync",
        command_handler("sync"),
        R.ADMIN,
        "reconcile a runner with its venue now",
        response=CommandView,
        status=202,
        command="sync",
        query=("wait",),
    ),
)


# -- the wrapper: auth, body, errors, audit ---------------------------------------------------


async def _verify(ctx: Ctx, text: str) -> KeyRow | None:
    now = time.monotonic()
    hit = ctx.key_cache.get(text)
    if hit is not None and hit[1] > now:
        return hit[0]
    row = await ctx.db.call(ctx.store.verify_key, text)
    if row is not None:
        if len(ctx.key_cache) > 10_000:
            ctx.key_cache.clear()
        ctx.key_cache[text] = (row, now + KEY_CACHE_S)
    return row


async def authenticate(ctx: Ctx, request: web.Request) -> Principal:
    """The key (``X-API-Key``) or the session cookie behind ``request``; 401 otherwise."""
    text = request.headers.get("X-API-Key")
    if text:
        row = await _verify(ctx, text)
        if row is None:
            raise ApiError("unauthorized", "unknown or revoked API key")
        return Principal(row.key_id, row.role, row.label, "key")
    token = request.cookies.get(COOKIE)
    if token:
        principal = ctx.sessions.get(token)
        if principal is None:
            raise ApiError("unauthorized", "the session has ended: log in again")
        return principal
    raise ApiError("unauthorized", "no API key: send X-API-Key, or log in (POST /api/v1/session)")


def authorize(ctx: Ctx, request: web.Request, principal: Principal, role: Role, changes: bool) -> None:
    if not principal.role.allows(role):
        raise ApiError(
            "forbidden",
            f"{request.method} {request.path} needs role {role.value}; "
            f"key {principal.key_id} has {principal.role.value}",
        )
    if changes and principal.via == "session":
        origin = request.headers.get("Origin")
        if origin and origin.split("://", 1)[-1] != request.host:
            raise ApiError("forbidden", f"cross-origin request from {origin} refused")
    wait = ctx.limiter.check(principal.key_id)
    if wait:
        ctx.rate_limited += 1
        raise ApiError(
            "rate_limited", f"key {principal.key_id}: over {ctx.limiter.rate:g} requests/s", retry_after_s=wait
        )


def _float_at(value: Any, path: str = "") -> str | None:
    """The path of the first JSON float in ``value`` (money is written as strings)."""
    if isinstance(value, float):
        return path or "body"
    if isinstance(value, dict):
        for k, v in value.items():
            found = _float_at(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _float_at(v, f"{path}[{i}]")
            if found:
                return found
    return None


async def _body(route: Route, request: web.Request) -> tuple[Any, bytes]:
    """The body decoded and validated into the route's Struct. Floats are refused: every number
    of money is a decimal string (as on the wire), a float is not exact."""
    if route.body is None:
        return None, b""
    raw = await request.read()
    try:
        tree = msgspec.json.decode(raw or b"{}")
    except msgspec.DecodeError as exc:
        raise ApiError("bad_json", f"the body is not JSON: {exc}") from None
    where = _float_at(tree)
    if where is not None:
        raise ApiError("bad_params", f"{where}: floats are not exact; write decimals as strings")
    try:
        return msgspec.convert(tree, route.body), raw
    except msgspec.ValidationError as exc:
        raise ApiError("bad_params", str(exc)) from None
    except ValueError as exc:  # a struct's own check (OrderRequest numbers)
        raise ApiError("bad_params", str(exc)) from None


def _encode(route: Route, result: Any) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    return web.Response(body=msgspec.json.encode(result), status=route.status, content_type="application/json")


def wrap(route: Route, ctx: Ctx) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    changes = bool(route.command)

    async def handler(request: web.Request) -> web.StreamResponse:
        principal: Principal | None = None
        raw = b""
        try:
            if route.role is not None:
                principal = await authenticate(ctx, request)
                authorize(ctx, request, principal, route.role, changes)
            body, raw = await _body(route, request)
            resp = _encode(route, await route.handler(Call(request, ctx, principal, body)))
            outcome = "ok"
        except ApiError as err:
            if err.code in ("bad_params", "bad_json"):
                ctx.bad_input(err.code, f"{request.method} {request.path}: {err.problem.detail}")
            resp, outcome = problem_response(err, request.path), f"{err.code}: {err.problem.detail}"
        except CoreApiError as exc:
            core = from_core(exc)
            resp, outcome = problem_response(core, request.path), f"{core.code}: {exc}"
        except StoreError as exc:
            resp, outcome = problem_response(ApiError("unavailable", str(exc)), request.path), str(exc)
        ctx.responses[(route.path, resp.status)] += 1
        if changes or route.path == "/session":  # state-changing: written down, refused ones too
            await _audit(ctx, request, principal, _redacted(route, raw), resp.status, outcome)
        return resp

    return handler


def _redacted(route: Route, raw: bytes) -> bytes:
    """The body as audited: never an API key (the session request carries one)."""
    return b'{"api_key":"***"}' if route.body is SessionRequest else raw


async def _audit(
    ctx: Ctx, request: web.Request, principal: Principal | None, raw: bytes, status: int, outcome: str
) -> None:
    try:
        await ctx.db.call(
            ctx.store.audit,
            key_id=principal.key_id if principal else request.get("audit_key_id", ""),
            method=request.method,
            path=request.path_qs,
            body=raw.decode(errors="replace"),
            status=status,
            outcome=outcome,
            command_id=request.get("command_id"),
            remote=request.remote or "",
        )
    except StoreError as exc:
        log.error("gateway: audit log write failed: %s", exc)


def add_routes(app: web.Application, ctx: Ctx) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, API + route.path, wrap(route, ctx))
