"""Replay: the shipped recording (tests/fixtures/recording, made by scripts/make_recording_fixture.py
with the recorder) as the offline venues' market.

The recorded books are read back with the recorder's own reader (``recorder.open_channel``), not
the replay's, and compared with what each venue's engine serves after every step; funding settles
at the recorded times and rates; orders match against the recorded book, and the same orders at
the same steps give the same fills; a bad recording is one clear error.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from bisect import bisect_right
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchanges.binance.sim import BinanceSim
from exchanges.bybit.sim import BybitSim
from exchanges.okx.sim import OkxSim
from exchanges.sim.engine import OrderChanged, SimEvent
from exchanges.sim.recording import Recording, RecordingError
from exchanges.sim.replay import ReplayPacer, parse_speed
from exchanges.sim.runtime import SimHost
from recorder import open_channel
from strategy_client.model import MarketKind, OrderType, Side, TimeInForce

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/fixtures/recording"
SIMS: dict[str, Any] = {"binance": BinanceSim, "bybit": BybitSim, "okx": OkxSim}

Levels = list[tuple[Decimal, Decimal]]


def recorded_books(venue: str) -> dict[tuple[MarketKind, str], tuple[list[int], list[tuple[Levels, Levels]]]]:
    """Per instrument: the recorded times and books, in recorded order (the recorder's reader)."""
    table = open_channel(str(FIXTURE), "book").to_table()
    rows = [r for r in table.to_pylist() if r["venue"] == venue]
    rows.sort(key=lambda r: (r["venue_ts_ms"], r["seq"]))
    out: dict[tuple[MarketKind, str], tuple[list[int], list[tuple[Levels, Levels]]]] = {}
    for r in rows:
        times, books = out.setdefault((MarketKind(r["market"]), r["symbol"]), ([], []))
        times.append(r["venue_ts_ms"])
        bids = [(Decimal(p), Decimal(q)) for p, q in zip(r["bid_px"], r["bid_qty"], strict=True)]
        asks = [(Decimal(p), Decimal(q)) for p, q in zip(r["ask_px"], r["ask_qty"], strict=True)]
        books.append((bids, asks))
    return out


def replaying(venue: str, **kw: Any) -> tuple[SimHost[Any, Any], ReplayPacer]:
    recording = Recording.open(str(FIXTURE), venue)
    ports = {"port_base": 20000} if venue == "binance" else {"port": 20000}
    sim: SimHost[Any, Any] = SIMS[venue](**ports, symbols=recording.symbols, **kw)
    return sim, sim.use_replay(recording, speed=None, hold=True)


def test_the_fixture_is_small_and_has_every_venue() -> None:
    size = sum(f.stat().st_size for f in FIXTURE.rglob("*.parquet"))
    assert size < 1_000_000
    for venue in SIMS:
        rec = Recording.open(str(FIXTURE), venue)
        assert rec.end_ms - rec.start_ms > 60_000 and rec.channels["book"] > 1000 and rec.channels["funding"] > 0


@pytest.mark.parametrize("venue", list(SIMS))
def test_every_step_serves_the_recorded_books(venue: str) -> None:
    expected = recorded_books(venue)
    sim, pacer = replaying(venue)
    compared = 0
    while not pacer.done.is_set():
        pacer.step()
        now = sim.venue.clock.now_ms()
        for (kind, symbol), (times, books) in expected.items():
            i = bisect_right(times, now) - 1
            assert i >= 0, f"{kind.value} {symbol}: no book before the replay's start"
            view = sim.venue.book(kind, symbol, 50)
            assert (view.bids, view.asks) == books[i], f"{venue} {kind.value} {symbol} at {now}"
            compared += 1
    assert pacer.steps >= 1000 and compared == 2 * pacer.steps
    last = {key: books[-1] for key, (_, books) in expected.items()}
    assert all((sim.venue.book(k, s, 50).bids, sim.venue.book(k, s, 50).asks) == b for (k, s), b in last.items())


def test_funding_settles_at_the_recorded_times_and_rates() -> None:
    table = open_channel(str(FIXTURE), "funding").to_table()
    rows = sorted((r for r in table.to_pylist() if r["venue"] == "binance"), key=lambda r: (r["ts_ms"], r["seq"]))
    sim, pacer = replaying("binance")
    account = sim.api_key
    sim.venue.add_account(account)
    qty = Decimal("0.010")
    order = sim.venue.place_order(
        account, MarketKind.PERP, "BTCUSDT", Side.SELL, OrderType.MARKET, TimeInForce.GTC, qty, None, "short-1"
    )
    assert order.executed_qty == qty
    while not pacer.done.is_set():
        pacer.step()
    settled = sim.venue.funding_history("BTCUSDT")
    assert len(settled) >= 1
    for rec in settled:
        # the rate in force for a settlement: the last one published before its time
        before = [r for r in rows if r["ts_ms"] < rec.funding_ms and r["next_funding_ts_ms"] == rec.funding_ms]
        assert before, f"no recorded funding row announced {rec.funding_ms}"
        assert rec.rate == Decimal(before[-1]["rate"])
    paid = sim.venue.income(account, "BTCUSDT")
    fees = [i for i in paid if i.income_type.value == "FUNDING_FEE"]
    assert len(fees) == len(settled)
    for fee, rec in zip(fees, settled, strict=True):
        assert fee.income == qty * rec.mark * rec.rate  # a short receives size x mark x rate


def run_orders(venue: str) -> list[tuple[Any, ...]]:
    """The same orders at the same steps: market and resting limit orders, both kinds."""
    sim, pacer = replaying(venue, seed=7)
    account = sim.api_key
    sim.venue.add_account(account)
    fills: list[tuple[Any, ...]] = []

    def on_event(event: SimEvent) -> None:
        if isinstance(event, OrderChanged) and event.fill is not None:
            f = event.fill
            fills.append((event.order.client_order_id, f.side, f.price, f.qty, f.fee, f.is_maker, f.ts_ms))

    sim.venue.listen(on_event)
    n = 0
    while not pacer.done.is_set():
        pacer.step()
        n += 1
        if n % 97 == 0:
            kind = MarketKind.PERP if n % 2 else MarketKind.SPOT
            side = Side.BUY if (n // 97) % 2 else Side.SELL
            book = sim.venue.book(kind, "BTCUSDT", 5)
            args = (account, kind, "BTCUSDT", side)
            sim.venue.place_order(*args, OrderType.MARKET, TimeInForce.GTC, Decimal("0.002"), None, f"m{n}")
            # a limit order at the best price of its own side: it fills once the recorded book crosses it
            price = book.bids[0][0] if side is Side.BUY else book.asks[0][0]
            sim.venue.place_order(*args, OrderType.LIMIT, TimeInForce.GTC, Decimal("0.002"), price, f"l{n}")
    return fills


def test_orders_match_the_recorded_book_and_the_same_orders_give_the_same_fills() -> None:
    first = run_orders("binance")
    assert len(first) > 10
    assert any(f[5] for f in first) and any(not f[5] for f in first)  # makers (limits) and takers
    assert run_orders("binance") == first


def test_bad_recordings_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no recording at"):
        Recording.open(str(tmp_path / "nowhere"), "binance")
    with pytest.raises(RecordingError, match=r"holds no books of binance \(no venue"):
        Recording.open(str(tmp_path), "binance")
    broken = tmp_path / "rec"
    shutil.copytree(FIXTURE / "venue=bybit", broken / "venue=bybit")
    with pytest.raises(RecordingError, match=r"holds no books of binance \(venues recorded: bybit\)"):
        Recording.open(str(broken), "binance")
    victim = next((broken / "venue=bybit").rglob("channel=funding/*/*.parquet"))
    victim.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(RecordingError, match=f"{victim.name}: not a readable Parquet file"):
        Recording.open(str(broken), "bybit")
    for text in ("fast", "0", "-2", "inf"):
        with pytest.raises(ValueError, match="--speed must be a positive number or 'max'"):
            parse_speed(text)
    assert parse_speed("max") is None and parse_speed("2.5") == 2.5
    # the CLI: one line on stderr, exit status 2, before listening anywhere (a missing path: the backtest's test)
    proc = subprocess.run(
        [sys.executable, "-m", "exchanges.sim", "bybit", "--port-base", "1", "--replay", str(broken)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {victim}: not a readable Parquet file"), proc.stderr


def test_recorded_trades_go_on_the_public_tape(tmp_path: Path) -> None:
    """A recording with the recorder's ``trades`` channel: each trade reaches the tape at its time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recorder.rows import SCHEMAS, TRADES

    rec = tmp_path / "rec"
    shutil.copytree(FIXTURE / "venue=binance", rec / "venue=binance")
    start = Recording.open(str(rec), "binance").start_ms
    rows = [
        ("r", "binance", "perp", "BTCUSDT", i + 1, str(900 + i), f"6000{i}.5", "0.01" + str(i), side, 1, ts, 0, 0, 0)
        for i, (side, ts) in enumerate([("buy", start + 5_000), ("sell", start + 5_000), ("sell", start + 9_000)])
    ]
    part = rec / "venue=binance/instrument=perp.BTCUSDT/channel=trades/date=2026-12-07"
    part.mkdir(parents=True)
    schema = SCHEMAS[TRADES]
    pq.write_table(
        pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows], schema), part / "t.parquet"
    )
    recording = Recording.open(str(rec), "binance")
    assert recording.channels["trades"] == 3
    sim = BinanceSim(port_base=20000, symbols=recording.symbols)
    pacer = sim.use_replay(recording, speed=None, hold=True)
    while sim.venue.clock.now_ms() < start + 6_000:
        pacer.step()
    tape = sim.venue.recent_trades(MarketKind.PERP, "BTCUSDT")
    assert [(t.price, t.qty, t.buyer_is_maker, t.ts_ms) for t in tape] == [
        (Decimal("60000.5"), Decimal("0.010"), False, start + 5_000),
        (Decimal("60001.5"), Decimal("0.011"), True, start + 5_000),
    ]
    while not pacer.done.is_set():
        pacer.step()
    assert len(sim.venue.recent_trades(MarketKind.PERP, "BTCUSDT")) == 3
    assert pacer.status()["trades_applied"] == 3
