"""DecisionPolicy: the edge arithmetic (worked example + hypothesis properties) and exit reasons."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arbitrage.decision import Action, DecisionConfig, DecisionPolicy, MarketView, OpenPosition, Reason
from strategies.arbitrage.oracle import BookQuote, Freshness
from strategies.arbitrage.pair import ArbPair, EntryRoute, FeeRates, LegId, Role
from strategy_client.model import FundingRate, OrderBook, OrderType

from .builders import HOUR, PERP, SPOT, book, funding, spot_perp_pair

D = Decimal


def fresh(b: OrderBook) -> BookQuote:
    return BookQuote(key=b.key, book=b, freshness=Freshness.FRESH, age_ms=0.0)


def view(book_a: OrderBook, book_b: OrderBook, fb: FundingRate | None, now_ms: int = 0) -> MarketView:
    return MarketView(now_ms=now_ms, book_a=fresh(book_a), book_b=fresh(book_b), funding_b=fb)


SPOT_BOOK = book(SPOT, [("99990", "1")], [("100000", "0.05"), ("100010", "1")])


def test_worked_example_enters_on_walked_vwap() -> None:
    pair = spot_perp_pair(spot_min_notional="0", perp_min_notional="0")
    policy = DecisionPolicy(DecisionConfig(entry_threshold_bps=D(8), horizon_s=8 * 3600))
    perp = book(PERP, [("100400", "0.1")], [("100410", "1")])
    size = pair.size(D("0.1"), OrderType.MARKET)
    d = policy.evaluate_entry(pair, size, view(SPOT_BOOK, perp, funding(PERP, "0.0001", next_ms=8 * HOUR)))
    assert d.action is Action.ENTER and d.reason is Reason.EDGE
    e = d.edge
    assert e is not None
    assert e.price_a == D("100005")  # half at 100000, half at 100010 — not the top of book
    assert e.price_b == D("100400")
    assert e.mid_a == D("99995") and e.mid_b == D("100405")
    assert e.basis == D("39.5")  # 0.1 × (100400 − 100005)
    assert e.funding == D("1.0")  # one settlement: 0.1 × 100000 × 0.0001
    assert e.fees_entry == D("10.0005") + D("5.02")
    assert e.fees_exit == e.fees_entry
    assert e.slippage == D("2.00405")  # (10000.5 + 10040) × 1 bps
    assert e.net == D("8.45495")
    assert e.net == e.basis + e.funding - e.fees - e.slippage
    assert round(e.net_bps, 4) == D("8.4545")
    assert e.settlements_b == 1


def test_below_threshold_is_skipped_with_the_breakdown() -> None:
    pair = spot_perp_pair(spot_min_notional="0", perp_min_notional="0")
    policy = DecisionPolicy(DecisionConfig(entry_threshold_bps=D(10)))
    perp = book(PERP, [("100200", "0.1")], [("100210", "1")])
    d = policy.evaluate_entry(pair, pair.size(D("0.1"), OrderType.MARKET), view(SPOT_BOOK, perp, funding(PERP, "0")))
    assert d.action is Action.SKIP and d.reason is Reason.BELOW_THRESHOLD
    assert d.edge is not None and d.edge.net < 0


def test_skip_reasons() -> None:
    pair = spot_perp_pair()
    policy = DecisionPolicy(DecisionConfig())
    perp = book(PERP, [("100400", "0.1")], [("100410", "1")])
    size = pair.size(D("0.1"), OrderType.MARKET)
    stale = MarketView(
        now_ms=0,
        book_a=BookQuote(key=SPOT, book=SPOT_BOOK, freshness=Freshness.TOO_OLD, age_ms=5000.0),
        book_b=fresh(perp),
        funding_b=funding(PERP, "0"),
    )
    assert policy.evaluate_entry(pair, size, stale).reason is Reason.STALE_BOOK
    assert policy.evaluate_entry(pair, size, view(SPOT_BOOK, perp, None)).reason is Reason.NO_FUNDING
    big = pair.size(D("0.2"), OrderType.MARKET)  # the perp bid holds only 0.1
    thin = policy.evaluate_entry(pair, big, view(SPOT_BOOK, perp, funding(PERP, "0")))
    assert thin.reason is Reason.THIN_BOOK and "0.1" in thin.detail
    small = pair.size(D("0.0001"), OrderType.MARKET)
    assert policy.evaluate_entry(pair, small, view(SPOT_BOOK, perp, funding(PERP, "0"))).reason is (
        Reason.SIZE_TOO_SMALL
    )


def test_maker_first_leg_is_priced_at_its_own_best_level_with_the_maker_fee() -> None:
    pair = spot_perp_pair(
        spot_fees=FeeRates(taker=D("0.001"), maker=D("0.0002")), spot_min_notional="0", perp_min_notional="0"
    )
    policy = DecisionPolicy(DecisionConfig())
    perp = book(PERP, [("100400", "0.1")], [("100410", "1")])
    size = pair.size(D("0.1"), OrderType.LIMIT)
    route = EntryRoute(first=LegId.A, first_role=Role.MAKER)
    d = policy.evaluate_entry(pair, size, view(SPOT_BOOK, perp, funding(PERP, "0")), route, order_type=OrderType.LIMIT)
    assert d.edge is not None
    assert d.edge.price_a == D("99990")  # rests at the best bid
    assert d.edge.fees_entry == D("0.1") * D("99990") * D("0.0002") + D("0.1") * D("100400") * D("0.0005")


# ----------------------------------------------------------------------------- properties

prices = st.decimals(min_value=D("90000"), max_value=D("110000"), places=1)
qtys = st.decimals(min_value=D("0.001"), max_value=D("2"), places=3)
fee_rates = st.decimals(min_value=D("0"), max_value=D("0.002"), places=5)
rates = st.decimals(min_value=D("-0.003"), max_value=D("0.003"), places=6)


@st.composite
def books(draw: st.DrawFn) -> tuple[OrderBook, OrderBook]:
    def side(start: Decimal, direction: int) -> list[tuple[str, str]]:
        n = draw(st.integers(1, 6))
        gaps = draw(st.lists(st.decimals(min_value=D("0.1"), max_value=D("50"), places=1), min_size=n, max_size=n))
        out, price = [], start
        for gap in gaps:
            out.append((str(price), str(draw(qtys))))
            price += gap * direction
        return out

    mid_a, mid_b = draw(prices), draw(prices)
    a = book(SPOT, side(mid_a - D("0.5"), -1), side(mid_a + D("0.5"), 1))
    b = book(PERP, side(mid_b - D("0.5"), -1), side(mid_b + D("0.5"), 1))
    return a, b


def _pair(taker_a: Decimal, taker_b: Decimal) -> ArbPair:
    return spot_perp_pair(
        spot_fees=FeeRates(taker=taker_a, maker=taker_a),
        perp_fees=FeeRates(taker=taker_b, maker=taker_b),
        spot_min_notional="0",
        perp_min_notional="0",
    )


def _cost(levels: tuple[object, ...], qty: Decimal) -> Decimal | None:
    """What taking ``qty`` from ``levels`` costs (exact), None when the book is too thin."""
    left, cost = qty, D(0)
    for level in levels:
        take = min(left, level.qty)  # type: ignore[attr-defined]
        cost += take * level.price  # type: ignore[attr-defined]
        left -= take
    return cost if left == 0 else None


@settings(max_examples=150, deadline=None)
@given(books(), qtys, fee_rates, fee_rates, rates, st.decimals(min_value=D(0), max_value=D(5), places=2))
def test_edge_properties(
    bks: tuple[OrderBook, OrderBook], qty: Decimal, fa: Decimal, fb: Decimal, rate: Decimal, buffer: Decimal
) -> None:
    book_a, book_b = bks
    threshold = D(3)
    policy = DecisionPolicy(DecisionConfig(entry_threshold_bps=threshold, slippage_buffer_bps=buffer))
    pair = _pair(fa, fb)
    size = pair.size(qty, OrderType.MARKET)
    mv = view(book_a, book_b, funding(PERP, str(rate), next_ms=HOUR))
    d = policy.evaluate_entry(pair, size, mv)
    ca, cb = _cost(book_a.asks, size.qty_a), _cost(book_b.bids, size.qty_b)
    if ca is None or cb is None:
        assert d.reason is Reason.THIN_BOOK
        return
    e = d.edge
    assert e is not None
    # the prices are the walked VWAPs, never better than the touch
    assert e.notional_a == ca and e.notional_b == cb
    assert e.price_a >= book_a.asks[0].price and e.price_b <= book_b.bids[0].price
    assert e.basis == cb - ca
    assert e.basis <= size.base * (book_b.bids[0].price - book_a.asks[0].price)
    # the net is exactly its components; entering exactly when it clears the threshold
    assert e.net == e.basis + e.funding - e.fees - e.slippage
    # ... unless the carry is already half-way to a funding-flip exit (hysteresis)
    carry_against = rate * 10_000 / 8 < -policy.config.funding_flip_bps_per_hour / 2
    assert (d.action is Action.ENTER) == (e.net_bps >= threshold and not carry_against)
    assert (d.reason is Reason.CARRY_AGAINST) == carry_against
    # funding: the short perp receives a positive rate (one settlement inside the 8 h horizon)
    assert (e.funding > 0) == (rate > 0) and (e.funding < 0) == (rate < 0)
    # fees are charged on both legs, entry and exit
    assert e.fees == 2 * (e.notional_a * fa + e.notional_b * fb)
    # costlier fees never improve the net
    dearer = policy.evaluate_entry(_pair(fa + D("0.0001"), fb), size, mv)
    assert dearer.edge is not None and dearer.edge.net < e.net


@settings(max_examples=100, deadline=None)
@given(books(), qtys, qtys)
def test_a_larger_size_never_gets_a_better_basis_per_unit(
    bks: tuple[OrderBook, OrderBook], q1: Decimal, q2: Decimal
) -> None:
    book_a, book_b = bks
    policy = DecisionPolicy(DecisionConfig())
    pair = _pair(D(0), D(0))
    mv = view(book_a, book_b, funding(PERP, "0"))
    small, large = sorted((q1, q2))
    ds = policy.evaluate_entry(pair, pair.size(small, OrderType.MARKET), mv)
    dl = policy.evaluate_entry(pair, pair.size(large, OrderType.MARKET), mv)
    if ds.edge is None or dl.edge is None:
        return
    assert dl.edge.price_b - dl.edge.price_a <= ds.edge.price_b - ds.edge.price_a


# ----------------------------------------------------------------------------- exits


def _position(**kw: object) -> OpenPosition:
    base = dict(opened_ms=0, base=D("0.1"), entry_price_a=D("100000"), entry_price_b=D("100400"))
    base.update(kw)
    return OpenPosition(**base)  # type: ignore[arg-type]


def _exit_view(spot_bid: str, perp_ask: str, rate: str = "0.0001", now_ms: int = HOUR) -> MarketView:
    a = book(SPOT, [(spot_bid, "1")], [(str(D(spot_bid) + 1), "1")])
    b = book(PERP, [(str(D(perp_ask) - 1), "1")], [(perp_ask, "1")])
    return view(a, b, funding(PERP, rate, next_ms=8 * HOUR), now_ms=now_ms)


def test_exit_reasons_and_their_priority() -> None:
    pair = _pair(D("0.0005"), D("0.0005"))
    policy = DecisionPolicy(
        DecisionConfig(exit_threshold_bps=D(1), stop_loss_bps=D(30), max_holding_s=24 * 3600, entry_threshold_bps=D(5))
    )
    # still 400 of basis to converge: hold
    hold = policy.evaluate_exit(pair, _position(), _exit_view("100000", "100400"))
    assert hold.action is Action.HOLD and hold.hold is not None
    assert hold.hold.remaining_basis == D("0.1") * D(400)
    # converged: the perp now trades at the spot
    conv = policy.evaluate_exit(pair, _position(), _exit_view("100300", "100300"))
    assert conv.reason is Reason.CONVERGED and conv.action is Action.EXIT
    assert conv.hold is not None and conv.hold.price_pnl == D("0.1") * D(300) + D("0.1") * D(100)
    # funding flipped: the short now pays 0.625 bps/h (beyond the default 0.5 bps/h)
    flip = policy.evaluate_exit(pair, _position(), _exit_view("100000", "100400", rate="-0.0005"))
    assert flip.reason is Reason.FUNDING_FLIP
    # a mild flip (0.125 bps/h against) is noise, not a reason to pay the exit fees
    mild = policy.evaluate_exit(pair, _position(), _exit_view("100000", "100400", rate="-0.0001"))
    assert mild.action is Action.HOLD and mild.reason is Reason.HOLDING
    # held too long
    late = policy.evaluate_exit(pair, _position(), _exit_view("100000", "100400", now_ms=24 * HOUR))
    assert late.reason is Reason.MAX_HOLDING
    # the basis blew out: −0.1 × 600 on the perp is −60 ≈ −60 bps → stop, even when also too late
    stop = policy.evaluate_exit(pair, _position(), _exit_view("100000", "101000", now_ms=24 * HOUR))
    assert stop.reason is Reason.STOP_LOSS
    assert stop.hold is not None and stop.hold.mtm == stop.hold.price_pnl - stop.hold.exit_fees


def test_exit_waits_on_stale_books() -> None:
    pair = _pair(D("0.0005"), D("0.0005"))
    policy = DecisionPolicy(DecisionConfig())
    mv = _exit_view("100000", "100400")
    stale = MarketView(
        now_ms=mv.now_ms,
        book_a=mv.book_a,
        book_b=BookQuote(key=PERP, book=mv.book_b.book, freshness=Freshness.GAP),
        funding_b=mv.funding_b,
    )
    d = policy.evaluate_exit(pair, _position(), stale)
    assert d.action is Action.WAIT and d.reason is Reason.STALE_BOOK


def test_hysteresis_min_hold_and_no_entry_into_a_flipping_carry() -> None:
    """Issue 12: 12 round trips in 12 s on funding_flip with funding_flip_bps_per_hour = 0."""
    pair = _pair(D("0.0005"), D("0.0005"))
    cfg = DecisionConfig(funding_flip_bps_per_hour=D(0), min_hold_s=30, entry_threshold_bps=D(5))
    policy = DecisionPolicy(cfg)
    # a slightly negative carry and a wide basis: the old policy entered and exited at once
    a = book(SPOT, [("99999", "1")], [("100000", "1")])
    b = book(PERP, [("100400", "1")], [("100401", "1")])
    mv = view(a, b, funding(PERP, "-0.00001", next_ms=8 * HOUR), now_ms=HOUR)
    size = pair.size(D("0.1"), OrderType.MARKET)
    entry = policy.evaluate_entry(pair, size, mv)
    assert entry.action is Action.SKIP and entry.reason is Reason.CARRY_AGAINST
    assert entry.edge is not None and entry.edge.net_bps > cfg.entry_threshold_bps  # the edge alone said enter
    # a position opened 10 s ago: a funding flip or convergence waits for the minimum hold
    young = _position(opened_ms=HOUR - 10_000)
    flip = policy.evaluate_exit(pair, young, _exit_view("100000", "100400", rate="-0.0005"))
    assert flip.action is Action.HOLD and flip.reason is Reason.MIN_HOLD and "funding_flip" in flip.detail
    conv = policy.evaluate_exit(pair, young, _exit_view("100300", "100300"))
    assert conv.action is Action.HOLD and conv.reason is Reason.MIN_HOLD
    # ... but never a stop-loss
    stop = policy.evaluate_exit(pair, young, _exit_view("100000", "103000"))
    assert stop.action is Action.EXIT and stop.reason is Reason.STOP_LOSS
    # after the minimum hold the flip exits
    old = _position(opened_ms=HOUR - 31_000)
    assert policy.evaluate_exit(pair, old, _exit_view("100000", "100400", rate="-0.0005")).reason is Reason.FUNDING_FLIP
