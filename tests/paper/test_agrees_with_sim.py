"""Paper trading and the offline venues' engine settle the same fills to the same numbers.

Random sequences of fills (taker or maker, buy or sell, any size and price, so positions add,
partly close, close and flip) and funding settlements go through both front ends of the shared
ledger core (``strategy_client.model.ledger``):

* the simulator engine: ``alice`` trades against ``bob`` on a venue without synthetic
  liquidity (bob's LIMIT order then alice's MARKET order for a taker fill; alice's LIMIT then
  bob's MARKET for a maker fill), funding through a pinned rate and ``settle_funding_now``;
* paper: the same fills against books that show exactly that level (a MARKET order, or a
  resting LIMIT order and then a book that crosses it), funding through ``on_funding`` and
  ``settle_due`` at the simulator's mark.

After every step: each fill's price, quantity, fee, fee asset and realised PnL, the funding
paid, the position (size, entry), the wallets (spot free/locked, perp wallet) and the margin
totals are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.sim.engine import IncomeType, ManualClock, SimConfig, SimVenue, SymbolSpec
from exchanges.sim.engine.config import DEFAULT_SYMBOLS
from strategy_client.model import (
    BookLevel,
    Exchange,
    Fill,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderBook,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.paper import OrderChange, PaperConfig, PaperVenue

START_MS = 1_700_000_000_000
SYMBOL = "BTCUSDT"
SPOT = InstrumentKey(Exchange.BINANCE, SYMBOL, MarketKind.SPOT)
PERP = InstrumentKey(Exchange.BINANCE, SYMBOL, MarketKind.PERP)
KEYS = {MarketKind.SPOT: SPOT, MarketKind.PERP: PERP}
SPECS = {s.kind: s for s in DEFAULT_SYMBOLS if s.symbol == SYMBOL}
SPOT_START = {"USDT": D(10_000_000), "BTC": D(1_000)}
PERP_START = D(10_000_000)
LEVERAGE = 20
FAR_MS = START_MS + 10**9


def _instrument(spec: SymbolSpec) -> Instrument:
    return Instrument(
        key=KEYS[spec.kind],
        base=spec.base,
        quote=spec.quote,
        settle=spec.quote,
        tick_size=spec.tick_size,
        step_size=spec.step_size,
        min_qty=spec.min_qty,
        min_notional=spec.min_notional,
        max_qty=spec.max_qty,
    )


@dataclass
class Pair:
    sim: SimVenue
    paper: PaperVenue
    mark: D
    now: int = START_MS

    def tick(self) -> int:
        self.now += 10
        return self.now


def _pair() -> Pair:
    cfg = SimConfig(
        funding_interval_ms=3_600_000,
        starting_balances=dict(SPOT_START),
        futures_starting_balance={"USDT": PERP_START},
        default_leverage=LEVERAGE,
    )
    sim = SimVenue(cfg, clock=ManualClock(START_MS))
    sim.pause()
    for kind in (MarketKind.SPOT, MarketKind.PERP):
        sim.set_liquidity(kind, SYMBOL, D(0))
    sim.add_account("alice")
    sim.add_account("bob")
    paper = PaperVenue(
        Exchange.BINANCE,
        [_instrument(SPECS[MarketKind.SPOT]), _instrument(SPECS[MarketKind.PERP])],
        PaperConfig(
            taker_fee=cfg.taker_fee_perp,
            maker_fee=cfg.maker_fee_perp,
            spot_taker_fee=cfg.taker_fee_spot,
            spot_maker_fee=cfg.maker_fee_spot,
            balances=dict(SPOT_START),
            margin_balance=PERP_START,
            default_leverage=LEVERAGE,
            maint_margin_rate=cfg.maint_margin_rate,
        ),
    )
    mark = sim.mark(SYMBOL).mark
    pair = Pair(sim, paper, mark)
    # the paper venue values positions at the simulator's mark (a funding update carries it)
    paper.on_funding(_rate(D(0), FAR_MS, mark), pair.tick())
    return pair


def _rate(rate: D, next_ms: int, mark: D) -> FundingRate:
    return FundingRate(
        key=PERP, rate=rate, interval_ms=3_600_000, next_funding_ts_ms=next_ms, mark_price=mark, index_price=mark
    )


def _book(key: InstrumentKey, side: Side, price: D, qty: D, tick: D) -> OrderBook:
    """A book whose opposite side (what a ``side`` order trades with) is ``price``/``qty``."""
    near = (BookLevel(price, qty),)
    far = (BookLevel(price - tick if side is Side.BUY else price + tick, qty),)
    bids, asks = (far, near) if side is Side.BUY else (near, far)
    return OrderBook(key=key, bids=bids, asks=asks, venue_ts_ms=0, local_ts_ns=0)


def _empty(key: InstrumentKey) -> OrderBook:
    return OrderBook(key=key, bids=(), asks=(), venue_ts_ms=0, local_ts_ns=0)


FillFacts = tuple[D, D, str, D, bool, D]
"""price, qty, fee asset, fee, is maker, realised PnL"""


def _fills(changes: list[OrderChange]) -> list[Fill]:
    return [c.fill for c in changes if c.fill is not None]


def _sim_fill(pair: Pair, kind: MarketKind, side: Side, qty: D, price: D, maker: bool) -> FillFacts:
    sim = pair.sim
    other = Side.SELL if side is Side.BUY else Side.BUY
    rester, taker = ("alice", "bob") if maker else ("bob", "alice")
    rest_side, take_side = (side, other) if maker else (other, side)
    resting = sim.place_order(rester, kind, SYMBOL, rest_side, OrderType.LIMIT, TimeInForce.GTC, qty, price, "")
    taken = sim.place_order(taker, kind, SYMBOL, take_side, OrderType.MARKET, TimeInForce.GTC, qty, None, "")
    mine = resting if maker else taken
    order = sim.get_order("alice", kind, SYMBOL, order_id=mine.order_id)
    (f,) = order.fills
    return f.price, f.qty, f.fee_asset, f.fee, f.is_maker, f.realized_pnl


def _paper_fill(pair: Pair, kind: MarketKind, side: Side, qty: D, price: D, maker: bool) -> FillFacts:
    paper, key = pair.paper, KEYS[kind]
    tick = SPECS[kind].tick_size
    if maker:
        paper.on_book(_empty(key), pair.tick())
        _, upd = paper.submit(OrderRequest(key=key, side=side, type=OrderType.LIMIT, qty=qty, price=price), pair.tick())
        assert not _fills(upd.changes)
        upd = paper.on_book(_book(key, side, price, qty, tick), pair.tick())  # the other side shows up at its price
    else:
        paper.on_book(_book(key, side, price, qty, tick), pair.tick())
        _, upd = paper.submit(OrderRequest(key=key, side=side, type=OrderType.MARKET, qty=qty), pair.tick())
    (f,) = _fills(upd.changes)
    return f.price, f.qty, f.fee_asset, f.fee, f.is_maker, f.realized_pnl


def _funding(pair: Pair, rate: D) -> tuple[D | None, D | None]:
    sim, paper = pair.sim, pair.paper
    before = sim.income("alice", SYMBOL, IncomeType.FUNDING_FEE, limit=1)
    sim.set_funding_rate(SYMBOL, rate)
    sim.settle_funding_now(SYMBOL)
    after = sim.income("alice", SYMBOL, IncomeType.FUNDING_FEE, limit=1)
    sim_paid = after[-1].income if after and after != before else None
    due = pair.tick()
    paper.on_funding(_rate(rate, due, pair.mark), due - 1)
    upd = paper.settle_due(due)
    paper_paid = upd.funding[0].amount if upd.funding else None
    return sim_paid, paper_paid


def _assert_same_accounts(pair: Pair) -> None:
    sim, paper = pair.sim, pair.paper
    for asset, (free, locked) in sim.spot_balances("alice").items():
        w = paper.ledger.spot[asset]
        assert (w.free, w.locked) == (free, locked), asset
    views = {p.symbol: p for p in sim.positions("alice")}
    size = views[SYMBOL].size if SYMBOL in views else D(0)
    entry = views[SYMBOL].entry_price if SYMBOL in views else D(0)
    pos = paper.ledger.position(PERP)
    assert (pos.size, pos.entry_price) == (size, entry)
    acct = sim.futures_account("alice", "USDT")
    margin = paper.account(pair.now).margin[0]
    assert margin.wallet_balance == acct.wallet
    assert margin.unrealized_pnl == acct.unrealized
    assert margin.initial_margin == acct.initial_margin
    assert margin.maint_margin == acct.maint_margin
    assert margin.available_balance == acct.available


_fill_op = st.tuples(
    st.just("fill"),
    st.sampled_from([MarketKind.SPOT, MarketKind.PERP]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=3, max_value=400),  # quantity in thousandths of a BTC
    st.integers(min_value=-2000, max_value=2000),  # price offset in 1e-5 of the reference (±2 %)
    st.booleans(),  # alice is the maker
)
_funding_op = st.tuples(st.just("funding"), st.integers(min_value=-300, max_value=300))  # rate in 1e-6


@settings(max_examples=120, deadline=None)
@given(st.lists(st.one_of(_fill_op, _fill_op, _fill_op, _funding_op), min_size=1, max_size=30))
def test_simulator_and_paper_agree_fill_by_fill(ops: list[tuple[object, ...]]) -> None:
    pair = _pair()
    for op in ops:
        if op[0] == "funding":
            rate = D(op[1]) / 1_000_000  # type: ignore[arg-type]
            sim_paid, paper_paid = _funding(pair, rate)
            assert sim_paid == paper_paid
        else:
            _, kind, side, thousandths, offset, maker = op
            assert isinstance(kind, MarketKind) and isinstance(side, Side)
            spec = SPECS[kind]
            qty = D(thousandths) / 1000  # type: ignore[arg-type]
            ref = pair.sim.reference_price(kind, SYMBOL)
            price = (ref * (1 + D(offset) / 100_000)).quantize(spec.tick_size)  # type: ignore[arg-type]
            sim_fill = _sim_fill(pair, kind, side, qty, price, bool(maker))
            paper_fill = _paper_fill(pair, kind, side, qty, price, bool(maker))
            assert sim_fill == paper_fill
        _assert_same_accounts(pair)


def test_open_orders_margin_nets_against_the_position_in_both() -> None:
    """Resting orders on both sides of a long position: the same open-order margin, and an
    order that only closes the position needs no margin in either."""
    pair = _pair()
    price = pair.sim.reference_price(MarketKind.PERP, SYMBOL)
    assert _sim_fill(pair, MarketKind.PERP, Side.BUY, D("0.3"), price, False) == _paper_fill(
        pair, MarketKind.PERP, Side.BUY, D("0.3"), price, False
    )
    low, high = (price * D("0.97")).quantize(D("0.1")), (price * D("1.03")).quantize(D("0.1"))
    pair.paper.on_book(_empty(PERP), pair.tick())
    for side, qty, px in ((Side.BUY, D("0.1"), low), (Side.SELL, D("0.2"), high), (Side.SELL, D("0.5"), high)):
        pair.sim.place_order("alice", MarketKind.PERP, SYMBOL, side, OrderType.LIMIT, TimeInForce.GTC, qty, px, "")
        pair.paper.submit(OrderRequest(key=PERP, side=side, type=OrderType.LIMIT, qty=qty, price=px), pair.tick())
        _assert_same_accounts(pair)
    acct = pair.sim.futures_account("alice", "USDT")
    # sells 0.7 against a 0.3 long: 0.4 needs margin; the buy side (0.1) is smaller
    assert acct.open_order_initial_margin == D("0.4") * high / LEVERAGE


def test_spot_buy_pays_its_fee_in_the_base_asset_in_both() -> None:
    pair = _pair()
    price = pair.sim.reference_price(MarketKind.SPOT, SYMBOL)
    fill = _paper_fill(pair, MarketKind.SPOT, Side.BUY, D("0.5"), price, False)
    assert fill == _sim_fill(pair, MarketKind.SPOT, Side.BUY, D("0.5"), price, False)
    assert fill[2:4] == ("BTC", D("0.5") * pair.sim.config.taker_fee_spot)
    _assert_same_accounts(pair)
