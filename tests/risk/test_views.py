"""StateInputs: positions, prices and equity read from the model objects the runner's actors hold."""

from __future__ import annotations

from decimal import Decimal

from exchange_runner.risk import RiskGate, RiskRejected, StateInputs, parse_risk_section
from strategy_client.model import (
    AccountSnapshot,
    Balance,
    BookLevel,
    Instrument,
    InstrumentKey,
    LimitName,
    MarginBalance,
    OrderBook,
    Position,
    Side,
)

from .builders import BTC_P, BTC_S, ETH_P, ETH_S, EX, KEYS, D, limit, market


def _instrument(key: InstrumentKey) -> Instrument:
    base = key.symbol.removesuffix("USDT")
    return Instrument(
        key=key, base=base, quote="USDT", settle="USDT", tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001")
    )


def _book(key: InstrumentKey, bid: str, ask: str) -> OrderBook:
    return OrderBook(
        key=key,
        bids=(BookLevel(D(bid), D(1)),),
        asks=(BookLevel(D(ask), D(1)),),
        venue_ts_ms=1,
        local_ts_ns=1,
    )


class World:
    """Stand-ins for the actors' state: a store, a snapshot holder, fresh books and marks."""

    def __init__(self) -> None:
        self.positions: dict[InstrumentKey, Position] = {
            BTC_P: Position(key=BTC_P, size=D("-0.5"), entry_price=D(50000)),
        }
        self.snapshot: AccountSnapshot | None = AccountSnapshot(
            exchange=EX,
            balances=(
                Balance(asset="BTC", free=D("0.4"), locked=D("0.1")),
                Balance(asset="USDT", free=D(10000)),
                Balance(asset="DOGE", free=D(1000)),  # not a served instrument's asset: ignored
            ),
            margin=(MarginBalance(asset="USDT", wallet_balance=D(20000), margin_balance=D(20500)),),
        )
        self.books = {BTC_S: _book(BTC_S, "49990", "50010"), BTC_P: _book(BTC_P, "49980", "50020")}
        self.marks = {BTC_P: D(50005)}

    def inputs(self, *, unified: bool = False) -> StateInputs:
        return StateInputs(
            instruments={k: _instrument(k) for k in KEYS},
            positions=self.positions,
            account=lambda: self.snapshot,
            book=self.books.get,
            mark=self.marks.get,
            unified_wallet=unified,
        )


def test_positions_prices_and_touch() -> None:
    w = World()
    inp = w.inputs()
    assert inp.position(BTC_P) == D("-0.5")
    assert inp.position(ETH_P) == 0
    assert inp.position(BTC_S) == D("0.5")  # free + locked base balance
    assert inp.position(ETH_S) == 0
    assert inp.reference_price(BTC_P) == D(50005)  # the mark
    assert inp.reference_price(BTC_S) == D(50000)  # the mid
    del w.marks[BTC_P]
    assert inp.reference_price(BTC_P) == D(50000)  # no mark: the mid
    assert inp.touch_price(BTC_S, Side.BUY) == D(50010)
    assert inp.touch_price(BTC_S, Side.SELL) == D(49990)
    assert inp.reference_price(ETH_S) is None and inp.touch_price(ETH_S, Side.BUY) is None


def test_equity_counts_margin_quote_and_valued_base_balances() -> None:
    w = World()
    # margin 20500 + spot USDT 10000 + 0.5 BTC × 50000
    assert w.inputs().equity() == D(20500) + D(10000) + D(25000)
    # a unified wallet lists USDT as a balance and as margin: counted once, as margin
    assert w.inputs(unified=True).equity() == D(20500) + D(25000)
    del w.books[BTC_S]
    assert w.inputs().equity() is None  # BTC cannot be valued
    w.snapshot = None
    assert w.inputs().equity() is None


def test_a_new_snapshot_object_is_read_again() -> None:
    w = World()
    inp = w.inputs()
    assert inp.position(BTC_S) == D("0.5")
    assert w.snapshot is not None
    w.snapshot = AccountSnapshot(exchange=EX, balances=(Balance(asset="BTC", free=D(2)),))
    assert inp.position(BTC_S) == D(2)


def test_the_gate_runs_on_state_inputs() -> None:
    w = World()
    inp = w.inputs()
    gate = RiskGate(parse_risk_section({"max_leverage": "1", "defaults": {"price_collar": "0.01"}}), EX, KEYS, inp)
    # equity 55500; exposure: perp 0.5 × 50005 + spot 0.5 × 50000 = 50002.5
    gate.check(limit(BTC_P, Side.BUY, "0.5", "50000"))  # reduces the short
    try:
        gate.check(market(BTC_S, Side.BUY, "0.2"))  # +0.2 × 50000 → 60002.5 > 55500
    except RiskRejected as exc:
        assert exc.limit is LimitName.MAX_LEVERAGE
    else:
        raise AssertionError("leverage should refuse")
    gate.check(market(BTC_S, Side.BUY, "0.1"))  # 55002.5 ≤ 55500
    assert isinstance(inp.equity(), Decimal)


def test_equity_and_mid_follow_new_books_and_snapshots() -> None:
    w = World()
    inp = w.inputs()
    first = inp.equity()
    assert inp.equity() == first
    w.books[BTC_S] = _book(BTC_S, "59990", "60010")  # a new book object: revalued
    assert inp.reference_price(BTC_S) == D(60000)
    assert inp.equity() == D(20500) + D(10000) + D(30000)
    assert w.snapshot is not None
    w.snapshot = AccountSnapshot(exchange=EX, margin=w.snapshot.margin)  # no spot balances any more
    assert inp.equity() == D(20500)
