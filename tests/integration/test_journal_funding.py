"""Binance funding payments over a real runner: a settlement (cross margin: ACCOUNT_UPDATE
FUNDING_FEE names no symbol) is published as a funding_payment event from the venue's income
history, and journaled."""

from __future__ import annotations

from decimal import Decimal

import httpx

from strategy_client.command_client import ZmqCommandClient
from strategy_client.journal import HistoryFilter, Journal
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.wire import FundingPaymentEvent, OrderReply, SubmitOrder

from ..helpers import eventually
from .conftest import RunnerProc
from .rawsub import Sub

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


async def test_a_binance_funding_settlement_is_published_and_journaled(runner_proc: RunnerProc) -> None:
    rec = runner_proc.record()
    sub = Sub(rec.pub_endpoint)
    admin = httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner_proc.sim_port_base + 1}/_sim/")
    try:
        async with ZmqCommandClient(rec.router_endpoint) as cli:
            req = OrderRequest(
                key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.010"), client_id="jf-long"
            )
            assert isinstance(await cli.call(SubmitOrder(order=req)), OrderReply)
        rate = await admin.post("engine/funding-rate", json={"symbol": "BTCUSDT", "rate": "0.0005"})
        assert rate.status_code == 200, rate.text
        settled = await admin.post("engine/settle-funding", json={"symbol": "BTCUSDT"})
        assert settled.status_code == 200, settled.text

        def paid() -> list[FundingPaymentEvent]:
            return [e for e in sub.of(FundingPaymentEvent) if isinstance(e, FundingPaymentEvent)]

        await eventually(paid, timeout=15, interval=0.1, what="a funding_payment event")
        payment = paid()[0].payment
        assert payment.key == PERP and payment.asset == "USDT" and payment.amount < 0  # a long pays a positive rate
        j = Journal.open(None, stream=f"runner:binance:{runner_proc.name}", data_dir=runner_proc.log.parent / "data")
        try:

            def journaled() -> bool:
                return any(r.amount == payment.amount for r in j.history_funding(HistoryFilter(key="BTCUSDT")))

            await eventually(journaled, timeout=10, interval=0.1, what="the payment journaled")
        finally:
            j.close()
        assert len(paid()) == 1  # once, not per balance change
    finally:
        await admin.aclose()
        await sub.close()
