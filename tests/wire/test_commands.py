"""The command registry: every request declared once, and the faces driven from it (the
client's ``request``, the sync facade, the paper session, the permission check, the actors)
agree with it."""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from exchange_runner.actors.account import AccountManager
from exchange_runner.actors.funding import FundingPoller
from exchange_runner.actors.market import MarketDataManager
from exchange_runner.actors.order import OrderManager
from exchange_runner.actors.position import PositionManager
from exchange_runner.actors.price import PriceManager
from strategies.paper import PaperExecution
from strategy_client.api_calls import CoreApiCalls, Route
from strategy_client.command_client import _MUTATING, _ORDER_COMMANDS
from strategy_client.core_api import CoreApi
from strategy_client.errors import BadReply, InvalidRequest
from strategy_client.model import Exchange, FundingRate, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.paper import PaperConfig
from strategy_client.security import Role, required_role
from strategy_client.sync_client import SyncApi
from strategy_client.wire import (
    BY_METHOD,
    COMMANDS,
    FundingReply,
    GetAllPositions,
    GetFundingRate,
    GetRiskStatus,
    Permission,
    Pong,
    Query,
    Reply,
    Request,
    Routing,
    Scope,
    SubmitOrder,
    command,
)

PERP = InstrumentKey(exchange=Exchange.BINANCE, symbol="BTCUSDT", kind=MarketKind.PERP)
#: The roles the runner enforced before the registry existed (docs/security.md): unchanged.
ROLES_BEFORE = {
    **dict.fromkeys(
        [
            "ping",
            "get_order",
            "get_open_orders",
            "report_gap",
            "replay_events",
            "get_position",
            "get_all_positions",
            "get_instrument",
            "get_all_instruments",
            "get_reference_price",
            "get_funding_rate",
            "get_account_snapshot",
            "get_book_snapshot",
            "get_risk_status",
        ],
        Role.READ,
    ),
    "submit_order": Role.TRADE,
    "cancel_order": Role.TRADE,
    "set_leverage": Role.ADMIN,
    "set_risk_limit": Role.ADMIN,
    "set_trading_state": Role.ADMIN,
}


def test_every_request_on_the_wire_is_declared_with_a_reply_on_the_wire() -> None:
    assert set(Request.__args__) == set(COMMANDS)
    replies = set(Reply.__args__)
    for cls, spec in COMMANDS.items():
        assert spec.reply in replies, spec.method
        assert spec.method == cls.__struct_config__.tag
        assert BY_METHOD[spec.method] is spec


def test_roles_come_from_the_registry() -> None:
    for method, spec in BY_METHOD.items():
        assert required_role(method) is Role[spec.permission.name], method
    for method, role in ROLES_BEFORE.items():  # the registry kept every role as it was
        assert required_role(method) is role, method
    assert required_role("not_a_command") is Role.ADMIN


def test_which_unanswered_commands_have_an_unknown_outcome() -> None:
    """The command client's "outcome unknown" classes, read from the registry: the order
    commands (role trade), and everything that changes the account at the venue."""
    assert {"submit_order", "cancel_order"} == _ORDER_COMMANDS
    assert {"submit_order", "cancel_order", "set_leverage"} == _MUTATING


def test_declaring_badly_is_refused_at_import() -> None:
    class _Req(msgspec.Struct, frozen=True, kw_only=True, tag_field="method"):
        pass

    with pytest.raises(TypeError, match="already declared"):

        @command(route=Routing.CALLER, scope=Scope.RUNNER)
        class Again(_Req, Query[Pong], frozen=True, tag="ping"):
            pass

    with pytest.raises(TypeError, match="no field 'key'"):

        @command(route=Routing.INSTRUMENT, scope=Scope.MARKET)
        class NoKey(_Req, Query[Pong], frozen=True, tag="test_no_key"):
            exchange: Exchange

    with pytest.raises(TypeError, match="Query"):

        @command(route=Routing.CALLER, scope=Scope.RUNNER)
        class NoReply(_Req, frozen=True, tag="test_no_reply"):
            pass

    assert "test_no_key" not in BY_METHOD and "test_no_reply" not in BY_METHOD


def test_routes() -> None:
    order = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("1"))
    assert COMMANDS[SubmitOrder].route_of(SubmitOrder(order=order)) == PERP
    assert COMMANDS[GetFundingRate].route_of(GetFundingRate(key=PERP)) == PERP
    assert COMMANDS[GetAllPositions].route_of(GetAllPositions(exchange=Exchange.OKX)) is Exchange.OKX
    assert COMMANDS[GetRiskStatus].route_of(GetRiskStatus()) is None


def test_the_actors_answer_only_declared_commands() -> None:
    for actor in (OrderManager, PositionManager, PriceManager, FundingPoller, AccountManager, MarketDataManager):
        for cls in actor.ANSWERS:
            assert cls in COMMANDS, (actor.__name__, cls.__name__)


def _api_methods(cls: type) -> dict[str, Any]:
    return {n: v for n, v in vars(cls).items() if not n.startswith("_") and inspect.iscoroutinefunction(v)}


def test_the_client_faces_cannot_drift() -> None:
    """Each command of the CoreApi has its named method on the async API, the sync facade and
    the paper session, with the same parameters; everything else is reached by ``request``."""
    core = _api_methods(CoreApi)
    calls = _api_methods(CoreApiCalls)
    assert set(core) <= set(calls)
    for name in core:
        params = list(inspect.signature(core[name]).parameters)
        assert list(inspect.signature(getattr(SyncApi, name)).parameters) == params, name
        assert list(inspect.signature(getattr(PaperExecution, name)).parameters) == params, name
    for name in calls:  # a named method is a command's (or the generic ``request``)
        assert name in BY_METHOD or name == "request", name
    for spec in COMMANDS.values():  # the rest are reached by ``request`` — except on paper:
        if spec.scope is Scope.ACCOUNT:  # a paper session answers these itself
            assert spec.method in vars(PaperExecution), spec.method


class _Canned(CoreApiCalls):
    """A CoreApiCalls whose transport answers with ``reply`` and keeps the route it was given."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.routes: list[Route] = []

    async def _request(
        self, request: Request, route: Route, timeout_s: float | None, traceparent: str, tracestate: str
    ) -> Reply:
        self.routes.append(route)
        return self.reply


async def test_request_routes_and_checks_the_reply_from_the_registry() -> None:
    rate = FundingRate(
        key=PERP,
        rate=Decimal("0.0001"),
        interval_ms=1,
        next_funding_ts_ms=1,
        mark_price=Decimal(1),
        index_price=Decimal(1),
    )
    api = _Canned(FundingReply(funding=rate))
    got = await api.request(GetFundingRate(key=PERP))
    assert got.funding is rate and api.routes == [PERP]
    await api.request(GetFundingRate(key=PERP), "binance")
    assert api.routes[-1] is Exchange.BINANCE
    with pytest.raises(InvalidRequest, match="name the exchange"):
        await api.request(GetRiskStatus())
    with pytest.raises(BadReply, match="get_risk_status: expected a RiskStatusReply"):
        await api.request(GetRiskStatus(), Exchange.BINANCE)
    with pytest.raises(InvalidRequest, match="not a command"):
        await api.request(Query())
    assert (await api.get_funding_rate(PERP)) is rate


async def test_a_paper_session_passes_market_commands_to_the_runners() -> None:
    inner = _Canned(Pong(exchange=Exchange.BINANCE, runner_version="x", protocol_version=1))
    paper = PaperExecution(inner, {Exchange.BINANCE: PaperConfig()})
    assert isinstance(paper, CoreApi)
    with pytest.raises(BadReply):  # the runners' answer is checked as any client's
        await paper.request(GetFundingRate(key=PERP))
    assert inner.routes == [PERP]
    with pytest.raises(InvalidRequest, match="paper session answers it itself"):
        await paper.request(GetAllPositions(exchange=Exchange.BINANCE))
    assert COMMANDS[GetAllPositions].permission is Permission.READ
