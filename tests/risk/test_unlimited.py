"""A gate with no limit set (no ``[risk]`` table, every runner's default) checks the trading state
only: it reads nothing else on the order path, refuses exactly what the full pass refused, and
goes back to the full pass as soon as a limit is set."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_runner.risk import MemoryInputs, RiskRejected, parse_risk_section
from exchange_runner.risk.gate import DAY_MS
from strategy_client.model import InstrumentKey, LimitName, Side, TradingState

from .builders import BTC_P, BTC_S, Clocks, gate, inputs, limit, market

BUY, SELL = Side.BUY, Side.SELL
D1 = Decimal(1)


class CountingInputs(MemoryInputs):
    """The test's in-memory state, counting the position reads the gate makes."""

    reads = 0

    def position(self, key: InstrumentKey) -> Decimal:
        self.reads += 1
        return super().position(key)


def counting(positions: dict[InstrumentKey, str] | None = None) -> CountingInputs:
    base = inputs(positions=positions)
    return CountingInputs(
        positions=base.positions,
        references=base.references,
        bids=base.bids,
        asks=base.asks,
        equity=base.account_equity,
    )


def test_an_active_gate_without_limits_reads_no_state_per_order() -> None:
    inp = counting({BTC_P: "1"})
    g = gate(inp=inp)
    for _ in range(3):
        g.check(market(BTC_P, BUY, "5"))
        g.check(limit(BTC_S, SELL, "2", "50000"))
    assert inp.reads == 0  # the full pass read the position of every order
    assert (g.checked, g.passed) == (6, 6)


def test_without_limits_the_states_refuse_as_before() -> None:
    g = gate(inp=counting({BTC_P: "1"}))
    g.set_state(TradingState.REDUCING, "desk says so")
    g.check(market(BTC_P, SELL, "1"))
    with pytest.raises(RiskRejected) as err:
        g.check(market(BTC_P, SELL, "1.5"))
    b = err.value.breach
    assert (b.limit, b.limit_value, b.requested, b.current) == (LimitName.TRADING_STATE, D1, Decimal("1.5"), D1)
    g.set_state(TradingState.HALTED, "kill switch")
    with pytest.raises(RiskRejected) as err:
        g.check(market(BTC_P, SELL, "1", reduce_only=True))
    assert err.value.limit is LimitName.TRADING_STATE


def test_setting_a_limit_at_run_time_brings_the_full_pass_back() -> None:
    inp = counting()
    g = gate(inp=inp)
    g.check(market(BTC_P, BUY, "2"))
    assert inp.reads == 0
    g.replace_limits(parse_risk_section({"defaults": {"max_order_qty": "1"}}))
    with pytest.raises(RiskRejected) as err:
        g.check(market(BTC_P, BUY, "2"))
    assert err.value.limit is LimitName.MAX_ORDER_QTY
    assert inp.reads > 0
    g.check(market(BTC_P, BUY, "1"))


def test_loosening_back_to_no_limit_takes_the_short_path_again() -> None:
    inp = counting()
    g = gate({"allow_runtime_loosening": True, "defaults": {"max_order_qty": "1"}}, inp=inp)
    with pytest.raises(RiskRejected):
        g.check(market(BTC_P, BUY, "2"))
    g.replace_limits(parse_risk_section({}))
    reads = inp.reads
    g.check(market(BTC_P, BUY, "2"))
    assert inp.reads == reads


def test_the_day_still_rolls_on_the_order_path_without_limits() -> None:
    clocks = Clocks()
    g = gate(clocks=clocks)
    first = g.day_start_ms
    clocks.wall += DAY_MS * 1_000_000
    g.check(market(BTC_P, BUY, "1"))
    assert g.day_start_ms == first + DAY_MS
