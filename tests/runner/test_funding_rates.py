"""``get_funding_rates``: every perpetual's funding rate in one call, from the funding actor's
cache (stream or poll) — the "new read-only command" of issue 19, served through the registry
with no handler of its own in the service and no method of its own in the clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from exchange_runner.actors.funding import FundingUpdate
from exchange_runner.service import CommandService
from strategies.paper import PaperExecution
from strategy_client.api_calls import CoreApiCalls, Route
from strategy_client.model import Exchange, FundingRate, InstrumentKey, MarketKind
from strategy_client.paper import PaperConfig
from strategy_client.security import Role, required_role
from strategy_client.wire import (
    BY_METHOD,
    ErrorCode,
    ErrorReply,
    FundingRatesReply,
    GetFundingRates,
    Reply,
    Request,
    Scope,
)
from tests.runner.fakes import PERP, FakeHost, fake_host, running, served

ETH = InstrumentKey(exchange=Exchange.BINANCE, symbol="ETHUSDT", kind=MarketKind.PERP)


def _rate(key: InstrumentKey, rate: str) -> FundingRate:
    one = Decimal(1)
    return FundingRate(
        key=key, rate=Decimal(rate), interval_ms=28_800_000, next_funding_ts_ms=1, mark_price=one, index_price=one
    )


@pytest.fixture
async def host() -> AsyncIterator[FakeHost]:
    async with fake_host() as host:
        host.funding.perps = [PERP, ETH]
        async with running(host.funding):
            yield host


async def test_every_known_rate_in_one_call_and_the_perps_not_known_yet(host: FakeHost) -> None:
    service = CommandService(host)
    empty = await served(service, GetFundingRates(exchange=Exchange.BINANCE))
    assert empty == FundingRatesReply(rates=(), missing=(PERP, ETH))
    await host.funding.tell(FundingUpdate(_rate(PERP, "0.0001")))
    got = await served(service, GetFundingRates(exchange=Exchange.BINANCE))
    assert isinstance(got, FundingRatesReply)
    assert [(r.key, r.rate) for r in got.rates] == [(PERP, Decimal("0.0001"))] and got.missing == (ETH,)
    assert host.adapter.funding == {}  # answered from the cache: no venue call


async def test_another_exchange_is_refused_and_the_role_is_read(host: FakeHost) -> None:
    reply = await served(CommandService(host), GetFundingRates(exchange=Exchange.OKX))
    assert isinstance(reply, ErrorReply) and reply.code is ErrorCode.UNKNOWN_INSTRUMENT
    assert required_role("get_funding_rates") is Role.READ
    assert BY_METHOD["get_funding_rates"].scope is Scope.MARKET


class _Runners(CoreApiCalls):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.sent: list[tuple[Request, Route]] = []

    async def _request(
        self, request: Request, route: Route, timeout_s: float | None, traceparent: str, tracestate: str
    ) -> Reply:
        self.sent.append((request, route))
        return self.reply


async def test_clients_and_paper_sessions_call_it_through_request() -> None:
    want = FundingRatesReply(rates=(_rate(PERP, "0.0002"),))
    runners = _Runners(want)
    assert await runners.request(GetFundingRates(exchange=Exchange.BINANCE)) is want
    paper = PaperExecution(runners, {Exchange.BINANCE: PaperConfig()})  # market data: the runners answer
    assert await paper.request(GetFundingRates(exchange=Exchange.BINANCE)) is want
    assert [route for _, route in runners.sent] == [Exchange.BINANCE, Exchange.BINANCE]
