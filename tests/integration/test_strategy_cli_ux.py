"""The `strategy` console script as a new user meets it (issue 21): a missing runner is said while
waited for and ends in one line with the command that starts it (exit 2, as `strategy manual`),
several runners on one exchange ask for ``--runner``, a size below the instrument's minimum is
refused up front naming the minimum, an unknown exchange lists the valid ones, and a leg whose
market data stops is warned about (the last edge is no longer shown as current)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from exchange_runner.localredis import LocalRedisServer
from strategy_client.model import Exchange
from strategy_client.wire import PROTOCOL_VERSION, RunnerRecord, encode_record, runner_key

from ..strategies.receiver import Receiver
from .conftest import ROOT, RunnerProc, start_runner
from .test_cli_ux import assert_one_line_error

STRATEGY = shutil.which("strategy", path=str(Path(sys.executable).parent)) or "strategy"


OWN_DB = 12  # this module's database of the suite's Redis: its fake records reach no other test's runner


@pytest.fixture(scope="module")
def own_redis(redis_server: LocalRedisServer) -> str:
    return f"redis://{redis_server.host}:{redis_server.port}/{OWN_DB}"


def other_db(url: str, db: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{db}"


@pytest.fixture(scope="module")
def live_runner(own_redis: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProc]:
    rp = start_runner(own_redis, tmp_path_factory.mktemp("runner"), f"bnux-{os.getpid()}", "--no-journal")
    try:
        rp.record(timeout=60)
        yield rp
    finally:
        rp.stop()


def strategy(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.run(
        [STRATEGY, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "COLUMNS": "200"},
    )


def one_error(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    return assert_one_line_error(out, *needles, prog="strategy")


def fake_record(url: str, name: str, exchange: Exchange) -> None:
    """A registration nobody answers (enough for the routing decisions made before connecting)."""
    rec = RunnerRecord(
        name=name,
        exchange=exchange,
        pub_endpoint="tcp://127.0.0.1:9",
        router_endpoint="tcp://127.0.0.1:9",
        pid=999_999,
        host="elsewhere",
        version="0",
        protocol_version=PROTOCOL_VERSION,
        started_at_ms=int(time.time() * 1000),
        status="ready",
        heartbeat_ms=int(time.time() * 1000),
    )
    client = redis.Redis.from_url(url)
    try:
        client.set(runner_key(name), encode_record(rec), ex=60)
    finally:
        client.close()


def drop_record(url: str, name: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.delete(runner_key(name))
    finally:
        client.close()


def test_no_runner_is_said_while_waiting_then_one_line_with_the_command(own_redis: str) -> None:
    url = other_db(own_redis, 13)  # an empty database: no runner at all
    started = time.monotonic()
    out = strategy("spotperp", "--paper", "--redis-url", url, "--wait-runner", "1", "--duration", "2")
    line = one_error(out, "no binance runner registered", f"start one with `runner binance --redis-url {url}`")
    assert line.count("start one with") == 1  # the reason once, not doubled
    assert f"waiting up to 1s for a binance runner to register in {url}" in out.stderr
    assert time.monotonic() - started < 30
    # the same problem in the REPL and in both strategies: exit 2
    pp = strategy("perpperp", "--paper", "--redis-url", url, "--wait-runner", "0")
    one_error(pp, "no binance runner registered")
    assert "waiting" not in pp.stderr  # --wait-runner 0: fail at once


def test_unknown_exchange_lists_the_valid_ones() -> None:
    one_error(strategy("spotperp", "--paper", "--exchange", "kraken"), "'kraken'", "choose from binance, bybit, okx")
    one_error(strategy("perpperp", "--paper", "--exchanges", "binance,kraken"), "choose from binance, bybit, okx")


def test_several_runners_on_one_exchange_ask_for_runner(own_redis: str) -> None:
    url = other_db(own_redis, 14)
    fake_record(url, "bn-live", Exchange.BINANCE)
    fake_record(url, "bn-paper", Exchange.BINANCE)
    fake_record(url, "by-one", Exchange.BYBIT)
    try:
        out = strategy("spotperp", "--paper", "--redis-url", url, "--wait-runner", "1")
        one_error(out, "2 binance runners are registered (bn-live, bn-paper)", "--runner NAME")
        assert "router.bind" not in out.stderr
        pp = strategy("perpperp", "--paper", "--redis-url", url, "--wait-runner", "1")
        one_error(pp, "2 binance runners are registered", "--runner NAME")
        wrong = strategy("spotperp", "--paper", "--redis-url", url, "--runner", "by-one", "--wait-runner", "1")
        one_error(wrong, "--runner by-one: it serves bybit, and this strategy trades binance")
        missing = strategy("spotperp", "--paper", "--redis-url", url, "--runner", "bn-x", "--wait-runner", "1")
        one_error(missing, "no runner named 'bn-x'", f"`runner binance --name bn-x --redis-url {url}`")
    finally:
        for name in ("bn-live", "bn-paper", "by-one"):
            drop_record(url, name)


def test_runner_flag_trades_through_the_named_runner(own_redis: str, live_runner: RunnerProc) -> None:
    """A live runner and a second registration on the same exchange: --runner picks the live one."""
    fake_record(own_redis, "bn-other", Exchange.BINANCE)
    try:
        args = ("--paper", "--redis-url", own_redis, "--runner", live_runner.name, "--duration", "2")
        out = strategy("spotperp", *args, "--stop-grace", "5")
        assert out.returncode == 0, out.stderr[-3000:]
        assert "spotperp paper on binance" in out.stderr and "TOTAL" in out.stdout
        # perp-perp takes --runner too (here the second exchange has no runner: one line, exit 2)
        pp = strategy("perpperp", *args[:3], "--runner", live_runner.name, "--wait-runner", "1")
        one_error(pp, "no bybit runner registered", "`runner bybit --redis-url")
    finally:
        drop_record(own_redis, "bn-other")


def test_size_below_the_minimum_is_refused_up_front(own_redis: str, live_runner: RunnerProc) -> None:
    started = time.monotonic()
    out = strategy("spotperp", "--paper", "--redis-url", own_redis, "--size", "0.00001", "--duration", "20")
    line = one_error(out, "size 0.00001", "below the smallest size this pair trades", "binance:perp:BTCUSDT")
    # the Binance perp: min qty 0.001 and a 100 USDT minimum notional, at a price in the tens of thousands
    assert re.search(r"trades: 0\.00[2-9]\d* BTC", line), line
    assert "min notional 100 USDT at" in line
    assert time.monotonic() - started < 20  # refused before trading, not after the duration


def test_stopped_market_data_is_warned_and_the_edge_not_shown_as_current(
    own_redis: str, live_runner: RunnerProc, tmp_path: Path
) -> None:
    """The runner frozen (SIGSTOP): its books stop; the strategy warns per leg within seconds and
    the status line says STALE with the feed ages instead of the last edge; SIGCONT: recovered."""
    log = tmp_path / "strategy.log"
    receiver = Receiver().start()  # the stale feed is alerted too, to a webhook
    hook = receiver.url + "/hook"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [
                STRATEGY,
                "spotperp",
                "--paper",
                "--redis-url",
                own_redis,
                "--duration",
                "60",
                "--stop-grace",
                "5",
                "--alert-webhook",
                hook,
            ],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        wait_for_text(log, "feed=[spot ", 45)
        live_runner.proc.send_signal(signal.SIGSTOP)
        try:
            wait_for_text(log, "binance:perp:BTCUSDT: market data", 30)
            wait_for_text(log, "STALE (last ", 30)
        finally:
            live_runner.proc.send_signal(signal.SIGCONT)
        wait_for_text(log, "market data fresh again", 30)
        stale = receiver.wait_for("binance:perp:BTCUSDT market data")
        assert stale.body["kind"] == "stale_feed" and "threshold 2s" in stale.body["text"], stale.body
        receiver.wait_for("binance:perp:BTCUSDT market data fresh again")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        receiver.stop()
    text = log.read_text()
    warning = next(line for line in text.splitlines() if "binance:perp:BTCUSDT: market data" in line)
    assert "WARNING" in warning and "threshold 2s" in warning and "runner ls" in warning, warning
    assert re.search(r"feed=\[spot \d+\.\ds STALE perp \d+\.\ds STALE\]", text), text[-3000:]


def wait_for_text(path: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not seen in {timeout}s: {path.read_text()[-3000:]}")


def test_log_level_lists_its_choices() -> None:
    for command in ("spotperp", "perpperp"):
        helped = strategy(command, "--help")
        assert helped.returncode == 0 and "<debug|info|warning|error>" in helped.stdout, helped.stdout
    bad = strategy("spotperp", "--log-level", "LOUD")
    assert bad.returncode == 2 and "'LOUD' is not one of 'debug'" in bad.stderr, bad.stderr
