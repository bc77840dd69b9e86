"""The REPL's pure parts besides the grammar: rendering, rounding notes, error lines, completion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from strategies.manual.commands import PlaceOrder
from strategies.manual.completion import complete, instrument_candidates
from strategies.manual.errors import SessionError, describe_error
from strategies.manual.render import (
    dec,
    duration,
    pct,
    render_balance,
    render_book,
    render_funding,
    render_order,
    render_orders,
    render_positions,
    table,
)
from strategies.manual.session import rounding_notes
from strategy_client.errors import (
    AmbiguousRoute,
    BadReply,
    CoreApiError,
    DiscoveryError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    ProtocolMismatch,
    RequestTimeout,
    RunnerInternalError,
    RunnerUnavailable,
    VenueRejected,
    VenueUnavailable,
)
from strategy_client.model import (
    AccountSnapshot,
    Balance,
    BookLevel,
    Exchange,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarginBalance,
    MarketKind,
    Order,
    OrderBook,
    OrderStatus,
    OrderTooSmall,
    OrderType,
    Position,
    RejectCode,
    Side,
    TimeInForce,
    fit_order,
)

D = Decimal
BN = Exchange.BINANCE
PERP = InstrumentKey(BN, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(BN, "BTCUSDT", MarketKind.SPOT)
ETH = InstrumentKey(BN, "ETHUSDT", MarketKind.PERP)
KEYS = (PERP, SPOT, ETH, InstrumentKey(Exchange.OKX, "BTC-USDT-SWAP", MarketKind.PERP))

INST = Instrument(
    key=PERP,
    base="BTC",
    quote="USDT",
    settle="USDT",
    tick_size=D("0.1"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    min_notional=D("100"),
    max_qty=D("1000"),
    market_max_qty=D("120"),
)


def test_dec_is_exact_without_exponent_or_trailing_zeros() -> None:
    assert dec(D("0.01000000")) == "0.01"
    assert dec(D("0E-8")) == "0"
    assert dec(D("1E+3")) == "1000"
    assert dec(D("60014.70")) == "60014.7"
    assert dec(D("0.00000001")) == "0.00000001"
    assert dec(None) == "-"
    assert pct(D("0.000145")) == "0.0145%"
    assert pct(D("-0.0001")) == "-0.01%"


def test_table_aligns_columns() -> None:
    text = table(["a", "num"], [["xyz", "1.5"], ["b", "10"]], [False, True])
    assert text.splitlines() == ["a    num", "xyz  1.5", "b     10"]


def test_duration() -> None:
    assert duration(-5) == "now"
    assert duration(12_000) == "12s"
    assert duration(250_000) == "4m 10s"
    assert duration(3 * 3_600_000 + 5 * 60_000) == "3h 05m"


def test_book_ladder_puts_asks_high_to_low_above_the_bids() -> None:
    book = OrderBook(
        key=PERP,
        bids=(BookLevel(D("99.9"), D("1")), BookLevel(D("99.8"), D("2")), BookLevel(D("99.7"), D("3"))),
        asks=(BookLevel(D("100.1"), D("4")), BookLevel(D("100.2"), D("5")), BookLevel(D("100.3"), D("6"))),
        venue_ts_ms=1,
        local_ts_ns=1,
        sequence=42,
    )
    lines = render_book(book, 2).splitlines()
    assert lines[0] == "binance:perp:BTCUSDT  (3 bids, 3 asks, seq 42)"
    assert lines[1].split() == ["bid", "qty", "price", "ask", "qty"]
    assert [line.split() for line in lines[2:4]] == [["100.2", "5"], ["100.1", "4"]]
    assert "spread 0.2 (20 bps)" in lines[4] and "mid 100" in lines[4]
    assert [line.split() for line in lines[5:]] == [["1", "99.9"], ["2", "99.8"]]
    empty = OrderBook(key=PERP, bids=(), asks=(), venue_ts_ms=1, local_ts_ns=1)
    assert "(empty book)" in render_book(empty, 5)


def test_funding_is_normalised_per_hour() -> None:
    fr = FundingRate(
        key=PERP,
        rate=D("0.0001"),
        interval_ms=8 * 3_600_000,
        next_funding_ts_ms=1_700_006_400_000,
        mark_price=D("60018"),
        index_price=D("60000"),
    )
    text = render_funding(fr, now_ms=1_700_006_400_000 - 2 * 3_600_000)
    assert "funding 0.01% per 8h = 0.00125% per hour (longs pay shorts)" in text
    assert "next funding 2023-11-15 00:00:00 UTC (in 2h 00m)" in text
    assert "mark 60018  index 60000" in text
    four_hourly = FundingRate(
        key=PERP, rate=D("-0.0002"), interval_ms=4 * 3_600_000, next_funding_ts_ms=0, mark_price=D(1), index_price=D(1)
    )
    assert "-0.02% per 4h = -0.005% per hour (shorts pay longs)" in render_funding(four_hourly, 0)


def _order(**kw: object) -> Order:
    base: dict[str, object] = dict(
        key=SPOT,
        client_id="c-1",
        venue_id="7",
        side=Side.BUY,
        type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price=D("30000.10"),
        qty=D("0.010"),
    )
    base.update(kw)
    return Order(**base)  # type: ignore[arg-type]


def test_order_lines() -> None:
    assert render_order(_order()) == "open: buy 0.01 binance:spot:BTCUSDT @ 30000.1 gtc  id c-1 (venue 7)"
    filled = _order(type=OrderType.MARKET, price=None, status=OrderStatus.FILLED, avg_price=D("60020.8"))
    assert render_order(filled).startswith("filled: buy 0.01 binance:spot:BTCUSDT market @ avg 60020.8")
    part = _order(status=OrderStatus.CANCELED, filled_qty=D("0.004"), avg_price=D("30000.1"))
    assert render_order(part).startswith("canceled: buy 0.01 binance:spot:BTCUSDT @ 30000.1 gtc, filled 0.004")
    rejected = _order(status=OrderStatus.REJECTED, reject_reason="post-only would take", tif=TimeInForce.POST_ONLY)
    assert "rejected: buy 0.01 binance:spot:BTCUSDT @ 30000.1 post (post-only would take)" in render_order(rejected)
    assert "reduce-only" in render_order(_order(key=PERP, reduce_only=True))
    coded = _order(
        status=OrderStatus.REJECTED, reject_reason="Margin is insufficient.", reject_code=RejectCode.INSUFFICIENT_FUNDS
    )
    assert render_order(coded).endswith("(insufficient_funds: Margin is insufficient.)  id c-1 (venue 7)")


def test_order_table() -> None:
    assert render_orders(()) == "no open orders"
    text = render_orders([_order(client_id="b", created_ts_ms=2), _order(client_id="a", created_ts_ms=1)])
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["id", "instrument", "side"]
    assert [line.split()[0] for line in lines[1:]] == ["a", "b"]
    assert "limit gtc" in lines[1] and "30000.1" in lines[1]


def test_unknown_orders_stand_out() -> None:
    """An order whose outcome is unknown is shown as such, with what to do (and not to do)."""
    lost = _order(client_id="lost", venue_id="", status=OrderStatus.UNKNOWN)
    line = render_order(lost)
    assert line.startswith("UNKNOWN: buy 0.01 binance:spot:BTCUSDT @ 30000.1 gtc  id lost")
    assert "do not resend" in line
    lines = render_orders([_order(client_id="live"), lost]).splitlines()
    assert lines[1].split()[-1] == "new" and lines[2].split()[-1] == "UNKNOWN"
    assert lines[-1].startswith("1 UNKNOWN: the venue's answer was lost")
    assert "UNKNOWN" not in render_orders([_order()])


def test_positions_hide_flat_ones() -> None:
    flat = Position(key=ETH, size=D(0), entry_price=D(0))
    short = Position(key=PERP, size=D("-0.012"), entry_price=D("60020.8"), unrealized_pnl=D("1.5"), leverage=5)
    assert render_positions([flat]) == "no open positions"
    lines = render_positions([flat, short]).splitlines()
    assert len(lines) == 2
    assert lines[1].split() == ["binance:perp:BTCUSDT", "short", "-0.012", "60020.8", "-", "1.5", "5x", "-"]


def test_balance_shows_nonzero_spot_and_margin() -> None:
    account = AccountSnapshot(
        exchange=BN,
        balances=(Balance(asset="USDT", free=D("100.5"), locked=D("1")), Balance(asset="XRP", free=D("0E-8"))),
        margin=(MarginBalance(asset="USDT", wallet_balance=D("1000"), available_balance=D("900")),),
    )
    text = render_balance(account)
    assert "XRP" not in text
    assert "USDT   100.5       1  101.5" in text
    assert "futures margin" in text and "1000" in text
    assert render_balance(AccountSnapshot(exchange=BN)) == "no balances on binance"


# ----------------------------------------------------------------------------- rounding


def _fit(order: PlaceOrder) -> list[str]:
    fitted = fit_order(INST, order.side, order.type, order.qty, order.price, reduce_only=True)
    return rounding_notes(INST, order, fitted)


def test_rounding_is_reported() -> None:
    assert _fit(PlaceOrder(key=PERP, side=Side.BUY, qty=D("0.0123"))) == ["qty 0.0123 → 0.012 (step 0.001)"]
    assert _fit(PlaceOrder(key=PERP, side=Side.BUY, qty=D("200"))) == ["qty 200 → 120 (max 120)"]
    assert _fit(PlaceOrder(key=PERP, side=Side.BUY, qty=D("0.01"), price=D("95000.17"))) == [
        "price 95000.17 → 95000.1 (tick 0.1, a buy rounds down)"
    ]
    assert _fit(PlaceOrder(key=PERP, side=Side.SELL, qty=D("0.01"), price=D("95000.11"))) == [
        "price 95000.11 → 95000.2 (tick 0.1, a sell rounds up)"
    ]
    assert _fit(PlaceOrder(key=PERP, side=Side.SELL, qty=D("0.010"), price=D("95000.0"))) == []


def test_an_order_that_cannot_pass_is_refused_with_the_filter() -> None:
    with pytest.raises(OrderTooSmall) as info:
        fit_order(INST, Side.BUY, OrderType.MARKET, D("0.0004"), None, reference_price=D("60000"))
    assert describe_error(info.value) == "order not sent — LOT_SIZE: quantity 0.0004 rounds to 0.000, below 0.001"


# ----------------------------------------------------------------------------- error lines


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (RequestTimeout("get_order to runner x: no reply within 1.0s"), "timeout: get_order to runner x"),
        (DiscoveryError("cannot read the runner directory"), "runner directory unreachable: cannot read"),
        (RunnerUnavailable("no binance runner registered"), "runner unavailable: no binance runner registered"),
        (ProtocolMismatch("runner speaks v2"), "protocol mismatch: runner speaks v2"),
        (AmbiguousRoute("2 binance runners"), "several runners: 2 binance runners"),
        (NotFound("x", venue_code="-2011", venue_message="Unknown order sent."), "not found (venue code -2011)"),
        (InvalidRequest("leverage 700 outside 1..125"), "invalid request: leverage 700 outside 1..125"),
        (
            VenueRejected("[binance-futures, code -2019]", venue_code="-2019", venue_message="Margin is insufficient."),
            "venue rejected (venue code -2019): Margin is insufficient.",
        ),
        (VenueRejected("client id a is already live"), "venue rejected: client id a is already live"),
        (VenueUnavailable("rate limited"), "venue unavailable: rate limited"),
        (OutcomeUnknown("reconciling"), "outcome unknown: reconciling"),
        (RunnerInternalError("boom"), "runner internal error: boom"),
        (BadReply("expected an OrderReply"), "bad reply from the runner: expected"),
        (CoreApiError("odd"), "failed: odd"),
        (SessionError("unknown instrument x"), "unknown instrument x"),
        (KeyError("k"), "internal error (KeyError: 'k'); this is a bug"),
    ],
)
def test_error_lines(exc: BaseException, line: str) -> None:
    text = describe_error(exc)
    assert text.startswith(line)
    assert "\n" not in text


def test_error_lines_are_one_line() -> None:
    assert describe_error(InvalidRequest("a\nb\n  c")) == "invalid request: a b c"


# ----------------------------------------------------------------------------- completion


def _complete(line: str, ids: tuple[str, ...] = ()) -> list[str]:
    begidx = line.rfind(" ") + 1
    asked: list[InstrumentKey | None] = []

    def order_ids(key: InstrumentKey | None) -> tuple[str, ...]:
        asked.append(key)
        return ids

    result = complete(line, begidx, line[begidx:], exchange=BN, keys=lambda: KEYS, order_ids=order_ids)
    if ids:
        assert asked == [SPOT]
    return result


def test_command_names_complete() -> None:
    assert _complete("bal") == ["balance"]
    assert _complete("b") == ["balance", "book", "buy"]
    assert _complete("") == sorted(_complete(""))
    assert "quit" in _complete("") and "exit" in _complete("")
    assert _complete("help le") == ["leverage"]


def test_instruments_complete_in_every_form() -> None:
    assert _complete("book BT") == ["BTCUSDT"]
    assert _complete("book bt") == ["BTCUSDT"]
    assert _complete("book spot:") == ["spot:BTCUSDT"]
    assert _complete("book perp:E") == ["perp:ETHUSDT"]
    assert _complete("book binance:s") == ["binance:spot:BTCUSDT"]
    assert _complete("book ") == ["BTCUSDT", "ETHUSDT", "spot:BTCUSDT"]
    assert _complete("funding ") == ["BTCUSDT", "ETHUSDT"]
    assert _complete("leverage spot:") == []
    assert "binance:perp:BTCUSDT" in _complete("orders bin")
    assert not any("okx" in c or "SWAP" in c for c in _complete("book "))
    assert instrument_candidates("", BN, KEYS, perps_only=True) == ["BTCUSDT", "ETHUSDT"]


def test_arguments_after_the_instrument_complete() -> None:
    assert _complete("price BTCUSDT m") == ["mark", "mid"]
    assert _complete("buy BTCUSDT 0.1 ") == ["reduce"]  # no price yet: no time in force
    assert _complete("buy BTCUSDT 0.1 95000 ") == ["fok", "gtc", "ioc", "post", "reduce"]
    assert _complete("buy BTCUSDT 0.1 95000 ioc ") == ["reduce"]
    assert _complete("buy BTCUSDT 0") == []
    assert _complete("cancel a") == ["all"]
    assert _complete("cancel all sp") == ["spot:BTCUSDT"]
    assert _complete("cancel spot:BTCUSDT m", ("man-1", "man-2", "other")) == ["man-1", "man-2"]
    assert _complete("cancel nope!: x") == []
    assert _complete("positions ") == []
