"""An order command the client sent and then got no answer for (its own timeout, or the runner
gone mid-call) has an unknown outcome: ``OutcomeUnknown``, not retryable — never the retryable
``RequestTimeout``/``RunnerUnavailable`` a read gets (issue 12, defect 2, client side)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from exchange_runner.ports import free_port
from strategy_client import ZmqCommandClient
from strategy_client.errors import OutcomeUnknown, RequestTimeout, RunnerUnavailable
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.wire import CancelOrder, GetOrder, SetLeverage, SubmitOrder

from ..helpers import eventually
from .test_command_client import Peer

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
SUBMIT = SubmitOrder(
    order=OrderRequest(key=KEY, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01"), client_id="cli-1")
)
CANCEL = CancelOrder(key=KEY, client_id="cli-1")


@pytest.fixture()
async def endpoint() -> AsyncIterator[str]:
    yield f"tcp://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("request_", [SUBMIT, CANCEL], ids=["submit", "cancel"])
async def test_own_timeout_on_an_order_command_is_outcome_unknown(endpoint: str, request_: object) -> None:
    peer = Peer(endpoint, lambda h, body: None)
    client = ZmqCommandClient(endpoint, name="silent")
    try:
        await client.connect(check_version=False)
        with pytest.raises(OutcomeUnknown) as err:
            await client.call(request_, timeout_s=0.2)  # type: ignore[arg-type]
        assert not err.value.retryable and not isinstance(err.value, RequestTimeout)
        assert "do not resend" in str(err.value) or "exec topic" in str(err.value)
        # reads and set_leverage (idempotent) stay plain, retryable timeouts
        for read in (GetOrder(key=KEY, client_id="cli-1"), SetLeverage(key=KEY, leverage=3)):
            with pytest.raises(RequestTimeout) as plain:
                await client.call(read, timeout_s=0.1)
            assert plain.value.retryable
    finally:
        client.close_now()
        await peer.close()


async def test_runner_gone_with_a_submit_in_flight_is_outcome_unknown(endpoint: str) -> None:
    peer = Peer(endpoint, lambda h, body: None)  # takes the order and never answers
    client = ZmqCommandClient(endpoint, name="flaky")
    try:
        await client.connect(check_version=False)
        call = asyncio.create_task(client.call(SUBMIT, timeout_s=60))
        await eventually(lambda: peer.received, what="order at the peer")
        await peer.close()  # the runner dies with the order in flight: it may have sent it
        with pytest.raises(OutcomeUnknown, match="cli-1") as err:
            await asyncio.wait_for(call, 10)
        assert not isinstance(err.value, RunnerUnavailable) and not err.value.retryable
    finally:
        client.close_now()
