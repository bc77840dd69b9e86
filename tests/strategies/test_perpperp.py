"""Perp-perp in paper mode across two venues: a Binance and a Bybit runner on their simulators.

Both simulators share one price path (same seed); the test pins the funding rates apart through
each simulator's ``/_sim/`` control so the carry is worth it, and checks the engine goes long the
perp that pays less and short the one that pays more, hedged, on both venues at once.
"""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from pathlib import Path

import httpx

from strategies.arbitrage.config import load_perpperp
from strategies.arbitrage.state import ArbState
from strategies.runtime import RunOptions, _perpperp_plan, _Session
from strategy_client.model import Exchange
from strategy_client.router import ZmqRouter
from strategy_client.telemetry.strategy_metrics import StrategyMetrics

from ..helpers import eventually
from ..integration.conftest import start_runner


def _pin_funding(port: int, rate: str) -> None:
    r = httpx.post(
        f"http://127.0.0.1:{port}/_sim/engine/funding-rate", json={"symbol": "BTCUSDT", "rate": rate}, timeout=5
    )
    r.raise_for_status()


async def test_perpperp_paper_across_binance_and_bybit(redis_url: str, tmp_path: Path) -> None:
    bn = start_runner(redis_url, tmp_path, "pp-binance", "--sim-seed", "9", exchange="binance")
    bb = start_runner(redis_url, tmp_path, "pp-bybit", "--sim-seed", "9", exchange="bybit")
    router = ZmqRouter(redis_url)
    try:
        bn.record()
        bb.record()
        # bybit pays 0.60 % per 8 h, binance 0.01 %: short bybit, long binance. The spread (+59 bps)
        # clears fees and slippage (22 bps) with room for the two venues' basis: their prices walk
        # apart by a few bps (−7 bps once, when a 0.30 % spread left an edge of exactly 0: no entry)
        _pin_funding(bn.sim_port_base + 1, "0.0001")  # Binance futures host
        _pin_funding(bb.sim_port_base, "0.006")
        await router.start(wait_for=[Exchange.BINANCE, Exchange.BYBIT])
        cfg = load_perpperp(
            None,
            {"paper": True, "exchanges": ["binance", "bybit"], "size": "0.01", "poll_interval_s": 0.2},
        )
        plan = _perpperp_plan(cfg)
        insts = {k: await router.get_instrument(k) for k in plan.keys}
        session = _Session(
            cfg,
            plan,
            router,
            insts,
            StrategyMetrics("perpperp-test"),
            RunOptions(redis_url=redis_url, out=io.StringIO(), status_interval_s=1000),
            "paper",
        )
        task = asyncio.create_task(session.run())
        await eventually(
            lambda: any(s.machine.state is ArbState.HEDGED for s in session.engine.slots.values()),
            timeout=30,
            what="a hedged perp-perp position",
        )
        slot = next(s for s in session.engine.slots.values() if s.machine.state is ArbState.HEDGED)
        assert slot.pair.a.key.exchange is Exchange.BINANCE  # long the perp that pays less funding
        assert slot.pair.b.key.exchange is Exchange.BYBIT  # short the one that pays more
        assert slot.machine.a_base == slot.machine.b_base == Decimal("0.01")
        session.request_stop("test over")
        assert await asyncio.wait_for(task, 60) == 0
        assert session.engine.ledger.breakdown().adds_up
    finally:
        await router.close()
        bn.stop()
        bb.stop()
