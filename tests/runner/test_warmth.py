"""The order path warmer (exchange_runner/warmth.py): each pass runs the order path's steps that
have no effect, on one request per market kind; a rehearsal that raises is counted, logged once
and never stops it. That nothing reaches the venue or the journal is shown by a live runner in
tests/observability/test_runner_metrics.py (one placement, one intent, rehearsals counted)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from loguru import logger

from exchange_runner.config import ConfigError, RunnerConfig
from exchange_runner.warmth import REHEARSAL_CLIENT_ID, OrderPathWarmer, rehearsal_request
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest

from ..helpers import eventually
from .fakes import PERP, SPOT, instrument

ETH_PERP = InstrumentKey(exchange=Exchange.BINANCE, symbol="ETHUSDT", kind=MarketKind.PERP)


class Rehearsing:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[OrderRequest] = []

    def rehearse_order(self, request: OrderRequest) -> None:
        self.seen.append(request)
        if self.fail:
            raise ValueError("no such instrument")


def _warmer(adapter: object, journal: Intents | None = None, **kw: object) -> OrderPathWarmer:
    return OrderPathWarmer(adapter, journal, instrument, 0.001, **kw)  # type: ignore[arg-type]


def test_a_rehearsal_request_is_on_the_instrument_s_grids() -> None:
    for key in (SPOT, PERP, ETH_PERP):
        inst = instrument(key)
        r = rehearsal_request(inst)
        assert r.key == key and r.client_id == REHEARSAL_CLIENT_ID and r.price is not None and r.price > 0
        assert r.qty >= inst.min_qty and r.qty % inst.step_size == 0 and r.price % inst.tick_size == 0


def test_it_follows_the_instrument_ordered_last_of_each_kind() -> None:
    sent: Counter[InstrumentKey] = Counter()
    clock = [100.0]
    warmer = _warmer(Rehearsing(), orders_by_key=lambda: sent, monotonic=lambda: clock[0])
    warmer.look(clock[0])
    assert warmer.idle and warmer.keys == ()  # no order yet: nothing to rehearse
    sent[PERP] += 1
    clock[0] += 1
    warmer.look(clock[0])
    assert warmer.keys == (PERP,)  # the kind that trades, not every kind
    sent[ETH_PERP] += 1
    sent[SPOT] += 1
    clock[0] += 1
    warmer.look(clock[0])
    assert set(warmer.keys) == {ETH_PERP, SPOT}  # per kind, the one ordered last
    clock[0] += 60.5
    sent[SPOT] += 1
    warmer.look(clock[0])
    assert warmer.keys == (SPOT,)  # ETH perp's last order is over a minute old
    clock[0] += 60
    warmer.look(clock[0])
    assert warmer.idle


def test_each_pass_rehearses_every_request_with_the_adapter() -> None:
    adapter = Rehearsing()
    sent = Counter({SPOT: 1, PERP: 2})
    warmer = _warmer(adapter, orders_by_key=lambda: sent)
    warmer.look(0.0)
    for _ in range(3):
        warmer.rehearse()
    assert warmer.passes == 3 and warmer.failures == 0
    # decoded from the command frame: the same requests, each kind each pass
    assert adapter.seen == [rehearsal_request(instrument(k)) for k in sorted((SPOT, PERP))] * 3
    assert warmer.pass_ns.quantiles([0.5])[0.5] > 0


class Intents:
    def __init__(self) -> None:
        self.seen: list[OrderRequest] = []

    def rehearse_intent(self, request: OrderRequest) -> None:
        self.seen.append(request)


def test_a_failing_rehearsal_is_counted_logged_once_and_the_journal_still_rehearsed() -> None:
    journal = Intents()
    warmer = _warmer(Rehearsing(fail=True), journal, orders_by_key=lambda: {PERP: 1})
    warmer.look(0.0)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        for _ in range(4):
            warmer.rehearse()
    finally:
        logger.remove(sink)
    assert warmer.failures == 4 and warmer.passes == 4 and len(journal.seen) == 4
    assert sum("order path warmer: a rehearsal failed" in line for line in lines) == 1


async def test_it_rehearses_while_orders_are_sent_and_stops_when_they_stop() -> None:
    sent: Counter[InstrumentKey] = Counter()
    clock = [100.0]
    looks = [0]

    def now() -> float:
        clock[0] += 0.001  # a millisecond per reading: the warmer looks again every other turn
        return clock[0]

    def orders() -> Counter[InstrumentKey]:
        looks[0] += 1
        return sent

    warmer = _warmer(object(), orders_by_key=orders, idle_poll_s=0.001, monotonic=now)
    assert warmer.rehearse_order is None  # e.g. the paper adapter: the runner's own steps only
    task = asyncio.create_task(warmer.run())
    try:
        await eventually(lambda: looks[0] >= 5, timeout=10)
        assert warmer.passes == 0 and warmer.idle  # it looked five times, no order yet: nothing rehearsed
        sent[PERP] += 1  # an order
        await eventually(lambda: warmer.passes >= 5, timeout=10)
        clock[0] += 59  # no order for 59 s: still rehearsing
        passes = warmer.passes
        await eventually(lambda: warmer.passes > passes + 3, timeout=10)
        clock[0] += 1.5  # over a minute without an order: idle
        await eventually(lambda: warmer.idle, timeout=10)
        passes, looked = warmer.passes, looks[0]
        await eventually(lambda: looks[0] >= looked + 5, timeout=10)
        assert warmer.passes <= passes + 1  # five more looks, at most the pass that was under way
        sent[PERP] += 1  # the next order wakes it
        await eventually(lambda: warmer.passes > passes + 3, timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert warmer.failures == 0


@pytest.mark.parametrize("value", [-1.0, 1001.0])
def test_the_interval_is_checked(value: float) -> None:
    with pytest.raises(ConfigError, match="order_path_warm_ms"):
        RunnerConfig(order_path_warm_ms=value).validate()


async def test_a_failure_choosing_what_to_rehearse_is_counted_and_the_warmer_runs_on() -> None:
    calls = [0]

    def orders() -> Counter[InstrumentKey]:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("the order table changed size during iteration")
        return Counter({PERP: 1})

    warmer = _warmer(Rehearsing(), orders_by_key=orders, idle_poll_s=0.001)
    task = asyncio.create_task(warmer.run())
    try:
        await eventually(lambda: warmer.passes >= 3, timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert warmer.failures == 1 and warmer.keys == (PERP,)
