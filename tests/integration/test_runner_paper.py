"""``--mode paper``: orders fill locally against the venue's live book; nothing reaches the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exchange_runner.ports import free_port_pair
from exchanges.binance.sim import BinanceSim
from exchanges.binance.sim.options import ACCOUNT_ID
from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import VenueRejected
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.wire import (
    AccountEvent,
    AccountReply,
    CancelOrder,
    FundingPaymentEvent,
    GetAccountSnapshot,
    GetOpenOrders,
    GetPosition,
    OrderEvent,
    OrderEventKind,
    OrderReply,
    OrdersReply,
    PositionEvent,
    PositionReply,
    SubmitOrder,
)

from ..helpers import eventually
from .conftest import start_runner
from .rawsub import Sub

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)


def _venue_orders(sim: object) -> int:
    def count(s: BinanceSim) -> int:
        return sum(len(s.venue.all_orders(ACCOUNT_ID, kind, "BTCUSDT")) for kind in MarketKind)

    return sim.call(count)  # type: ignore[attr-defined, no-any-return]


async def test_paper_mode_fills_locally_and_sends_nothing_to_the_venue(redis_url: str, tmp_path: Path) -> None:
    port_base = free_port_pair()
    with BinanceSim.in_thread(port_base=port_base, seed=7, funding_interval_ms=2_000) as sim:
        runner = start_runner(
            redis_url, tmp_path, "paper-a", "--mode", "paper", "--sim-connect", f"127.0.0.1:{port_base}"
        )
        try:
            rec = runner.record()
            assert rec.mode == "paper"
            sub = Sub(rec.pub_endpoint)
            async with ZmqCommandClient(rec.router_endpoint) as cli:
                # a market order walks the live book: fills (one per level), a position, paper-marked events
                rep = await cli.call(
                    SubmitOrder(order=OrderRequest(key=PERP, side=Side.SELL, type=OrderType.MARKET, qty=Decimal("0.5")))
                )
                assert isinstance(rep, OrderReply) and rep.order.status is OrderStatus.FILLED
                cid = rep.order.client_id
                fills = await eventually(
                    lambda: [e for e in sub.of(OrderEvent) if e.order.client_id == cid and e.fill is not None],
                    what="paper fills",
                )
                assert all(e.paper for e in fills)
                assert sum((e.fill.qty for e in fills if e.fill), Decimal(0)) == Decimal("0.5")
                assert all(e.fill.fee > 0 and not e.fill.is_maker for e in fills if e.fill)
                await eventually(
                    lambda: [e for e in sub.of(PositionEvent) if e.position.size == Decimal("-0.5")],
                    what="paper position event",
                )
                pos = await cli.call(GetPosition(key=PERP))
                assert isinstance(pos, PositionReply) and pos.position is not None
                assert pos.position.size == Decimal("-0.5")
                # the short position accrues funding at the venue's funding times (every 2 s on this venue)
                pays = await eventually(
                    lambda: [e for e in sub.of(FundingPaymentEvent) if e.paper and e.payment.key == PERP],
                    timeout=15,
                    what="paper funding payment",
                )
                assert pays[0].payment.amount != 0 and pays[0].payment.asset == "USDT"
                # a resting limit order, then canceled
                low = (rep.order.avg_price or Decimal(1)) * Decimal("0.8")
                rest = await cli.call(
                    SubmitOrder(
                        order=OrderRequest(
                            key=SPOT,
                            side=Side.BUY,
                            type=OrderType.LIMIT,
                            qty=Decimal("0.01"),
                            price=low.quantize(Decimal("0.01")),
                            client_id="paper-rest",
                        )
                    )
                )
                assert isinstance(rest, OrderReply) and rest.order.status is OrderStatus.NEW
                opened = await cli.call(GetOpenOrders(key=SPOT))
                assert isinstance(opened, OrdersReply) and [o.client_id for o in opened.orders] == ["paper-rest"]
                acct = await cli.call(GetAccountSnapshot(exchange=Exchange.BINANCE))
                assert isinstance(acct, AccountReply)
                usdt = acct.account.balance("USDT")
                assert usdt is not None and usdt.locked > 0
                canceled = await cli.call(CancelOrder(key=SPOT, client_id="paper-rest"))
                assert isinstance(canceled, OrderReply) and canceled.order.status is OrderStatus.CANCELED
                await eventually(
                    lambda: [
                        e
                        for e in sub.of(OrderEvent)
                        if e.order.client_id == "paper-rest" and e.kind is OrderEventKind.CANCEL and e.paper
                    ],
                    what="paper cancel event",
                )
                await eventually(lambda: [e for e in sub.of(AccountEvent) if e.paper], what="paper account event")
                # a rejection comes back typed, with the paper venue's reason
                try:
                    await cli.call(
                        SubmitOrder(
                            order=OrderRequest(key=SPOT, side=Side.SELL, type=OrderType.MARKET, qty=Decimal("50"))
                        )
                    )
                except VenueRejected as exc:
                    assert "insufficient" in str(exc)
                else:
                    raise AssertionError("selling 50 BTC with 1 BTC should be rejected")
            await sub.close()
            assert _venue_orders(sim) == 0  # nothing reached the venue
        finally:
            runner.stop()
