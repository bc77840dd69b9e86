"""The checks before a strategy trades (issue 21): the size against the legs' minimums, the start
command named for a missing runner, per-leg market-data age and the status line."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

from strategies.arbitrage.execution import ExecutionConfig, ExecutionPolicy, min_tradable_base
from strategies.arbitrage.oracle import OracleConfig, PriceOracle
from strategies.feeds import FeedWatch
from strategies.runtime import _status_line
from strategies.startup import size_problem, start_command
from strategy_client.model import InstrumentKey, OrderBook, OrderType

from .builders import PERP, SPOT, book, spot_perp_pair

D = Decimal
PRICES = {str(SPOT): D("60000"), str(PERP): D("60325.45")}


def test_min_notional_rounds_up_to_the_next_step() -> None:
    """100 USDT at 60,325.45 is 0.00166 BTC: the perp needs 0.002 (the old `-(-x // step)` on a
    Decimal truncated toward zero and said 0.001, which the venue refuses)."""
    perp = spot_perp_pair().b
    assert min_tradable_base(perp, D("60325.45"), OrderType.MARKET) == D("0.002")
    spot = spot_perp_pair().a  # 5 USDT at 60,000 = 0.0000833 → 0.00009 on a 0.00001 step
    assert min_tradable_base(spot, D("60000"), OrderType.MARKET) == D("0.00009")


def test_size_below_a_legs_minimum_is_named_with_the_minimum() -> None:
    policy = ExecutionPolicy(ExecutionConfig())
    problem = size_problem(spot_perp_pair(), D("0.00001"), PRICES, policy)
    assert problem is not None
    assert "size 0.00001 (0 on both legs' step)" in problem
    assert "smallest size this pair trades: 0.002 BTC" in problem
    assert "binance:perp:BTCUSDT: min qty 0.001, min notional 100 USDT at 60325.45" in problem
    # one step under the minimum is refused; the minimum itself and above trade
    assert size_problem(spot_perp_pair(), D("0.001"), PRICES, policy) is not None
    assert size_problem(spot_perp_pair(), D("0.002"), PRICES, policy) is None
    assert size_problem(spot_perp_pair(), D("0.01"), PRICES, policy) is None


def test_size_without_a_price_is_checked_against_the_minimum_quantity() -> None:
    policy = ExecutionPolicy(ExecutionConfig())
    assert size_problem(spot_perp_pair(), D("0.001"), {}, policy) is None
    problem = size_problem(spot_perp_pair(), D("0.0005"), {}, policy)
    assert problem is not None and "0.001 BTC" in problem and "min notional" not in problem


def test_start_command_names_the_redis_only_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert start_command("binance", "redis://127.0.0.1:6379/0") == "runner binance"
    assert start_command("bybit", "redis://127.0.0.1:7000/2") == "runner bybit --redis-url redis://127.0.0.1:7000/2"
    assert start_command("okx", "redis://127.0.0.1:6379/0", "okx-a") == "runner okx --name okx-a"
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:7000/2")  # the runner reads it too
    assert start_command("bybit", "redis://127.0.0.1:7000/2") == "runner bybit"
    pw = start_command("bybit", "redis://:secret@127.0.0.1:7001/0")
    assert "secret" not in pw


def _book(key: InstrumentKey, ts_ns: int) -> OrderBook:
    return book(key, [("60000", "1")], [("60001", "1")], ts_ns=ts_ns, seq=ts_ns)


def test_feed_watch_reports_stale_legs_once_then_periodically_and_recovery() -> None:
    oracle = PriceOracle(OracleConfig(max_book_age_ms=2_000))
    watch = FeedWatch([SPOT, PERP], 2_000, repeat_s=30)
    s = 1_000_000_000
    first = watch.check(oracle, 1 * s)
    assert first.stale == [] and first.status([SPOT, PERP]) == "spot none perp none"  # nothing yet: not stale
    oracle.on_book(_book(SPOT, 1 * s))
    oracle.on_book(_book(PERP, 1 * s))
    fresh = watch.check(oracle, 2 * s)
    assert fresh.stale == [] and fresh.status([SPOT, PERP]) == "spot 1.0s perp 1.0s"
    oracle.on_book(_book(SPOT, 10 * s))
    went = watch.check(oracle, 11 * s)  # the perp's book is 10 s old
    assert went.newly_stale == [PERP] and went.stale == [PERP]
    assert went.status([SPOT, PERP]) == "spot 1.0s perp 10.0s STALE"
    assert watch.check(oracle, 12 * s).newly_stale == []  # said once...
    oracle.on_book(_book(SPOT, 40 * s))
    assert watch.check(oracle, 41 * s).still_stale == [PERP]  # ...and again every 30 s
    oracle.on_book(_book(PERP, 42 * s))
    oracle.on_book(_book(SPOT, 42 * s))
    back = watch.check(oracle, 42 * s)
    assert back.recovered == [PERP] and back.stale == []


def test_status_line_does_not_show_a_stale_edge_as_current() -> None:
    st = {
        "state": "idle",
        "edge_bps": D("3.25"),
        "edge_terms": "basis +1.0",
        "position_base": D(0),
        "pnl": D(0),
        "basis": D(0),
        "funding": D(0),
        "fees": D(0),
        "slippage": D(0),
        "entries": 0,
        "exits": 0,
    }
    live = _status_line("perpperp", "paper", st, "binance 0.1s bybit 0.2s", False)
    assert "feed=[binance 0.1s bybit 0.2s] edge=+3.2bps [basis +1.0]" in live
    frozen = _status_line("perpperp", "paper", st, "binance 0.1s bybit 35.0s STALE", True)
    assert "feed=[binance 0.1s bybit 35.0s STALE] edge=STALE (last +3.2bps)" in frozen
    # a library in the process (ccxt) switched the thread's decimal context to half-up: same line
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_UP
        assert _status_line("perpperp", "paper", st, "binance 0.1s bybit 0.2s", False) == live
