"""Issue 12, defect 2, on a real runner process and its embedded offline Binance venue: a venue
slower than the caller's ``timeout_ms`` that fills the order. The reply must not be a retryable
failure (``venue_unavailable``); the runner keeps the order and learns the fill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import OutcomeUnknown, RequestTimeout
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.wire import ErrorCode, GetOrder, OrderEvent, OrderReply, SubmitOrder

from ..helpers import eventually
from .conftest import RunnerProc
from .rawsub import Sub

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


@pytest.fixture()
async def client(runner_proc: RunnerProc) -> AsyncIterator[tuple[ZmqCommandClient, Sub, httpx.AsyncClient]]:
    rec = runner_proc.record()
    sub = Sub(rec.pub_endpoint)
    cli = ZmqCommandClient(rec.router_endpoint, name=rec.name)
    await cli.connect()
    admin = httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner_proc.sim_port_base}/_sim/")
    yield cli, sub, admin
    await admin.delete("faults")
    await admin.aclose()
    await cli.close()
    await sub.close()


async def _slow_venue(admin: httpx.AsyncClient, delay_ms: int) -> None:
    rep = await admin.post("faults", json={"delay_ms": delay_ms, "host": "futures"})
    assert rep.status_code == 200, rep.text


def _events(sub: Sub, cid: str) -> list[OrderEvent]:
    return [e for e in sub.of(OrderEvent) if isinstance(e, OrderEvent) and e.order.client_id == cid]


async def _status(cli: ZmqCommandClient, cid: str) -> OrderStatus:
    rep = await cli.call(GetOrder(key=PERP, client_id=cid), timeout_s=5)
    assert isinstance(rep, OrderReply)
    return rep.order.status


async def test_a_fill_slower_than_timeout_ms_is_not_a_retryable_failure(
    client: tuple[ZmqCommandClient, Sub, httpx.AsyncClient],
) -> None:
    cli, sub, admin = client
    # the user stream is quiet about this order until the venue answers: kill it as we send
    await _slow_venue(admin, 4000)
    await admin.post("ws/kill", json={"host": "futures", "target": "user"})
    order = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.010"), client_id="e2e-slow-1")
    reply: Any
    try:
        reply = await cli.call(SubmitOrder(order=order), timeout_s=2.0)
    except OutcomeUnknown as exc:
        reply = exc
    # before: ErrorReply venue_unavailable, retryable=true ("the runner timed out waiting for the venue")
    if isinstance(reply, OutcomeUnknown):
        assert reply.code is ErrorCode.OUTCOME_UNKNOWN and not reply.retryable, reply
        assert "e2e-slow-1" in str(reply)
    else:  # the user stream (reconnected) told the runner first: it answers with what it knows
        assert isinstance(reply, OrderReply) and reply.order.client_id == "e2e-slow-1", reply
    await admin.delete("faults")

    async def filled() -> bool:
        return await _status(cli, "e2e-slow-1") is OrderStatus.FILLED

    await eventually(filled, timeout=20, interval=0.1, what="get_order shows FILLED")
    await eventually(
        lambda: any(e.order.status is OrderStatus.FILLED for e in _events(sub, "e2e-slow-1")),
        timeout=10,
        what="FILLED on the exec topic",
    )
    statuses = [e.order.status for e in _events(sub, "e2e-slow-1")]
    assert OrderStatus.REJECTED not in statuses
    if isinstance(reply, OutcomeUnknown):
        assert statuses[0] is OrderStatus.UNKNOWN, statuses  # UNKNOWN → … → FILLED
        assert statuses.index(OrderStatus.UNKNOWN) < statuses.index(OrderStatus.FILLED)


async def test_the_client_own_timeout_on_a_submit_is_outcome_unknown(
    client: tuple[ZmqCommandClient, Sub, httpx.AsyncClient],
) -> None:
    """The client gives up before the runner answers: the runner may have sent it, so it is
    ``OutcomeUnknown`` (never a retryable RequestTimeout); the order is still learned."""
    cli, _sub, admin = client
    await _slow_venue(admin, 3000)
    order = OrderRequest(key=PERP, side=Side.SELL, type=OrderType.MARKET, qty=Decimal("0.010"), client_id="e2e-cli-1")
    # the runner waits at least 1 s for any call; the client's own 0.3 s timer fires first
    with pytest.raises(OutcomeUnknown) as err:
        await cli.call(SubmitOrder(order=order), timeout_s=0.3)
    assert not err.value.retryable and not isinstance(err.value, RequestTimeout)
    assert "e2e-cli-1" in str(err.value)
    await admin.delete("faults")

    async def filled() -> bool:
        return await _status(cli, "e2e-cli-1") is OrderStatus.FILLED

    await eventually(filled, timeout=20, interval=0.1, what="the runner learned the fill")
