"""Graceful shutdown: SIGTERM deregisters, and ``--cancel-on-exit`` cancels the open orders at the venue."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from exchange_runner.ports import free_port_pair
from exchanges.binance.sim import BinanceSim
from exchanges.binance.sim.options import ACCOUNT_ID
from strategy_client.command_client import ZmqCommandClient
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.wire import GetReferencePrice, OrderReply, PriceReply, PriceSource, SubmitOrder, runner_key

from .conftest import start_runner

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


def _open_at_venue(sim: object) -> list[str]:
    def read(s: BinanceSim) -> list[str]:
        return [o.client_order_id for o in s.venue.open_orders(ACCOUNT_ID, MarketKind.PERP, "BTCUSDT")]

    return sim.call(read)  # type: ignore[attr-defined, no-any-return]


async def _rest_an_order(endpoint: str, cid: str) -> None:
    async with ZmqCommandClient(endpoint) as cli:
        bid = await cli.call(GetReferencePrice(key=PERP, source=PriceSource.BID))
        assert isinstance(bid, PriceReply)
        low = (bid.price.price * Decimal("0.9")).quantize(Decimal("0.1"))
        rep = await cli.call(
            SubmitOrder(
                order=OrderRequest(
                    key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.005"), price=low, client_id=cid
                )
            )
        )
        assert isinstance(rep, OrderReply)


@pytest.mark.parametrize("cancel_on_exit", [True, False])
async def test_sigterm_deregisters_and_cancels_open_orders_only_when_asked(
    redis_url: str, tmp_path: Path, cancel_on_exit: bool
) -> None:
    port_base = free_port_pair()
    with BinanceSim.in_thread(port_base=port_base, seed=3) as sim:
        extra = ["--cancel-on-exit"] if cancel_on_exit else []
        runner = start_runner(redis_url, tmp_path, "shut-a", "--sim-connect", f"127.0.0.1:{port_base}", *extra)
        try:
            rec = runner.record()
            await _rest_an_order(rec.router_endpoint, "rest-on-exit")
            assert _open_at_venue(sim) == ["rest-on-exit"]
        finally:
            code = runner.stop(signal.SIGTERM)
        assert code == 0, runner.log.read_text()[-2000:]
        assert redis.Redis.from_url(redis_url).get(runner_key("shut-a")) is None  # deregistered
        assert _open_at_venue(sim) == ([] if cancel_on_exit else ["rest-on-exit"])
