"""``reconcile`` (admin): the periodic reconcile on demand — the account, the positions, then
every order, each asked of the venue (the gateway's manual sync). Real actors, fake venue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from exchange_runner.service import CommandService
from strategy_client.model import Exchange, Order, OrderStatus, OrderType, Position, Side, TimeInForce
from strategy_client.security import Role, required_role
from strategy_client.wire import (
    BY_METHOD,
    ErrorCode,
    ErrorReply,
    GetAllPositions,
    GetOpenOrders,
    Header,
    OrdersReply,
    PositionsReply,
    ReconcileNow,
    ReconcileReply,
    Scope,
)
from tests.runner.fakes import PERP, FakeHost, fake_host, running, served


@pytest.fixture
async def host() -> AsyncIterator[FakeHost]:
    async with fake_host() as host, running(*host.actors()):
        yield host


async def test_reconcile_learns_what_the_venue_did_meanwhile(host: FakeHost) -> None:
    service = CommandService(host)
    # the venue has an order and a position the runner was never told about
    host.adapter.orders["ext-1"] = Order(
        key=PERP, client_id="ext-1", venue_id="9", side=Side.BUY, type=OrderType.LIMIT, tif=TimeInForce.GTC,
        price=Decimal("100"), qty=Decimal("1"), status=OrderStatus.NEW,
    )  # fmt: skip
    host.adapter.positions.append(Position(key=PERP, size=Decimal("0.5"), entry_price=Decimal("100")))
    before = await served(service, GetOpenOrders(key=PERP))
    assert isinstance(before, OrdersReply) and before.orders == ()
    reply = await service.handle(ReconcileNow(exchange=Exchange.BINANCE), Header(timeout_ms=2000))
    assert reply == ReconcileReply(positions=1, open_orders=1)
    after = await served(service, GetOpenOrders(key=PERP))
    assert isinstance(after, OrdersReply) and [o.client_id for o in after.orders] == ["ext-1"]
    positions = await served(service, GetAllPositions(exchange=Exchange.BINANCE))
    assert isinstance(positions, PositionsReply) and [p.size for p in positions.positions] == [Decimal("0.5")]


async def test_another_exchange_is_refused_and_the_role_is_admin(host: FakeHost) -> None:
    reply = await CommandService(host).handle(ReconcileNow(exchange=Exchange.OKX), Header(timeout_ms=2000))
    assert isinstance(reply, ErrorReply) and reply.code is ErrorCode.UNKNOWN_INSTRUMENT
    assert required_role("reconcile") is Role.ADMIN
    assert BY_METHOD["reconcile"].scope is Scope.RUNNER
