"""``strategy manual`` and the runner's risk gate, over a real runner: ``halt``, ``reduce``,
``resume`` and ``risk`` switch and show the gate; a refused order is one ``error:`` line naming
the limit and the numbers; the runner's risk events are shown one line each."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from strategies.manual import run_manual
from strategies.manual.commands import Halt, Reduce, Resume, Risk, parse_line, to_line
from strategy_client.model import Exchange

from .conftest import start_runner


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("halt", Halt()),
        ("halt fat finger  on ETH", Halt("fat finger on ETH")),
        ("reduce", Reduce()),
        ("resume", Resume()),
        ("resume force loss checked by ops", Resume(True, "loss checked by ops")),
        ("risk", Risk()),
    ],
)
def test_risk_commands_parse_and_read_back(line: str, command: object) -> None:
    assert parse_line(line, Exchange.BINANCE) == command
    assert parse_line(to_line(command), Exchange.BINANCE) == command  # type: ignore[arg-type]


def test_repl_halts_reduces_resumes_and_shows_refusals(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = redis_server.url.rsplit("/", 1)[0] + "/9"
    cfg = tmp_path / "risk.toml"
    cfg.write_text('[risk.instruments."perp:BTCUSDT"]\nmax_order_qty = "0.01"\n')
    runner = start_runner(url, tmp_path, f"repl-risk-{os.getpid()}", "--config", str(cfg))
    try:
        runner.record()
        script = "\n".join(
            [
                "buy BTCUSDT 0.02",
                "halt stop for the test",
                "risk",
                "buy BTCUSDT 0.005",
                "reduce",
                "resume",
                "risk",
                "positions",
                "positions",
            ]
        )
        out = io.StringIO()
        status = run_manual(exchange="binance", redis_url=url, stdin=io.StringIO(script), stdout=out, wait_s=30)
        lines = out.getvalue().splitlines()
        text = "\n".join(lines)
        assert status == 1, text  # the two refused orders failed
        refusals = [ln for ln in lines if ln.startswith("error: risk rejected: ")]
        assert len(refusals) == 2, text
        assert "risk: max_order_qty on binance:perp:BTCUSDT: limit 0.01, requested 0.02" in refusals[0]
        assert "trading_state" in refusals[1]
        assert "trading state HALTED (was ACTIVE)" in lines
        assert "trading state REDUCING (was HALTED)" in lines
        assert "trading state ACTIVE (was REDUCING)" in lines
        shown = [ln for ln in lines if ln.startswith("risk: HALTED (")]
        assert shown and "stop for the test" in shown[0], text
        assert "  binance:perp:BTCUSDT: max_order_qty 0.01" in lines
        # the runner's events, one line each; its own refusals are not repeated
        assert any(ln.startswith("risk: ACTIVE -> HALTED (") for ln in lines), text
        assert any(ln.startswith("risk: HALTED -> REDUCING (") for ln in lines), text
        assert not any(ln.startswith("risk: refused") for ln in lines), text
    finally:
        runner.stop()
