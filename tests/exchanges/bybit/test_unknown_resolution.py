"""Bybit's idempotency key, as the offline venue models it and the adapter relies on it (issue 12):
``orderLinkId`` refused a second time (110072 linear, 170141 spot) for open AND closed orders, a
5xx before execution leaves nothing behind, and ``resolve_unknown`` re-sends under the same id
only while the request is young — one order at the venue whatever happens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.parse import order_params
from exchanges.bybit.sim import BybitSim
from exchanges.credentials import Credentials
from exchanges.errors import DuplicateClientId, UnknownOutcome
from exchanges.sim.faults import FaultRequest
from strategy_client.model import InstrumentKey, OrderRequest, OrderStatus, OrderType, Side
from tests.helpers import free_port

D = Decimal
PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")
SPOT = InstrumentKey.parse("bybit:spot:BTCUSDT")


@pytest.fixture
async def sim() -> AsyncIterator[BybitSim]:
    venue = BybitSim(port=free_port(), seed=21, step_ms=50)
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def adapter(sim: BybitSim) -> AsyncIterator[BybitAdapter]:
    ad = BybitAdapter(
        sim.urls, Credentials(sim.api_key, sim.api_secret), reconcile_attempts=1, reconcile_backoff_s=0.01
    )
    async with ad:
        yield ad


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def venue_orders(sim: BybitSim, client_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        books = (await http.get(f"{sim.urls.rest}/_sim/orders")).json()
    return [o for o in books["orders"] if o["client_order_id"] == client_id]


@pytest.mark.parametrize(("key", "code"), [(PERP, 110072), (SPOT, 170141)])
async def test_an_order_link_id_is_refused_twice_open_or_closed(
    sim: BybitSim, adapter: BybitAdapter, key: InstrumentKey, code: int
) -> None:
    resting = OrderRequest(
        key=key, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.01"), price=D("20000"), client_id="open-1"
    )
    await adapter.place_order(resting)
    symbol = key.symbol
    with pytest.raises(DuplicateClientId) as open_dup:
        await adapter.rest.create_order(order_params(resting, symbol, "open-1"))
    assert open_dup.value.venue_code == code
    closed = OrderRequest(key=key, side=Side.BUY, type=OrderType.MARKET, qty=D("0.001"), client_id="closed-1")
    assert (await adapter.place_order(closed)).status is OrderStatus.FILLED
    with pytest.raises(DuplicateClientId) as closed_dup:
        await adapter.rest.create_order(order_params(closed, symbol, "closed-1"))
    assert closed_dup.value.venue_code == code
    assert len(await venue_orders(sim, "open-1")) == 1 and len(await venue_orders(sim, "closed-1")) == 1


async def test_a_5xx_before_execution_leaves_no_order_and_the_resend_places_it_once(
    sim: BybitSim, adapter: BybitAdapter
) -> None:
    req = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.01"), price=D("20000"), client_id="b-1")
    sim.faults.arm(FaultRequest(fail_next=1, fail_status=503, host="futures", path_prefix="/v5/order/create"))
    sent = _now_ms()
    with pytest.raises(UnknownOutcome):
        await adapter.place_order(req)
    assert await venue_orders(sim, "b-1") == []  # 10016 before execution: nothing at the venue
    first = await adapter.resolve_unknown(req, sent)
    assert first is not None and first.status is OrderStatus.NEW and first.venue_id
    again = await adapter.resolve_unknown(req, sent)  # re-sent again: 110072, our own order read back
    assert again is not None and again.venue_id == first.venue_id
    assert len(await venue_orders(sim, "b-1")) == 1


async def test_past_the_window_nothing_is_resent(sim: BybitSim, adapter: BybitAdapter) -> None:
    req = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.01"), price=D("20000"), client_id="o-1")
    assert adapter.resend_window_ms == adapter.rest.recv_window_ms + 2000
    old = _now_ms() - adapter.resend_window_ms - 1
    assert await adapter.resolve_unknown(req, old) is None
    assert await venue_orders(sim, "o-1") == []
