"""Every order filter refuses with its reason and leaves the venue untouched."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
import pytest

from exchanges.sim.engine import RejectReason, SimReject, SimVenue
from strategy_client.model import MarketKind, OrderType, Side, TimeInForce

from .helpers import best, limit, make_venue

SPOT, PERP = MarketKind.SPOT, MarketKind.PERP


def reject(venue: SimVenue, reason: RejectReason, **kw: object) -> SimReject:
    args: dict[str, object] = {
        "account": "alice",
        "kind": SPOT,
        "symbol": "BTCUSDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "tif": TimeInForce.GTC,
        "qty": D("0.01"),
        "price": D("50000"),
        "client_order_id": "",
    }
    args.update(kw)
    balances = venue.spot_balances("alice")
    book = venue.book(SPOT, "BTCUSDT", 50)
    with pytest.raises(SimReject) as info:
        venue.place_order(**args)  # type: ignore[arg-type]
    assert info.value.reason is reason, info.value
    assert venue.spot_balances("alice") == balances
    assert venue.book(SPOT, "BTCUSDT", 50) == book
    assert venue.open_orders("alice", SPOT) == []
    return info.value


def test_unknown_symbol_and_account(venue: SimVenue) -> None:
    reject(venue, RejectReason.UNKNOWN_SYMBOL, symbol="DOGEUSDT")
    reject(venue, RejectReason.UNKNOWN_ACCOUNT, account="mallory")


@pytest.mark.parametrize(
    ("qty", "reason"),
    [
        ("0", RejectReason.INVALID_QTY),
        ("-1", RejectReason.INVALID_QTY),
        ("0.000015", RejectReason.LOT_SIZE),  # off the step
        ("0.000001", RejectReason.LOT_SIZE),  # below min (and off step)
        ("9000.00001", RejectReason.MAX_QTY),
    ],
)
def test_quantity_filters(venue: SimVenue, qty: str, reason: RejectReason) -> None:
    reject(venue, reason, qty=D(qty))


def test_market_lot_size_uses_market_max(venue: SimVenue) -> None:
    reject(venue, RejectReason.MAX_QTY, type=OrderType.MARKET, price=None, qty=D("100.00001"))


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("0", RejectReason.INVALID_PRICE),
        ("50000.001", RejectReason.PRICE_FILTER),
        ("1000000.01", RejectReason.PRICE_FILTER),
        ("NaN", RejectReason.INVALID_PRICE),
    ],
)
def test_price_filters(venue: SimVenue, price: str, reason: RejectReason) -> None:
    reject(venue, reason, price=D(price))


def test_percent_price_band_against_the_reference(venue: SimVenue) -> None:
    mark = venue.reference_price(PERP, "BTCUSDT")
    too_high = (mark * D("1.06")).quantize(D("0.1"))
    too_low = (mark * D("0.94")).quantize(D("0.1"))
    reject(venue, RejectReason.PERCENT_PRICE, kind=PERP, qty=D("0.01"), price=too_high)
    reject(venue, RejectReason.PERCENT_PRICE, kind=PERP, side=Side.SELL, qty=D("0.01"), price=too_low)
    # a buy far below and a sell far above the mark are allowed (they only rest)
    low = limit(venue, "alice", PERP, Side.BUY, "0.01", too_low)
    high = limit(venue, "alice", PERP, Side.SELL, "0.01", too_high)
    assert low.status.value == "new" and high.status.value == "new"


def test_min_notional_limit_market_and_reduce_only(venue: SimVenue) -> None:
    reject(venue, RejectReason.MIN_NOTIONAL, qty=D("0.00001"), price=D("50000"))  # 0.5 USDT
    reject(venue, RejectReason.MIN_NOTIONAL, type=OrderType.MARKET, price=None, qty=D("0.00001"))
    with pytest.raises(SimReject) as info:
        limit(venue, "alice", PERP, Side.BUY, "0.001", "50000")  # 50 < 100 USDT
    assert info.value.reason is RejectReason.MIN_NOTIONAL


def test_shape_errors(venue: SimVenue) -> None:
    reject(venue, RejectReason.INVALID_PRICE, price=None)
    reject(venue, RejectReason.INVALID_QTY, qty=None)
    reject(venue, RejectReason.INVALID_ORDER, type=OrderType.MARKET)  # market with a price
    reject(venue, RejectReason.INVALID_QTY, type=OrderType.MARKET, price=None, qty=None)
    reject(venue, RejectReason.INVALID_ORDER, quote_qty=D("100"))  # quote qty on a limit
    reject(
        venue,
        RejectReason.INVALID_ORDER,
        kind=PERP,
        type=OrderType.MARKET,
        price=None,
        qty=None,
        quote_qty=D("100"),
    )
    reject(venue, RejectReason.REDUCE_ONLY_REJECTED, reduce_only=True)


def test_post_only_would_take_and_fok_not_fillable(venue: SimVenue) -> None:
    _, ask = best(venue, SPOT)
    reject(venue, RejectReason.POST_ONLY_WOULD_TAKE, tif=TimeInForce.POST_ONLY, price=ask)
    depth = sum(q for _, q in venue.book(SPOT, "BTCUSDT", 1000).asks)
    reject(venue, RejectReason.FOK_NOT_FILLABLE, tif=TimeInForce.FOK, price=ask, qty=D("0.6"))
    reject(venue, RejectReason.INSUFFICIENT_BALANCE, tif=TimeInForce.FOK, price=ask * 2, qty=depth)


def test_max_open_orders(venue: SimVenue) -> None:
    spec = msgspec.structs.replace(venue.spec(SPOT, "BTCUSDT"), max_open_orders=2)
    small, _ = make_venue(symbols=(spec,))
    limit(small, "alice", SPOT, Side.BUY, "0.001", "50000")
    limit(small, "alice", SPOT, Side.BUY, "0.001", "50000")
    with pytest.raises(SimReject) as info:
        limit(small, "alice", SPOT, Side.BUY, "0.001", "50000")
    assert info.value.reason is RejectReason.MAX_OPEN_ORDERS
    # an IOC never rests, so it is not limited
    o = limit(small, "alice", SPOT, Side.BUY, "0.001", "50000", tif=TimeInForce.IOC)
    assert o.status.value == "expired"
