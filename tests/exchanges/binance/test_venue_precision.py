"""Issue 12: quantities computed on another venue's lot reach Binance in Binance's precision.

``0.0100`` (OKX's finer lot) on a 0.001-step symbol is the value 0.01, on the grid, but Binance
counts the decimals of the text and refuses 4 > 3 with -1111. The adapter renders the instrument's
precision; the simulator refuses over-precise text exactly as Binance does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.parse import futures_order_params, perp_key, spot_key, spot_order_params
from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from exchanges.credentials import Credentials
from exchanges.errors import ExchangeError
from exchanges.numbers import venue_decimal
from strategy_client.model import (
    Exchange,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    round_down,
)
from tests.helpers import eventually, free_port_pair

D = Decimal
BTC_SPOT, BTC_PERP = spot_key("BTCUSDT"), perp_key("BTCUSDT")


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        (D("0.0100"), D("0.001"), "0.010"),
        (D("0.0100"), D("0.00100000"), "0.010"),  # spot exchangeInfo writes steps with 8 decimals
        (D("0.0100"), None, "0.01"),
        (D("10"), D("1"), "10"),
        (D("1E+1"), D("1"), "10"),
        (D("1E+1"), None, "10"),
        (D("100"), D("10"), "100"),
        (D("1E-8"), None, "0.00000001"),
        (D("3000.00"), D("0.10"), "3000.0"),
        (D("0.0105"), D("0.001"), "0.0105"),  # off the grid: exact, the venue's filter refuses it
        (D("0"), D("0.001"), "0"),
    ],
)
def test_venue_decimal(value: Decimal, step: Decimal | None, text: str) -> None:
    assert venue_decimal(value, step) == text
    assert "E" not in text and D(text) == value


def test_venue_decimal_refuses_non_finite() -> None:
    with pytest.raises(ValueError):
        venue_decimal(D("NaN"))


def _instrument(key: InstrumentKey, step: str, tick: str) -> Instrument:
    return Instrument(
        key=key,
        base="BTC",
        quote="USDT",
        settle="USDT",
        tick_size=D(tick),
        step_size=D(step),
        min_qty=D(step),
        max_qty=D("1000"),
        min_notional=D("5"),
    )


def test_order_params_use_the_instrument_precision() -> None:
    perp = _instrument(BTC_PERP, "0.001", "0.10")
    req = OrderRequest(key=BTC_PERP, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.0100"), price=D("30000.000"))
    params = futures_order_params(req, "c-1", perp)
    assert (params["quantity"], params["price"]) == ("0.010", "30000.0")
    spot = _instrument(BTC_SPOT, "0.00001", "0.01")
    market = OrderRequest(key=BTC_SPOT, side=Side.SELL, type=OrderType.MARKET, qty=D("1E+1"))
    assert spot_order_params(market, "c-2", spot)["quantity"] == "10.00000"
    # without the instrument (not loaded): exact and minimal, never trailing zeros or exponents
    assert futures_order_params(req, "c-3")["quantity"] == "0.01"


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSim]:
    venue = BinanceSim(port_base=free_port_pair(), seed=5, options=BinanceSimOptions(), step_ms=50)
    async with venue:
        venue.venue.pause(True)
        yield venue


async def test_simulator_refuses_over_precise_text_like_binance(sim: BinanceSim) -> None:
    """How the defect hid: the simulator must refuse ``0.0100`` on a 0.001 step with -1111."""
    adapter = BinanceAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), use_ws_api=False)
    await adapter.start()
    try:
        inst = adapter.instrument(BTC_PERP)
        assert inst is not None and inst.step_size == D("0.001")
        book = await adapter.fetch_order_book(BTC_PERP, 5)
        assert book.best_bid is not None
        price = round_down(book.best_bid.price - 50 * inst.tick_size, inst.tick_size)
        params = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.0100",
            "price": format(price, "f"),
            "newClientOrderId": "raw-over-precise",
        }
        with pytest.raises(ExchangeError) as err:
            await adapter.rest.futures_place_order(params)
        assert "-1111" in str(err.value) or getattr(err.value, "code", None) == -1111
    finally:
        await adapter.close()


@pytest.mark.parametrize("use_ws_api", [False, True], ids=["rest", "wsapi"])
@pytest.mark.parametrize("key", [BTC_PERP, BTC_SPOT], ids=["perp", "spot"])
async def test_quantity_from_a_finer_lot_is_accepted(sim: BinanceSim, use_ws_api: bool, key: InstrumentKey) -> None:
    adapter = BinanceAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), use_ws_api=use_ws_api)
    await adapter.start()
    try:
        if use_ws_api:
            await eventually(lambda: all(c.connected for c in adapter.ws_api.values()), what="WS-API connected")
        inst = adapter.instrument(key)
        assert inst is not None
        book = await adapter.fetch_order_book(key, 5)
        assert book.best_bid is not None
        # a price with trailing zeros beyond the tick too (e.g. computed on another venue's tick)
        price = round_down(book.best_bid.price - 50 * inst.tick_size, inst.tick_size).quantize(D("0.00000001"))
        placed = await adapter.place_order(
            OrderRequest(key=key, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.0100"), price=price)
        )
        assert placed.status is OrderStatus.NEW and placed.qty == D("0.01") and placed.price == price
        await adapter.cancel_order(key, client_id=placed.client_id)
    finally:
        await adapter.close()


def test_bybit_and_okx_send_no_trailing_zeros() -> None:
    """The same trap on the other venues: a quantity from a finer lot goes out exact and minimal."""
    from exchanges.bybit.parse import order_params
    from exchanges.okx.parse import order_body
    from tests.exchanges.okx.test_parse import PERP as OKX_PERP
    from tests.exchanges.okx.test_parse import _symbols

    bybit_perp = InstrumentKey(Exchange.BYBIT, "BTCUSDT", MarketKind.PERP)
    req = OrderRequest(key=bybit_perp, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.0100"), price=D("64000.00"))
    params = order_params(req, "BTCUSDT", "a-1")
    assert (params["qty"], params["price"]) == ("0.01", "64000")
    okx_req = OrderRequest(key=OKX_PERP, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.0100"), price=D("1E+4"))
    body = order_body(okx_req, _symbols().require(OKX_PERP), "tb-1")
    assert (body["sz"], body["px"]) == ("1", "10000")
