"""OKX's ``expTime`` (issue 12): the adapter sends it on every placement (REST header, WebSocket
field), the offline venue does not process a place request once its clock is past it, and
``resolve_unknown`` concludes "not placed" only from the deadline it sent itself."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from exchanges.credentials import Credentials
from exchanges.errors import TimestampOutOfWindow
from exchanges.okx.adapter import OkxAdapter
from exchanges.okx.sim import OkxSim, OkxSimOptions
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from tests.helpers import free_port

PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)


@pytest.fixture
async def sim() -> AsyncIterator[OkxSim]:
    venue = OkxSim(port=free_port(), seed=17, step_ms=50, options=OkxSimOptions(ws_connects_per_s=0))
    async with venue:
        venue.venue.pause(True)
        yield venue


def _adapter(sim: OkxSim, *, ws: bool, exp_time_ms: int) -> OkxAdapter:
    creds = Credentials(sim.api_key, sim.api_secret, sim.passphrase)
    return OkxAdapter(sim.urls, creds, use_ws_orders=ws, reconcile_backoff_s=0.01, exp_time_ms=exp_time_ms)


def _market(client_id: str) -> OrderRequest:
    return OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01"), client_id=client_id)


@pytest.mark.parametrize("ws", [False, True])
async def test_a_place_request_past_its_exptime_is_not_processed(sim: OkxSim, ws: bool) -> None:
    expired = _adapter(sim, ws=ws, exp_time_ms=-1_000)  # the deadline has passed when it is sent
    await expired.start()
    try:
        if ws:
            assert expired.private is not None and expired.private.connected
        with pytest.raises(TimestampOutOfWindow) as refused:
            await expired.place_order(_market(f"exp{int(ws)}"))
        assert refused.value.venue_code == (60006 if ws else 50102)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{sim.urls.rest}/_sim/orders")).json()["orders"] == []
    finally:
        await expired.close()
    fresh = _adapter(sim, ws=ws, exp_time_ms=5_000)
    await fresh.start()
    try:
        placed = await fresh.place_order(_market(f"ok{int(ws)}"))
        assert placed.venue_id
    finally:
        await fresh.close()


async def test_not_placed_only_from_a_deadline_it_sent(sim: OkxSim) -> None:
    adapter = _adapter(sim, ws=False, exp_time_ms=5_000)
    await adapter.start()
    try:
        never_sent = _market("ghost1")
        first_sent = time.time_ns() // 1_000_000 - 3_600_000
        assert await adapter.resolve_unknown(never_sent, first_sent) is None  # no expTime known: unknown
        placed = await adapter.place_order(_market("real1"))
        found = await adapter.resolve_unknown(_market("real1"), first_sent)
        assert found is not None and found.venue_id == placed.venue_id and found.status is not OrderStatus.REJECTED
    finally:
        await adapter.close()
