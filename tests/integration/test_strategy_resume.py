"""A live ``strategy spotperp`` (real runner, embedded Binance venue, real strategy processes)
killed with SIGKILL mid-entry, hedged and mid-exit, restarted on the same journal: it resumes its
pair, reconciles it with the venue, exits it cleanly, and its ledger equals the venue's fills. A
foreign position is left alone; ``--adopt`` takes it over. The same against PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ..journal.conftest import PG_URL, drop_schema, pg_reachable

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kill_restart", ROOT / "scripts" / "kill_restart.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["kill_restart"] = mod
    spec.loader.exec_module(mod)
    return mod


KR = _script()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    reason = pg_reachable()
    if reason:
        pytest.skip(reason)
    schema = "tsr_" + uuid.uuid4().hex[:12]
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        drop_schema(schema)


@pytest.fixture()
def harness(redis_url: str, tmp_path: Path, journal_url: str | None) -> Iterator[Any]:
    h = KR.Harness(tmp_path, redis_url, journal_url, 1)
    h.start_runner()
    try:
        yield h
    finally:
        h.close()


def _wait_phase(h: Any, proc: subprocess.Popen[bytes], phase: str, timeout: float = 60) -> None:
    KR.wait(lambda: phase in h.phase().split(",") or proc.poll() is not None, timeout, f"journaled phase {phase}")
    assert proc.poll() is None, h.log()[-3000:]


def _finish(h: Any) -> str:
    final = h.strategy("--duration", "2")
    code = final.wait(120)
    log = h.log()
    assert code == 0, log[-4000:]
    audit = KR.audit(h)
    assert audit["ok"], json.dumps(audit, indent=1) + log[-3000:]
    assert audit["venue_orders_filled"] >= 2 and audit["ledger_fills"] >= 2
    return str(log)


def _faults(h: Any, body: dict[str, Any] | None) -> None:
    url = f"http://127.0.0.1:{h.port_base}/_sim/faults"
    rep = httpx.post(url, json=body, timeout=5) if body else httpx.delete(url, timeout=5)
    rep.raise_for_status()


def test_kill9_hedged_resumes_and_exits(harness: Any) -> None:
    h = harness
    first = h.strategy()
    _wait_phase(h, first, "hedged")
    first.kill()
    first.wait(10)
    log = _finish(h)
    assert "resuming 1 pair(s) from the journal" in log and "journal says hedged" in log
    assert "will keep it hedged and manage it" in log
    # the reconcile after the restart shows its progress (log lines: the output is not a terminal)
    assert re.search(r"reconciling after a restart: orders checked: (\d+) to do", log), log[-3000:]
    assert re.search(r"reconciling after a restart: orders checked: (\d+)/\1 done in \d+\.\ds", log), log[-3000:]
    assert "hedged → exiting" in log and "flat after exiting" in log
    # the history of the two runs, from the journal
    journal = ["--data-dir", str(h.data)] + (["--journal", h.journal_url] if h.journal_url else [])
    decisions = json.loads(_cli("history", "decisions", "--json", *journal))
    pairs = json.loads(_cli("history", "pairs", "--json", *journal))
    assert [d["action"] for d in decisions] == ["enter", "exit"] or decisions[0]["action"] == "enter", decisions
    assert decisions[0]["pair_id"] == pairs[0]["pair_id"] and "net_bps" in decisions[0]["terms"]
    assert len(pairs) == 1 and pairs[0]["closed"] and pairs[0]["phase"] == "closed"
    runs = json.loads(_cli("history", "runs", "--json", *journal))
    assert len(runs) == 2 and runs[0]["stopped_ms"] is None  # the killed run never recorded its end
    assert "realised PnL = basis" in _cli("report", "--run", runs[0]["run_id"][:8], *journal)


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "strategies.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kill9_mid_exit_with_the_answer_out_resumes_and_exits(harness: Any) -> None:
    """Killed while its exit order is at the venue and the answer is held: the restart asks the
    venue by client id, books what the venue filled, and finishes the exit."""
    h = harness
    first = h.strategy()
    _wait_phase(h, first, "hedged")
    _faults(h, {"delay_ms": 4000})
    first.send_signal(signal.SIGTERM)
    _wait_phase(h, first, "exiting")
    first.kill()
    first.wait(10)
    _faults(h, None)
    log = _finish(h)
    assert "journal says exiting" in log and "interrupted by a restart" in log


def test_kill9_mid_entry_resumes_and_exits(harness: Any) -> None:
    h = harness
    _faults(h, {"delay_ms": 2500})
    first = h.strategy()
    _wait_phase(h, first, "entering", timeout=90)
    first.kill()
    first.wait(10)
    _faults(h, None)
    log = _finish(h)
    assert "journal says entering" in log and "interrupted by a restart" in log


def _foreign_perp(h: Any, side: str, qty: str) -> None:
    """An order of someone else's on the account (the manual REPL, scripted)."""
    done = subprocess.run(
        [sys.executable, "-m", "strategies.cli", "manual", "--runner", h.runner_name, "--redis-url", h.redis_url],
        input=f"{side} BTCUSDT {qty}\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=h.env,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _perp_size(h: Any) -> Decimal:
    total = Decimal(0)
    for p in h.venue()["positions"]:
        if "BTCUSDT" in json.dumps(p):
            for k in ("amount", "qty", "size", "position_amt"):
                if k in p:
                    total += Decimal(str(p[k]))
    return total


@pytest.mark.parametrize("journal_url", ["sqlite"], indirect=True)
def test_foreign_long_is_left_alone_and_the_exit_is_not_refused(harness: Any) -> None:
    """The issue's case: a leftover 0.01 long on the perp. The strategy shorts 0.01 beside it (the
    venue nets to 0); its exit must not be a reduce-only order the venue refuses forever."""
    h = harness
    _foreign_perp(h, "buy", "0.01")
    assert _perp_size(h) == Decimal("0.01")
    run = h.strategy("--duration", "4")
    code = run.wait(120)
    log = h.log()
    assert code == 0, log[-4000:]
    assert "FOREIGN: left alone" in log and "ReduceOnly" not in log and "NOT CLEAN" not in log
    assert _perp_size(h) == Decimal("0.01")  # the foreign long, untouched


@pytest.mark.parametrize("journal_url", ["sqlite"], indirect=True)
def test_adopt_takes_a_foreign_short_over_and_exits_it(harness: Any) -> None:
    h = harness
    _foreign_perp(h, "sell", "0.01")
    run = h.strategy("--duration", "3", "--adopt")
    code = run.wait(120)
    log = h.log()
    assert code == 0, log[-4000:]
    assert "--adopt: " in log and "now hedged" in log, log[-3000:]
    assert _perp_size(h) == 0


def test_kill_restart_loop(redis_url: str, tmp_path: Path) -> None:
    """scripts/kill_restart.py with a few kills (the script does 50 by default), on SQLite; the
    script starts its own runner (no harness: its runner would be started only to be stopped)."""
    out = tmp_path / "kr.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "kill_restart.py"),
            "--kills",
            "4",
            "--seed",
            "3",
            "--redis-url",
            redis_url,
            "--workdir",
            str(tmp_path / "loop"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    summary = json.loads(out.read_text())
    assert done.returncode == 0 and summary["ok"], done.stdout[-4000:] + done.stderr[-2000:]
    assert summary["kills"] == 4 and summary["final_exit_status"] == 0


@pytest.mark.parametrize("journal_url", ["sqlite"], indirect=True)
def test_a_second_process_on_the_same_journal_is_refused(harness: Any) -> None:
    """Found by the kill loop: two strategies on one journal resume each other's pairs."""
    h = harness
    first = h.strategy()
    try:
        KR.wait(lambda: h.started() or first.poll() is not None, 60, "first strategy")
        assert first.poll() is None, h.log()
        second = h.strategy("--duration", "1")
        assert second.wait(60) == 2  # a start problem: exit 2, as every strategy start refusal
        log = h.log()
        assert "another spotperp process is running on the journal" in log and log.count("strategy: error") == 1
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
    finally:  # a failed assertion leaves no strategy process behind
        if first.poll() is None:
            first.kill()
            first.wait(10)
