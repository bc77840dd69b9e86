"""Hypothesis: random order flow and market moves never break the engine's invariants.

* books never cross after matching;
* every asset's total over all spot wallets (market maker included) changes only by the fees
  collected, and each wallet's locked funds are exactly what its open orders hold;
* fills conserve quantity: a taker's executed quantity is the sum of the makers' trades, and
  both sides of a user-user trade record the same quantity;
* a position is the signed sum of its fills; positions sum to zero with the market maker's;
* order statuses change only as allowed, cumulative fields match the fills;
* the same seed gives the identical run.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from exchanges.sim.engine import (
    ALLOWED_TRANSITIONS,
    MARKET_MAKER,
    ExecType,
    OrderChanged,
    SimEvent,
    SimReject,
    SimVenue,
    TradeExecuted,
)
from strategy_client.model import MarketKind, OrderStatus, OrderType, Side, TimeInForce

from .helpers import make_venue

D = Decimal
ACCOUNTS = ("alice", "bob")
BOOKS = [
    (MarketKind.SPOT, "BTCUSDT"),
    (MarketKind.SPOT, "ETHUSDT"),
    (MarketKind.PERP, "BTCUSDT"),
    (MarketKind.PERP, "ETHUSDT"),
]
# quantity unit per book, chosen so small multiples pass min notional
UNIT = {
    (MarketKind.SPOT, "BTCUSDT"): D("0.001"),
    (MarketKind.SPOT, "ETHUSDT"): D("0.01"),
    (MarketKind.PERP, "BTCUSDT"): D("0.002"),
    (MarketKind.PERP, "ETHUSDT"): D("0.01"),
}

books = st.sampled_from(BOOKS)
accounts = st.sampled_from(ACCOUNTS)
sides = st.sampled_from([Side.BUY, Side.SELL])
tifs = st.sampled_from(list(TimeInForce))


class EngineMachine(RuleBasedStateMachine):
    venue: SimVenue

    @initialize(seed=st.integers(0, 2**16), liquid=st.booleans())
    def setup(self, seed: int, liquid: bool) -> None:
        self.venue, self.clock = make_venue(seed=seed, volatility_per_sqrt_s=0.0005)
        if not liquid:
            for kind, symbol in BOOKS:
                self.venue.set_liquidity(kind, symbol, UNIT[(kind, symbol)] * 3)
        self.events: list[SimEvent] = []
        self.venue.listen(self.events.append)
        self.start_totals = self.spot_totals()
        self.statuses: dict[int, OrderStatus] = {}
        self.orders: dict[int, tuple[str, MarketKind, str]] = {}

    # --- helpers ---------------------------------------------------------------------------

    def spot_totals(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for acc in (*ACCOUNTS, MARKET_MAKER):
            for asset, (free, locked) in self.venue.spot_balances(acc).items():
                totals[asset] += free + locked
        return totals

    def price(self, kind: MarketKind, symbol: str, bps: int) -> Decimal:
        ref = self.venue.reference_price(kind, symbol)
        tick = self.venue.spec(kind, symbol).tick_size
        return (ref * (1 + D(bps) / 10_000) / tick).to_integral_value(ROUND_HALF_EVEN) * tick

    def place(
        self,
        account: str,
        kind: MarketKind,
        symbol: str,
        side: Side,
        type_: OrderType,
        tif: TimeInForce,
        qty: Decimal | None,
        price: Decimal | None,
        reduce_only: bool = False,
        quote_qty: Decimal | None = None,
    ) -> None:
        mark = len(self.events)
        try:
            order = self.venue.place_order(
                account,
                kind,
                symbol,
                side,
                type_,
                tif,
                qty,
                price,
                "",
                reduce_only=reduce_only,
                quote_qty=quote_qty,
            )
        except SimReject:
            assert len(self.events) == mark  # a refusal emits nothing
            return
        self.orders[order.order_id] = (account, kind, symbol)
        # the taker's fills are exactly the trades it took, maker by maker
        took = sum(
            (
                e.trade.qty
                for e in self.events[mark:]
                if isinstance(e, TradeExecuted) and e.trade.taker_order_id == order.order_id
            ),
            D(0),
        )
        assert took == order.executed_qty
        assert sum((f.qty for f in order.fills), D(0)) == order.executed_qty

    # --- rules -----------------------------------------------------------------------------

    @rule(
        book=books,
        account=accounts,
        side=sides,
        tif=tifs,
        n=st.integers(1, 400),
        bps=st.integers(-15, 15),
        reduce_only=st.booleans(),
    )
    def limit_order(
        self,
        book: tuple[MarketKind, str],
        account: str,
        side: Side,
        tif: TimeInForce,
        n: int,
        bps: int,
        reduce_only: bool,
    ) -> None:
        kind, symbol = book
        self.place(
            account,
            kind,
            symbol,
            side,
            OrderType.LIMIT,
            tif,
            UNIT[book] * n,
            self.price(kind, symbol, bps),
            reduce_only=reduce_only and kind is MarketKind.PERP,
        )

    @rule(book=books, account=accounts, side=sides, n=st.integers(1, 600), reduce_only=st.booleans())
    def market_order(
        self, book: tuple[MarketKind, str], account: str, side: Side, n: int, reduce_only: bool
    ) -> None:
        kind, symbol = book
        self.place(
            account,
            kind,
            symbol,
            side,
            OrderType.MARKET,
            TimeInForce.GTC,
            UNIT[book] * n,
            None,
            reduce_only=reduce_only and kind is MarketKind.PERP,
        )

    @rule(
        account=accounts,
        side=sides,
        symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]),
        quote=st.integers(5, 30_000),
    )
    def quote_order(self, account: str, side: Side, symbol: str, quote: int) -> None:
        self.place(
            account,
            MarketKind.SPOT,
            symbol,
            side,
            OrderType.MARKET,
            TimeInForce.GTC,
            None,
            None,
            quote_qty=D(quote),
        )

    @rule(account=accounts, pick=st.integers(0, 1000))
    def cancel(self, account: str, pick: int) -> None:
        for kind in MarketKind:
            open_orders = self.venue.open_orders(account, kind)
            if open_orders:
                o = open_orders[pick % len(open_orders)]
                done = self.venue.cancel_order(account, kind, o.symbol, order_id=o.order_id)
                assert done.status is OrderStatus.CANCELED
                return

    @rule(ms=st.integers(0, 20_000))
    def step(self, ms: int) -> None:
        self.clock.advance(ms)
        self.venue.step()

    @rule(underlying=st.sampled_from(["BTC", "ETH"]), pct=st.floats(-0.3, 0.3))
    def move(self, underlying: str, pct: float) -> None:
        self.venue.move_index(underlying, pct)

    @rule(book=books, n=st.integers(0, 200))
    def liquidity(self, book: tuple[MarketKind, str], n: int) -> None:
        self.venue.set_liquidity(book[0], book[1], UNIT[book] * n)

    @rule(account=accounts, symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]), lev=st.integers(1, 125))
    def leverage(self, account: str, symbol: str, lev: int) -> None:
        try:
            assert self.venue.set_leverage(account, symbol, lev) == lev
        except SimReject:
            assert self.venue.leverage(account, symbol) != lev

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def books_never_cross(self) -> None:
        for kind, symbol in BOOKS:
            view = self.venue.book(kind, symbol, 1)
            if view.bids and view.asks:
                assert view.bids[0][0] < view.asks[0][0]

    @invariant()
    def spot_value_conserved_up_to_fees(self) -> None:
        totals = self.spot_totals()
        fees = self.venue.fees_collected(MarketKind.SPOT)
        for asset in set(totals) | set(self.start_totals):
            assert totals.get(asset, D(0)) + fees.get(asset, D(0)) == self.start_totals.get(asset, D(0))

    @invariant()
    def locks_match_open_orders(self) -> None:
        for acc in ACCOUNTS:
            held: dict[str, Decimal] = defaultdict(Decimal)
            for o in self.venue.open_orders(acc, MarketKind.SPOT):
                spec = self.venue.spec(MarketKind.SPOT, o.symbol)
                assert o.price is not None
                left = o.qty - o.executed_qty
                if o.side is Side.BUY:
                    held[spec.quote] += left * o.price
                else:
                    held[spec.base] += left
            for asset, (free, locked) in self.venue.spot_balances(acc).items():
                assert locked == held.get(asset, D(0))
                assert free >= 0

    @invariant()
    def positions_are_signed_sums_of_fills(self) -> None:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            total = D(0)
            for acc in ACCOUNTS:
                fills = self.venue.trades(acc, MarketKind.PERP, symbol)
                signed = sum((f.qty if f.side is Side.BUY else -f.qty for f in fills), D(0))
                size = next(
                    p.size for p in self.venue.positions(acc, include_flat=True) if p.symbol == symbol
                )
                assert size == signed
                total += size
            mm = next(
                p.size for p in self.venue.positions(MARKET_MAKER, include_flat=True) if p.symbol == symbol
            )
            assert total + mm == 0

    @invariant()
    def statuses_and_cumulative_fields(self) -> None:
        for ev in self.events:
            if not isinstance(ev, OrderChanged):
                continue
            o = ev.order
            prev = self.statuses.get(o.order_id)
            if prev is None:
                assert ev.exec_type is ExecType.NEW and o.status is OrderStatus.NEW
            else:
                assert o.status in ALLOWED_TRANSITIONS[prev] or (
                    o.status is prev is OrderStatus.PARTIALLY_FILLED and ev.exec_type is ExecType.TRADE
                ), (prev, o.status)
            self.statuses[o.order_id] = o.status
        self.events.clear()
        for oid, (acc, kind, symbol) in self.orders.items():
            o = self.venue.get_order(acc, kind, symbol, oid)
            assert o.status is self.statuses[oid]
            assert o.executed_qty == sum((f.qty for f in o.fills), D(0)) <= o.qty
            assert o.cum_quote == sum((f.quote_qty for f in o.fills), D(0))
            assert (o.status is OrderStatus.FILLED) == (o.executed_qty == o.qty)
            assert o.is_open == any(x.order_id == oid for x in self.venue.open_orders(acc, kind, symbol))

    @invariant()
    def user_user_trades_agree(self) -> None:
        by_trade: dict[tuple[MarketKind, str, int], list[Decimal]] = defaultdict(list)
        for kind, symbol in BOOKS:
            for acc in ACCOUNTS:
                for f in self.venue.trades(acc, kind, symbol):
                    by_trade[(kind, symbol, f.trade_id)].append(f.qty)
            for t in self.venue.recent_trades(kind, symbol, 10_000):
                qtys = by_trade.get((kind, symbol, t.trade_id), [])
                assert all(q == t.qty for q in qtys)
                assert len(qtys) == (t.maker_order_id != 0) + (t.taker_order_id != 0)


EngineMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestEngineMachine = EngineMachine.TestCase


def run_fingerprint(seed: int, schedule: list[int]) -> list[object]:
    venue, clock = make_venue(seed=seed)
    out: list[object] = []
    for ms in schedule:
        clock.advance(ms)
        venue.step()
        out.append(
            (venue.mark("BTCUSDT"), venue.book(MarketKind.SPOT, "ETHUSDT", 3), venue.basis_bps("ETHUSDT"))
        )
    market = venue.place_order(
        "alice", MarketKind.PERP, "BTCUSDT", Side.BUY, OrderType.MARKET, TimeInForce.GTC, D("1"), None, "x"
    )
    out.append((market.avg_price, market.fills))
    return out


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), schedule=st.lists(st.integers(0, 120_000), min_size=1, max_size=20))
def test_same_seed_same_run(seed: int, schedule: list[int]) -> None:
    assert run_fingerprint(seed, schedule) == run_fingerprint(seed, schedule)
