"""MarginPolicy: the pre-entry check, exposure caps, max size and margin-ratio actions."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arbitrage.margin import MarginAction, MarginConfig, MarginPolicy
from strategy_client.model import AccountSnapshot, Balance, Exchange, MarginBalance

from .builders import BYBIT_PERP, PERP, SPOT, perp_perp_pair, spot_perp_pair

D = Decimal
P = D("100000")


def account(usdt_spot: str, usdt_margin: str, *, maint: str = "0", margin_balance: str = "0") -> AccountSnapshot:
    return AccountSnapshot(
        exchange=Exchange.BINANCE,
        balances=(Balance(asset="USDT", free=D(usdt_spot)),),
        margin=(
            MarginBalance(
                asset="USDT",
                wallet_balance=D(usdt_margin),
                available_balance=D(usdt_margin),
                margin_balance=D(margin_balance or usdt_margin),
                maint_margin=D(maint),
            ),
        ),
    )


def test_spot_perp_entry_needs_cash_for_spot_and_margin_for_the_perp() -> None:
    pair = spot_perp_pair()  # spot taker 0.1 %, perp taker 0.05 %
    policy = MarginPolicy(MarginConfig(leverage=4, margin_buffer=D("0.1")))
    ok = policy.check_entry(pair, D("0.1"), P, P, {Exchange.BINANCE: account("20000", "5000")})
    assert ok.ok, ok.reasons
    spot_req = next(r for r in ok.requirements if r.wallet.value == "spot")
    perp_req = next(r for r in ok.requirements if r.wallet.value == "perp")
    assert spot_req.required == D("0.1") * (P + P * D("0.001")) == D("10010")
    assert perp_req.required == D("0.1") * (P / 4 + P * D("0.0005")) == D("2505")
    assert perp_req.usable == D("4500")
    # max size: spot cash 18000 usable / 100100 per BTC, perp 4500 / 25050 per BTC → the perp binds
    assert ok.max_base == D("4500") / D("25050")
    short = policy.check_entry(pair, D("0.2"), P, P, {Exchange.BINANCE: account("20000", "5000")})
    assert not short.ok and any("perp USDT: needs 5010" in r for r in short.reasons)
    missing = policy.check_entry(pair, D("0.1"), P, P, {})
    assert not missing.ok and "binance: no account snapshot" in missing.reasons


def test_exposure_caps() -> None:
    pair = perp_perp_pair()
    policy = MarginPolicy(MarginConfig(max_notional_per_instrument=D(30000), max_total_notional=D(50000)))
    accounts = {
        Exchange.BINANCE: account("0", "1000000"),
        Exchange.BYBIT: account("0", "1000000").__class__(
            exchange=Exchange.BYBIT, margin=account("0", "1000000").margin
        ),
    }
    held = {PERP: D(25000)}
    check = policy.check_entry(pair, D("0.1"), P, P, accounts, held)
    assert not check.ok and any("max_notional_per_instrument" in r for r in check.reasons)
    assert check.max_base == D("0.05")  # 5000 of room left on binance:perp
    total = policy.check_entry(pair, D("0.2"), P, P, accounts, {SPOT: D(20000), BYBIT_PERP: D(0)})
    assert not total.ok and any("max_total_notional" in r for r in total.reasons)
    assert total.max_base == D("0.15")  # 30000 of total room over 2 legs


@settings(max_examples=100, deadline=None)
@given(
    st.decimals(min_value=D("0"), max_value=D("200000"), places=2),
    st.decimals(min_value=D("0"), max_value=D("50000"), places=2),
    st.integers(1, 20),
)
def test_max_base_always_passes_and_a_bit_more_never_does(cash: Decimal, margin: Decimal, leverage: int) -> None:
    pair = spot_perp_pair()
    policy = MarginPolicy(MarginConfig(leverage=leverage))
    accounts = {Exchange.BINANCE: account(str(cash), str(margin))}
    probe = policy.check_entry(pair, D(1), P, P, accounts)
    if probe.max_base > 0:
        assert policy.check_entry(pair, probe.max_base, P, P, accounts).ok
    assert not policy.check_entry(pair, probe.max_base * D("1.001") + D("0.00001"), P, P, accounts).ok


def test_margin_ratio_actions_and_reduce_size() -> None:
    policy = MarginPolicy(MarginConfig(reduce_margin_ratio=D("0.5"), exit_margin_ratio=D("0.8")))
    calm = {Exchange.BINANCE: account("0", "1000", maint="100", margin_balance="1000")}
    assert policy.assess(calm).action is MarginAction.OK
    tight = {Exchange.BINANCE: account("0", "1000", maint="600", margin_balance="1000")}
    assert policy.assess(tight).action is MarginAction.REDUCE and policy.assess(tight).worst_ratio == D("0.6")
    dire = {Exchange.BINANCE: account("0", "1000", maint="850", margin_balance="1000")}
    assert policy.assess(dire).action is MarginAction.EXIT
    assert policy.reduce_base(D("0.5"), D("0.001")) == D("0.250")
    assert policy.reduce_base(D("0.001"), D("0.001")) == D("0.001")  # cannot halve one step: all of it
    assert policy.leverage_requests(spot_perp_pair()) == [(PERP, 3)]
