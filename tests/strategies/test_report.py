"""Reports: the JSON round-trips with every trade and a breakdown that adds up; the table; the PNG."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from strategies.arbitrage.config import SpotPerpConfig
from strategies.arbitrage.pair import LegId
from strategies.arbitrage.pnl import PnlLedger
from strategies.arbitrage.state import PositionMachine, Transition
from strategies.report import build_report, plot_pnl, read_json, summary_table, write_json
from strategy_client.model import Fill, FundingPayment, Side

from .builders import PERP, SPOT, spot_perp_pair

D = Decimal
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def _fill(key: object, side: Side, price: str, tid: str, ts: int) -> Fill:
    return Fill(
        key=key,  # type: ignore[arg-type]
        client_id="c",
        venue_id="v",
        trade_id=tid,
        side=side,
        price=D(price),
        qty=D("0.1"),
        fee=D(price) * D("0.1") * D("0.0005"),
        fee_asset="USDT",
        is_maker=False,
        ts_ms=ts,
    )


def _run() -> tuple[PnlLedger, list[Transition]]:
    ledger = PnlLedger("USDT")
    transitions: list[Transition] = []
    pair = spot_perp_pair()
    for n, (spread_in, spread_out) in enumerate([("400", "100"), ("300", "350")]):
        pid = f"sp{n}"
        t = T0 + n * 3_600_000
        ledger.register(pid, pair)
        m = PositionMachine(pid, on_transition=transitions.append)
        m.start_entry(t)
        ledger.record_fill(
            pid, LegId.A, _fill(SPOT, Side.BUY, "100000", f"{pid}a", t), reference_mid=D("99995"), purpose="entry"
        )
        m.fill(LegId.A, Side.BUY, D("0.1"), t)
        perp_in = str(D("100000") + D(spread_in))
        ledger.record_fill(
            pid,
            LegId.B,
            _fill(PERP, Side.SELL, perp_in, f"{pid}b", t + 1),
            reference_mid=D(perp_in) + 5,
            purpose="hedge",
        )
        m.fill(LegId.B, Side.SELL, D("0.1"), t + 1)
        m.legs_settled(t + 2)
        ledger.record_funding(pid, FundingPayment(key=PERP, amount=D("1.0037"), asset="USDT", ts_ms=t + 1000))
        ledger.mark(SPOT, D("100100"), t + 1500)
        m.start_exit(t + 2000)
        ledger.record_fill(
            pid,
            LegId.A,
            _fill(SPOT, Side.SELL, "100100", f"{pid}c", t + 2000),
            reference_mid=D("100105"),
            purpose="exit",
        )
        perp_out = str(D("100100") + D(spread_out))
        ledger.record_fill(
            pid,
            LegId.B,
            _fill(PERP, Side.BUY, perp_out, f"{pid}d", t + 2001),
            reference_mid=D(perp_out) - 5,
            purpose="exit_hedge",
        )
        m.fill(LegId.A, Side.SELL, D("0.1"), t + 2000)
        m.fill(LegId.B, Side.BUY, D("0.1"), t + 2001)
        m.legs_settled(t + 2002)
    return ledger, transitions


def test_json_report_round_trips_and_adds_up(tmp_path: Path) -> None:
    ledger, transitions = _run()
    report = build_report(
        ledger,
        strategy="spotperp",
        mode="paper",
        started_ms=T0,
        ended_ms=T0 + 7_200_000,
        transitions=transitions,
        config=SpotPerpConfig(),
    )
    path = tmp_path / "out" / "report.json"
    write_json(report, path)
    back = read_json(path)
    assert back == report
    assert len(back.trades) == 8 and len(back.funding) == 2 and len(back.positions) == 2
    assert [t.to_state.value for t in back.transitions if t.position_id == "sp0"] == [
        "entering",
        "hedged",
        "exiting",
        "closed",
    ]
    t = back.totals
    assert t.basis + t.funding - t.fees - t.slippage == t.total
    for p in back.positions:
        b = p.breakdown
        assert b.basis + b.funding - b.fees - b.slippage == b.total
    # the rows add up to the total, column by column, in cents and exactly
    for name in ("basis", "funding", "fees", "slippage", "total"):
        assert sum((getattr(p.breakdown, name) for p in back.positions), D(0)) == getattr(t, name)
    assert sum((p.breakdown.exact.total for p in back.positions), D(0)) == t.exact.total
    assert back.config["decision"]["entry_threshold_bps"] == "10"
    assert b'"total"' in path.read_bytes()
    assert back.timeline[-1].total == t.total


def test_summary_table_lists_positions_and_the_checked_total() -> None:
    ledger, _transitions = _run()
    report = build_report(ledger, strategy="spotperp", mode="paper", started_ms=T0, ended_ms=T0 + 7_200_000)
    text = summary_table(report)
    lines = text.splitlines()
    assert lines[0].startswith("spotperp (paper) 2026-01-01 00:00:00 → 2026-01-01 02:00:00 UTC, 2h00m00s")
    assert any(line.startswith("sp0 ") for line in lines) and any(line.startswith("sp1 ") for line in lines)
    total_line = next(line for line in lines if line.startswith("TOTAL"))
    assert f"{report.totals.total:,.2f}" in total_line
    assert text.count("(ok)") == 1


def test_plot_writes_a_png(tmp_path: Path) -> None:
    ledger, _ = _run()
    path = tmp_path / "pnl.png"
    plot_pnl(ledger.timeline(), path, title="spotperp")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    empty = tmp_path / "empty.png"
    plot_pnl([], empty)
    assert empty.read_bytes()[:4] == b"\x89PNG"
