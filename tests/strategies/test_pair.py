"""The two-leg model: common steps, sizing on both grids, validation, perp-perp orientation."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.arbitrage.errors import StrategyConfigError
from strategies.arbitrage.pair import ArbPair, Leg, LegId, check_size, common_step, orient_by_funding
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderType

from .builders import BYBIT_PERP, OKX_SWAP, PERP, SPOT, funding, instrument, perp_perp_pair, spot_perp_pair

D = Decimal
steps = st.sampled_from([D(s) for s in ("1", "0.1", "0.01", "0.001", "0.00001", "5", "0.5", "0.25", "0.02", "0.3")])


@given(steps, steps)
def test_common_step_is_the_least_common_multiple(x: Decimal, y: Decimal) -> None:
    c = common_step(x, y)
    assert c > 0
    assert c % x == 0 and c % y == 0
    # no smaller positive multiple of x is also a multiple of y
    k = 1
    while k * x < c:
        assert (k * x) % y != 0
        k += 1


def test_common_step_examples() -> None:
    assert common_step(D("0.001"), D("0.00001")) == D("0.001")
    assert common_step(D("0.25"), D("0.1")) == D("0.5")
    assert common_step(D("0"), D("0.1")) == D("0.1")


@given(st.decimals(min_value=D("0"), max_value=D("50"), places=6))
def test_size_is_on_both_grids_and_never_above_the_request(base: Decimal) -> None:
    pair = ArbPair(
        a=Leg(id=LegId.A, instrument=instrument(SPOT, step="0.00001")),
        # an OKX swap of ctVal 0.01 and lotSz 1 contract: its step is 0.01 in base units (the domain's unit)
        b=Leg(id=LegId.B, instrument=instrument(OKX_SWAP, step="0.01", contract_size="0.01")),
    )
    size = pair.size(base, OrderType.LIMIT)
    assert size.base <= base
    assert base - size.base < D("0.01")  # less than one common step is lost
    assert size.qty_a == size.qty_b == size.base
    assert size.qty_a % D("0.00001") == 0 and size.qty_b % D("0.01") == 0


def test_pair_validation_names_the_problem() -> None:
    with pytest.raises(StrategyConfigError, match="must be a perpetual"):
        ArbPair(a=Leg(id=LegId.A, instrument=instrument(PERP)), b=Leg(id=LegId.B, instrument=instrument(SPOT)))
    eth = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.PERP)
    eth_inst = msgspec.structs.replace(instrument(eth), base="ETH")
    with pytest.raises(StrategyConfigError, match="different assets"):
        ArbPair(a=Leg(id=LegId.A, instrument=instrument(SPOT)), b=Leg(id=LegId.B, instrument=eth_inst))
    usdc = msgspec.structs.replace(instrument(BYBIT_PERP), settle="USDC")
    with pytest.raises(StrategyConfigError, match="different currencies"):
        ArbPair(a=Leg(id=LegId.A, instrument=instrument(PERP)), b=Leg(id=LegId.B, instrument=usdc))
    with pytest.raises(StrategyConfigError, match="leg a must have id A"):
        ArbPair(a=Leg(id=LegId.B, instrument=instrument(SPOT)), b=Leg(id=LegId.B, instrument=instrument(PERP)))


def test_orientation_compares_funding_per_hour() -> None:
    pair = perp_perp_pair()
    # A pays 0.0008 per 8 h (0.0001/h), B pays 0.0002 per 1 h (0.0002/h): B pays more, keep it short
    same = orient_by_funding(pair, funding(PERP, "0.0008"), funding(BYBIT_PERP, "0.0002", interval_h=1))
    assert same is pair
    # A pays 0.0008 per 8 h, B only 0.00005 per 1 h (0.00005/h < 0.0001/h): swap
    swapped = orient_by_funding(pair, funding(PERP, "0.0008"), funding(BYBIT_PERP, "0.00005", interval_h=1))
    assert swapped.a.key == BYBIT_PERP and swapped.b.key == PERP
    assert swapped.b.fees == pair.a.fees
    with pytest.raises(StrategyConfigError):
        orient_by_funding(pair, funding(BYBIT_PERP, "0"), funding(PERP, "0"))


def test_check_size_names_each_broken_filter() -> None:
    pair = spot_perp_pair()
    tiny = pair.size(D("0.0005"), OrderType.MARKET)  # below the perp step: rounds to 0
    assert tiny.is_zero
    small = pair.size(D("0.001"), OrderType.MARKET)  # 100 USDT on the perp: passes; spot ok
    assert check_size(pair, small, OrderType.MARKET, D("100000"), D("100000")) == []
    problems = check_size(pair, small, OrderType.MARKET, D("50000"), D("50000"))
    assert problems == ["binance:perp:BTCUSDT: MIN_NOTIONAL: notional 50.00000 below 100"]
    # reduce-only exits on the perp are exempt from min notional
    assert check_size(pair, small, OrderType.MARKET, D("50000"), D("50000"), exiting=True) == []
