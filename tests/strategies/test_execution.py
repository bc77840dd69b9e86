"""ExecutionPolicy: hedge quantities, leg order, order shapes, hedges and unwinds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.arbitrage.errors import PlanError
from strategies.arbitrage.execution import (
    EntryStyle,
    ExecutionConfig,
    ExecutionPolicy,
    FirstLeg,
    LegOrderType,
    OrderPurpose,
    dust_tolerance,
    hedge_quantity,
)
from strategies.arbitrage.pair import ArbPair, EntryRoute, FeeRates, Leg, LegId, Role
from strategy_client.model import OrderType, Side, TimeInForce

from .builders import OKX_SWAP, PERP, SPOT, book, instrument, spot_perp_pair

D = Decimal

SPOT_BOOK = book(SPOT, [("99990", "5")], [("100000", "5")])
PERP_BOOK = book(PERP, [("100400", "0.2"), ("100200", "5")], [("100410", "5")])


@given(
    st.integers(0, 10_000_000),
    st.sampled_from([("0.001", "1"), ("0.01", "0.01"), ("0.01", "1"), ("0.001", "0.01")]),
)
def test_hedge_quantity_is_the_filled_base_rounded_down_to_the_other_step(units: int, spec: tuple[str, str]) -> None:
    step, cs = D(spec[0]), D(spec[1])  # step in base units (the domain's unit on every venue)
    src = Leg(id=LegId.A, instrument=instrument(SPOT, step="0.00001"))
    dst = Leg(id=LegId.B, instrument=instrument(OKX_SWAP, step=str(step), contract_size=str(cs)))
    filled = D(units) * D("0.00001")
    hedge = hedge_quantity(filled, src, dst, OrderType.MARKET)
    assert hedge % step == 0
    assert dst.to_base(hedge) <= filled  # never over-hedge
    assert filled - dst.to_base(hedge) < step  # less than one of the other's steps is left
    # and back: hedging the hedge never asks for more than was filled
    assert hedge_quantity(hedge, dst, src, OrderType.MARKET) == dst.to_base(hedge)


def test_the_harder_to_fill_leg_goes_first() -> None:
    pair = spot_perp_pair()
    policy = ExecutionPolicy(ExecutionConfig())
    size = policy.size(pair, D("1"))
    # the perp bid has 0.2 within the band, spot asks 5: perp first
    assert policy.route(pair, size, SPOT_BOOK, PERP_BOOK).first is LegId.B
    deep_perp = book(PERP, [("100400", "50")], [("100410", "50")])
    assert policy.route(pair, size, SPOT_BOOK, deep_perp).first is LegId.A
    thin_spot = book(SPOT, [("99990", "5")], [("100000", "0.5")])  # cannot fill at all: hardest
    assert policy.route(pair, size, thin_spot, deep_perp).first is LegId.A
    forced = ExecutionPolicy(ExecutionConfig(first_leg=FirstLeg.A, entry_style=EntryStyle.MAKER_FIRST))
    assert forced.route(pair, size, SPOT_BOOK, PERP_BOOK) == EntryRoute(first=LegId.A, first_role=Role.MAKER)
    assert forced.route(pair, size, SPOT_BOOK, PERP_BOOK, exiting=True).first_role is Role.TAKER


def test_entry_orders_market_limit_ioc_and_post_only() -> None:
    pair = spot_perp_pair()
    market = ExecutionPolicy(ExecutionConfig())
    size = market.size(pair, D("1"))
    first = market.plan_entry(
        pair, size, EntryRoute(first=LegId.B), PERP_BOOK, position_id="sp1", seq=1, reference_mid=D("100405")
    )
    req = first.request
    assert (req.key, req.side, req.type, req.qty, req.price) == (PERP, Side.SELL, OrderType.MARKET, D("1"), None)
    assert req.client_id == "sp1-en1" and not req.reduce_only
    assert first.purpose is OrderPurpose.ENTRY and first.timeout_ms == 5000 and first.reference_mid == D("100405")

    ioc = ExecutionPolicy(ExecutionConfig(order_type=LegOrderType.LIMIT_IOC, limit_slippage_bps=D(7)))
    o = ioc.plan_entry(pair, size, EntryRoute(first=LegId.B), PERP_BOOK, position_id="sp1", seq=2, reference_mid=D(1))
    # walks to 100200 for 1 BTC; 7 bps below that is 100129.86, rounded down (aggressive for a sell)
    assert o.request.type is OrderType.LIMIT and o.request.tif is TimeInForce.IOC
    assert o.request.price == D("100129.8")
    h = ioc.plan_hedge(
        pair, LegId.B, D("1"), D("0"), SPOT_BOOK, position_id="sp1", seq=3, reference_mid=D(1), attempt=2
    )
    assert h.order is not None  # each retry widens by 5 bps: 17 bps above 100000
    assert h.order.request.price == D("100170.00") and h.order.request.side is Side.BUY

    maker = ExecutionPolicy(ExecutionConfig(entry_style=EntryStyle.MAKER_FIRST))
    route = maker.route(pair, size, SPOT_BOOK, PERP_BOOK)
    assert route == EntryRoute(first=LegId.B, first_role=Role.MAKER)
    m = maker.plan_entry(pair, size, route, PERP_BOOK, position_id="sp1", seq=4, reference_mid=D(1))
    assert m.request.tif is TimeInForce.POST_ONLY and m.request.price == D("100410")  # rests at the best ask


def test_hedges_follow_cumulative_fills() -> None:
    pair = spot_perp_pair()
    policy = ExecutionPolicy(ExecutionConfig())
    kw = dict(position_id="sp2", reference_mid=D("100405"))
    # spot (first) filled 0.12345: hedge 0.123 on the perp, 0.00045 left for later
    h1 = policy.plan_hedge(pair, LegId.A, D("0.12345"), D("0"), PERP_BOOK, seq=2, **kw)  # type: ignore[arg-type]
    assert h1.order is not None
    assert (h1.order.request.side, h1.order.request.qty) == (Side.SELL, D("0.123"))
    assert h1.order.purpose is OrderPurpose.HEDGE and h1.order.request.client_id == "sp2-hg2"
    assert h1.unhedged_base == D("0.00045")
    # more fills: only the difference
    h2 = policy.plan_hedge(pair, LegId.A, D("0.2"), D("0.123"), PERP_BOOK, seq=3, **kw)  # type: ignore[arg-type]
    assert h2.order is not None and h2.order.request.qty == D("0.077") and h2.unhedged_base == 0
    # nothing more to hedge
    h3 = policy.plan_hedge(pair, LegId.A, D("0.2005"), D("0.2"), PERP_BOOK, seq=4, **kw)  # type: ignore[arg-type]
    assert h3.order is None and h3.unhedged_base == D("0.0005")
    # a hedge below the perp's min notional (100 USDT) waits instead of being rejected
    h4 = policy.plan_hedge(pair, LegId.A, D("0.0009"), D("0"), PERP_BOOK, seq=5, **kw)  # type: ignore[arg-type]
    assert h4.order is None and h4.unhedged_base == D("0.0009")
    # exits hedge with reduce-only orders on the perp
    h5 = policy.plan_hedge(pair, LegId.A, D("0.5"), D("0"), PERP_BOOK, seq=6, exiting=True, **kw)  # type: ignore[arg-type]
    assert h5.order is not None
    assert h5.order.request.side is Side.BUY and h5.order.request.reduce_only
    assert h5.order.purpose is OrderPurpose.EXIT_HEDGE


def test_unwind_reduces_the_naked_leg() -> None:
    pair = spot_perp_pair()
    policy = ExecutionPolicy(ExecutionConfig())
    kw = dict(position_id="sp3", seq=9)
    # long 1 spot, short 0.4 perp: sell 0.6 spot
    u = policy.plan_unwind(pair, D("1"), D("0.4"), SPOT_BOOK, PERP_BOOK, **kw)  # type: ignore[arg-type]
    assert u.order is not None and u.dust_base == 0
    r = u.order.request
    assert (r.key, r.side, r.qty, r.reduce_only) == (SPOT, Side.SELL, D("0.60000"), False)
    assert u.order.purpose is OrderPurpose.UNWIND and u.order.reference_mid == D("99995")
    # short 1 perp, long 0.4 spot: buy 0.6 perp back, reduce-only
    u2 = policy.plan_unwind(pair, D("0.4"), D("1"), SPOT_BOOK, PERP_BOOK, **kw)  # type: ignore[arg-type]
    assert u2.order is not None
    assert (u2.order.request.key, u2.order.request.side, u2.order.request.reduce_only) == (PERP, Side.BUY, True)
    # 0.0004 too long on spot, but spot needs 50 USDT: the perp step cannot take it either → dust
    strict = spot_perp_pair(spot_min_notional="50")
    u3 = policy.plan_unwind(strict, D("1.0004"), D("1"), SPOT_BOOK, PERP_BOOK, **kw)  # type: ignore[arg-type]
    assert u3.order is None and u3.dust_base == D("0.0004") and "MIN_NOTIONAL" in u3.note
    # the same on the default pair (5 USDT minimum) is tradable
    u4 = policy.plan_unwind(pair, D("1.0004"), D("1"), SPOT_BOOK, PERP_BOOK, **kw)  # type: ignore[arg-type]
    assert u4.order is not None and u4.order.request.qty == D("0.00040")


def test_dust_tolerance_and_client_id_limits() -> None:
    pair = spot_perp_pair()  # spot: min 5 USDT, step 0.00001; perp: step 0.001
    assert dust_tolerance(pair, D("100000")) == D("0.00004")
    policy = ExecutionPolicy(ExecutionConfig())
    m = policy.machine("sp4", pair, D("100000"))
    assert m.tolerance == D("0.00004") and m.max_hedge_retries == 3
    with pytest.raises(PlanError, match="longer than 36"):
        policy.plan_entry(
            pair,
            policy.size(pair, D(1)),
            EntryRoute(first=LegId.A),
            SPOT_BOOK,
            position_id="x" * 40,
            seq=1,
            reference_mid=D(1),
        )
    with pytest.raises(PlanError, match="book for"):
        policy.plan_entry(
            pair,
            policy.size(pair, D(1)),
            EntryRoute(first=LegId.A),
            PERP_BOOK,
            position_id="p",
            seq=1,
            reference_mid=D(1),
        )


def test_sizes_for_contract_venues() -> None:
    pair = ArbPair(
        a=Leg(id=LegId.A, instrument=instrument(PERP, step="0.001")),
        b=Leg(id=LegId.B, instrument=instrument(OKX_SWAP, step="0.01", contract_size="0.01")),
    )
    size = ExecutionPolicy(ExecutionConfig()).size(pair, D("0.0567"))
    assert (size.base, size.qty_a, size.qty_b) == (D("0.05"), D("0.05"), D("0.05"))


# ----------------------------------------------------------------------------- fees in the base asset


@given(st.integers(1, 10_000_000), st.sampled_from(["0.001", "0.00075", "0.0005", "0"]))
def test_a_spot_buy_is_grossed_up_to_hold_the_hedge_size_after_its_btc_fee(units: int, rate: str) -> None:
    """Issue 12: sold 0.01 BTC, bought back 0.00999 net — the fee came out of the BTC bought."""
    leg = Leg(id=LegId.A, instrument=instrument(SPOT, step="0.00001"), fees=FeeRates(taker=D(rate), maker=D(rate)))
    assert leg.buy_fee_in_base  # spot legs: as Binance, Bybit and OKX charge them
    want = D(units) * D("0.00001")
    qty = leg.buy_qty_for(want, OrderType.MARKET)
    assert qty % D("0.00001") == 0
    held = leg.net_base(qty, Side.BUY)
    assert want <= held < want + D("0.00001")  # the hedge size, plus less than one step
    assert leg.net_base(qty, Side.SELL) == qty  # a sell's fee is in the quote asset


def test_fee_aware_sizing_in_entry_hedge_and_unwind_plans() -> None:
    pair = spot_perp_pair()  # spot 0.1 % taker, fees in BTC on buys; perp fees in USDT
    policy = ExecutionPolicy(ExecutionConfig())
    size = policy.size(pair, D("0.01"))
    entry = policy.plan_entry(
        pair, size, EntryRoute(first=LegId.A), SPOT_BOOK, position_id="f", seq=1, reference_mid=D(1)
    )
    assert entry.request.qty == D("0.01002")  # 0.01 / 0.999 = 0.010010.. rounded up: holds 0.01000998
    # the perp went first (sold 0.01): the spot hedge buys enough to hold 0.01 after its fee
    h = policy.plan_hedge(pair, LegId.B, D("0.01"), D("0"), SPOT_BOOK, position_id="f", seq=2, reference_mid=D(1))
    assert h.order is not None and h.order.request.qty == D("0.01002") and h.unhedged_base == 0
    # a hedge already holding the size (net of its fee) asks for nothing more
    done = policy.plan_hedge(
        pair, LegId.B, D("0.01"), D("0.01000998"), SPOT_BOOK, position_id="f", seq=3, reference_mid=D(1)
    )
    assert done.order is None
    # the perp leg is never grossed up; nor is a spot sell
    perp_first = policy.plan_entry(
        pair, size, EntryRoute(first=LegId.B), PERP_BOOK, position_id="f", seq=4, reference_mid=D(1)
    )
    assert perp_first.request.qty == D("0.010")
    ex = policy.plan_exit(pair, size, EntryRoute(first=LegId.A), SPOT_BOOK, position_id="f", seq=5, reference_mid=D(1))
    assert ex.request.qty == D("0.010")
    # unwinding a short imbalance by buying spot: grossed up too
    u = policy.plan_unwind(pair, D("0.5"), D("0.6"), SPOT_BOOK, PERP_BOOK, position_id="f", seq=6)
    assert u.order is not None and u.order.request.key == PERP  # the larger leg (perp) is reduced first
    u2 = policy.plan_unwind(pair, D("0.5995"), D("0.6"), SPOT_BOOK, PERP_BOOK, position_id="f", seq=7)
    assert u2.order is not None and u2.order.request.key == SPOT  # 0.0005 is below the perp's step
    assert u2.order.request.side is Side.BUY and u2.order.request.qty == D("0.00051")
    # fees paid in another asset (BNB): no gross-up
    bnb = spot_perp_pair(spot_fees=FeeRates(taker=D("0.001"), maker=D("0.001"), buy_fee_in_base=False))
    plain = policy.plan_entry(
        bnb, size, EntryRoute(first=LegId.A), SPOT_BOOK, position_id="f", seq=8, reference_mid=D(1)
    )
    assert plain.request.qty == D("0.01")
