"""Strategy run reports: a terminal summary table, a JSON report, a PnL-over-time PNG.

:func:`build_report` turns a :class:`PnlLedger` (plus the state-machine transitions the engine
collected) into a :class:`StrategyReport`: every trade, every funding payment, every
transition, each position's PnL breakdown and the total, all in the ledger's currency. In
every breakdown ``basis + funding − fees − slippage == total`` to the cent (see
:mod:`strategies.arbitrage.pnl` for what each term means); :func:`summary_table` prints it,
:func:`write_json` / :func:`read_json` store and load it (Decimals as exact strings), and
:func:`plot_pnl` draws the cumulative PnL and its components over time with matplotlib's
headless Agg backend (no display needed, no global pyplot state).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from strategies.arbitrage.pnl import FundingRecord, PnlBreakdown, PnlLedger, PnlPoint, PositionPnl, TradeRecord
from strategies.arbitrage.state import Transition

__all__ = [
    "StrategyReport",
    "build_report",
    "summary_table",
    "write_json",
    "read_json",
    "plot_pnl",
]


class StrategyReport(msgspec.Struct, kw_only=True):
    strategy: str
    mode: str  # live | paper
    currency: str
    started_ms: int
    ended_ms: int
    totals: PnlBreakdown
    positions: list[PositionPnl]
    trades: list[TradeRecord]
    funding: list[FundingRecord]
    transitions: list[Transition] = []
    timeline: list[PnlPoint] = []
    config: dict[str, Any] = {}
    notes: list[str] = []


def build_report(
    ledger: PnlLedger,
    *,
    strategy: str,
    mode: str,
    started_ms: int,
    ended_ms: int,
    transitions: Iterable[Transition] = (),
    config: msgspec.Struct | None = None,
    notes: Sequence[str] = (),
    max_points: int = 2000,
) -> StrategyReport:
    """Everything the ledger knows, as one report (``config`` is embedded as plain data)."""
    return StrategyReport(
        strategy=strategy,
        mode=mode,
        currency=ledger.currency,
        started_ms=started_ms,
        ended_ms=ended_ms,
        totals=ledger.breakdown(),
        positions=ledger.positions(),
        trades=sorted(ledger.trades, key=lambda t: t.ts_ms),
        funding=sorted(ledger.funding, key=lambda f: f.ts_ms),
        transitions=sorted(transitions, key=lambda t: (t.ts_ms, t.position_id, t.seq)),
        timeline=ledger.timeline(max_points),
        config=msgspec.to_builtins(config) if config is not None else {},
        notes=list(notes),
    )


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _time(ts_ms: int) -> str:
    if ts_ms <= 0:
        return "-"
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms: int) -> str:
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def summary_table(report: StrategyReport) -> str:
    """A plain-text table for the terminal: one row per position and the total."""
    header = ["position", "pair", "trades", "basis", "funding", "fees", "slippage", "total"]
    rows: list[list[str]] = []
    for p in report.positions:
        b = p.breakdown
        rows.append(
            [
                p.position_id,
                p.pair,
                str(p.trades),
                _money(b.basis),
                _money(b.funding),
                _money(b.fees),
                _money(b.slippage),
                _money(b.total),
            ]
        )
    t = report.totals
    total_row = [
        "TOTAL",
        "",
        str(len(report.trades)),
        _money(t.basis),
        _money(t.funding),
        _money(t.fees),
        _money(t.slippage),
        _money(t.total),
    ]
    widths = [max(len(r[i]) for r in [header, *rows, total_row]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    check = "ok" if t.adds_up() else "MISMATCH"
    lines = [
        f"{report.strategy} ({report.mode}) {_time(report.started_ms)} → {_time(report.ended_ms)} UTC, "
        f"{_duration(report.ended_ms - report.started_ms)}; amounts in {report.currency}",
        "",
        line(header),
        rule,
        *(line(r) for r in rows),
        rule,
        line(total_row),
        "",
        f"basis + funding − fees − slippage = {_money(t.basis + t.funding - t.fees - t.slippage)}"
        f" = total {_money(t.total)} ({check})",
    ]
    if report.funding:
        lines.append(f"funding payments: {len(report.funding)}")
    lines.extend(report.notes)
    return "\n".join(lines)


def write_json(report: StrategyReport, path: Path) -> None:
    """Write the report as indented JSON (Decimals as exact strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")


def read_json(path: Path) -> StrategyReport:
    return msgspec.json.decode(path.read_bytes(), type=StrategyReport)


def plot_pnl(points: Sequence[PnlPoint], path: Path, *, title: str = "PnL", currency: str = "USDT") -> None:
    """Cumulative total PnL and its components over time, as a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - matplotlib loads only to plot
    from matplotlib.figure import Figure  # noqa: PLC0415 - a heavy import, only to plot

    fig = Figure(figsize=(10, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    start = points[0].ts_ms if points else 0
    span_ms = (points[-1].ts_ms - start) if points else 0
    unit, unit_ms = ("hours", 3_600_000) if span_ms > 2 * 3_600_000 else ("minutes", 60_000)
    if points:
        xs = [(p.ts_ms - start) / unit_ms for p in points]
        series = [
            ("total", [float(p.total) for p in points], 2.2),
            ("basis", [float(p.basis) for p in points], 1.0),
            ("funding", [float(p.funding) for p in points], 1.0),
            ("− fees", [-float(p.fees) for p in points], 1.0),
            ("− slippage", [-float(p.slippage) for p in points], 1.0),
        ]
        for label, values, width in series:
            ax.step(xs, values, where="post", label=label, linewidth=width)
        ax.legend(loc="best")
    else:
        ax.text(0.5, 0.5, "no trades", ha="center", va="center", transform=ax.transAxes)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_title(title)
    ax.set_ylabel(currency)
    ax.set_xlabel(f"{unit} since {_time(start)} UTC" if points else "time")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path), format="png")
