"""The PnL ledger: basis + funding − fees − slippage = total, to the cent, against a wallet model."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arbitrage.errors import LedgerError
from strategies.arbitrage.pair import LegId
from strategies.arbitrage.pnl import CENT, PnlLedger, round_cents
from strategy_client.model import Fill, FundingPayment, InstrumentKey, Side

from .builders import PERP, SPOT, spot_perp_pair

D = Decimal
PAIR = spot_perp_pair()


def fill(
    key: InstrumentKey, side: Side, qty: str, price: str, fee: str, *, asset: str = "USDT", tid: str = "", ts: int = 0
) -> Fill:
    return Fill(
        key=key,
        client_id="c",
        venue_id="v",
        trade_id=tid,
        side=side,
        price=D(price),
        qty=D(qty),
        fee=D(fee),
        fee_asset=asset,
        is_maker=False,
        ts_ms=ts,
    )


def test_a_round_trip_by_hand() -> None:
    ledger = PnlLedger("USDT")
    ledger.register("p1", PAIR)
    # entry decided at mids 100000 (spot) and 100400 (perp)
    ledger.record_fill(
        "p1",
        LegId.A,
        fill(SPOT, Side.BUY, "0.1", "100010", "10.001", tid="1", ts=1),
        reference_mid=D("100000"),
        purpose="entry",
    )
    ledger.record_fill(
        "p1",
        LegId.B,
        fill(PERP, Side.SELL, "0.1", "100390", "5.0195", tid="2", ts=2),
        reference_mid=D("100400"),
        purpose="hedge",
    )
    ledger.record_funding("p1", FundingPayment(key=PERP, amount=D("1.004"), asset="USDT", rate=D("0.0001"), ts_ms=3))
    # exit decided at mids 100200 / 100210
    ledger.record_fill(
        "p1",
        LegId.A,
        fill(SPOT, Side.SELL, "0.1", "100195", "10.0195", tid="3", ts=4),
        reference_mid=D("100200"),
        purpose="exit",
    )
    ledger.record_fill(
        "p1",
        LegId.B,
        fill(PERP, Side.BUY, "0.1", "100215", "5.01075", tid="4", ts=5),
        reference_mid=D("100210"),
        purpose="exit_hedge",
    )
    b = ledger.breakdown("p1")
    # slippage: 0.1 × (10 + 10 + 5 + 5) = 3 ; basis at the mids: spot +20, perp +19 → 39
    assert b.exact.slippage == D("3.0")
    assert b.exact.basis == D("39.0")
    assert b.exact.fees == D("30.05075")
    assert b.exact.funding == D("1.004")
    assert b.exact.total == D("39") - D("3") + D("1.004") - D("30.05075")  # 6.95325
    assert (b.basis, b.funding, b.fees, b.slippage, b.total) == (
        D("39.00"),
        D("1.00"),
        D("30.05"),
        D("3.00"),
        D("6.95"),
    )
    assert b.adds_up()
    assert ledger.net_base("p1") == {SPOT: D("0.0"), PERP: D("0.0")}
    assert ledger.breakdown() == b  # one position: the same


def test_open_inventory_is_marked_and_base_fees_shrink_it() -> None:
    ledger = PnlLedger("USDT")
    ledger.register("p1", PAIR)
    ledger.record_fill(
        "p1",
        LegId.A,
        fill(SPOT, Side.BUY, "1", "100000", "0.001", asset="BTC", tid="1"),
        reference_mid=D("100000"),
        purpose="entry",
    )
    ledger.record_fill(
        "p1",
        LegId.B,
        fill(PERP, Side.SELL, "1", "100500", "50.25", tid="2"),
        reference_mid=D("100500"),
        purpose="hedge",
    )
    assert ledger.net_base("p1") == {SPOT: D("0.999"), PERP: D("-1")}
    ledger.mark(SPOT, D("101000"), 10)
    ledger.mark(PERP, D("101400"), 10)
    b = ledger.breakdown("p1")
    # wallet: paid 100000, holds 0.999 BTC at 101000; perp short from 100500 marked at 101400; fees 50.25
    assert b.exact.total == -D("100000") + D("0.999") * D("101000") + (D("100500") - D("101400")) - D("50.25")
    assert b.exact.fees == D("100") + D("50.25")  # the 0.001 BTC fee at 100000
    pos = ledger.open_position("p1")
    assert pos is not None
    assert (pos.base, pos.entry_price_a, pos.entry_price_b) == (D("0.999"), D("100000"), D("100500"))
    assert ledger.exposure() == {SPOT: D("0.999") * D("101000"), PERP: D("101400")}


def test_bad_records_name_the_field_and_duplicates_are_counted() -> None:
    ledger = PnlLedger("USDT")
    with pytest.raises(LedgerError, match="position_id"):
        ledger.record_fill("nope", LegId.A, fill(SPOT, Side.BUY, "1", "1", "0"), reference_mid=D(1), purpose="entry")
    ledger.register("p1", PAIR)
    with pytest.raises(LedgerError, match=r"^key"):
        ledger.record_fill("p1", LegId.A, fill(PERP, Side.BUY, "1", "1", "0"), reference_mid=D(1), purpose="entry")
    with pytest.raises(LedgerError, match=r"fee_asset.*BNB"):
        ledger.record_fill(
            "p1", LegId.A, fill(SPOT, Side.BUY, "1", "1", "0.01", asset="BNB"), reference_mid=D(1), purpose="entry"
        )
    with pytest.raises(LedgerError, match="reference_mid"):
        ledger.record_fill("p1", LegId.A, fill(SPOT, Side.BUY, "1", "1", "0"), reference_mid=D(0), purpose="entry")
    with pytest.raises(LedgerError, match="asset"):
        ledger.record_funding("p1", FundingPayment(key=PERP, amount=D(1), asset="BTC"))
    f = fill(SPOT, Side.BUY, "1", "100", "0.1", tid="t1")
    assert ledger.record_fill("p1", LegId.A, f, reference_mid=D(100), purpose="entry") is not None
    assert ledger.record_fill("p1", LegId.A, f, reference_mid=D(100), purpose="entry") is None
    assert ledger.stats["duplicate_fills"] == 1 and len(ledger.trades) == 1
    bnb = ledger.record_fill(
        "p1",
        LegId.A,
        fill(SPOT, Side.BUY, "1", "100", "0.0002", asset="BNB", tid="t2"),
        reference_mid=D(100),
        purpose="entry",
        fee_in_currency=D("0.12"),
    )
    assert bnb is not None and bnb.fee == D("0.12")


# ----------------------------------------------------------------------------- property

prices = st.decimals(min_value=D("90000"), max_value=D("110000"), places=2)
qtys = st.decimals(min_value=D("0.00001"), max_value=D("3"), places=5)
perp_qtys = st.decimals(min_value=D("0.001"), max_value=D("3"), places=3)
fees = st.decimals(min_value=D("-0.5"), max_value=D("80"), places=8)


@dataclass(frozen=True)
class Trade:
    spot: bool
    side: Side
    qty: Decimal
    price: Decimal
    ref: Decimal
    fee: Decimal
    base_fee: bool


@dataclass(frozen=True)
class Pay:
    amount: Decimal


@dataclass(frozen=True)
class Mark:
    key: InstrumentKey
    price: Decimal


sides = st.sampled_from(list(Side))
ops = st.lists(
    st.one_of(
        st.builds(Trade, st.just(True), sides, qtys, prices, prices, fees, st.booleans()),
        st.builds(Trade, st.just(False), sides, perp_qtys, prices, prices, fees, st.just(False)),
        st.builds(Pay, st.decimals(min_value=D("-30"), max_value=D("30"), places=8)),
        st.builds(Mark, st.sampled_from([SPOT, PERP]), prices),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_components_add_up_to_the_cent_and_match_a_wallet(operations: list[Trade | Pay | Mark]) -> None:
    ledger = PnlLedger("USDT")
    ledger.register("p", PAIR)
    # an independent wallet: quote cash and coins held per instrument
    cash, held, slip = D(0), {SPOT: D(0), PERP: D(0)}, D(0)
    marks: dict[InstrumentKey, Decimal] = {}
    marked: set[InstrumentKey] = set()
    for ts, op in enumerate(operations):
        if isinstance(op, Trade):
            key, leg = (SPOT, LegId.A) if op.spot else (PERP, LegId.B)
            s = op.qty * op.side.sign
            if op.base_fee:
                fee_native, asset = abs(op.fee) / D(100000), "BTC"
                held[key] += s - fee_native
            else:
                fee_native, asset = op.fee, "USDT"
                held[key] += s
                cash -= op.fee
            cash -= s * op.price
            slip += s * (op.price - op.ref)
            f = fill(key, op.side, str(op.qty), str(op.price), str(fee_native), asset=asset, tid=str(ts), ts=ts)
            ledger.record_fill("p", leg, f, reference_mid=op.ref, purpose="entry")
            if key not in marked:  # unmarked inventory is valued at the last reference mid
                marks[key] = op.ref
        elif isinstance(op, Pay):
            cash += op.amount
            ledger.record_funding("p", FundingPayment(key=PERP, amount=op.amount, asset="USDT", ts_ms=ts))
        else:
            ledger.mark(op.key, op.price, ts)
            marks[op.key] = op.price
            marked.add(op.key)
    value = cash + sum((held[k] * marks.get(k, D(0)) for k in held), D(0))
    b = ledger.breakdown()
    assert b.exact.total == value  # the ledger agrees with the wallet, exactly
    assert b.exact.slippage == slip
    assert b.adds_up()  # basis + funding − fees − slippage = total, in cents
    assert b.total == round_cents(value)
    for rounded, exact in ((b.funding, b.exact.funding), (b.fees, b.exact.fees), (b.slippage, b.exact.slippage)):
        assert rounded % CENT == 0 and abs(rounded - exact) <= CENT / 2
    assert abs(b.basis - b.exact.basis) <= 2 * CENT
    timeline = ledger.timeline()
    if timeline:
        last = timeline[-1]
        assert (last.basis, last.funding, last.fees, last.slippage, last.total) == (
            b.basis,
            b.funding,
            b.fees,
            b.slippage,
            b.total,
        )
        assert all(p.basis + p.funding - p.fees - p.slippage == p.total for p in timeline)


@given(st.lists(st.decimals(min_value=D("-1000"), max_value=D("1000"), places=6), max_size=12))
def test_allocated_cents_add_up_and_stay_within_a_cent(values: list[Decimal]) -> None:
    from strategies.arbitrage.pnl import allocate_cents

    out = allocate_cents(values)
    assert len(out) == len(values)
    assert sum(out, D(0)) == (round_cents(sum(values, D(0))) if values else D(0))
    assert all(o % CENT == 0 and abs(o - v) < CENT for o, v in zip(out, values, strict=True))
