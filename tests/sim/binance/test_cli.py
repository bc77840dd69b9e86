"""``python -m exchanges.sim binance``: help, one-line errors, a taken port, serve and stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exchanges.sim.cli import CliError, main, parse_balances, parse_symbols
from tests.helpers import eventually_sync, free_port_pair

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exchanges.sim", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_help() -> None:
    top = _run("--help")
    assert top.returncode == 0 and "binance" in top.stdout
    sub = _run("binance", "--help")
    assert sub.returncode == 0
    for flag in ("--port-base", "--seed", "--api-key", "--api-secret", "--symbols", "--funding-interval",
                 "--step-ms", "--balances", "--fail-next", "--unknown-mode", "--malformed-frames"):
        assert flag in sub.stdout, flag


@pytest.mark.parametrize(("args", "needle"), [
    (("binance", "--port-base", "abc"), "--port-base"),
    (("binance", "--port-base", "70000"), "--port-base"),
    (("binance", "--port-base", "40000", "--balances", "USDT=lots"), "--balances"),
    (("binance", "--port-base", "40000", "--symbols", "DOGEUSDT"), "DOGEUSDT"),
    (("binance", "--port-base", "40000", "--fail-status", "404"), "fail_status"),
    (("binance", "--port-base", "40000", "--unknown-mode", "maybe"), "--unknown-mode"),
    (("binance",), "--port-base"),
    (("bitstamp",), "bitstamp"),
])
def test_bad_arguments_give_one_line(args: tuple[str, ...], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err


def test_bad_argument_in_a_real_process() -> None:
    result = _run("binance", "--port-base", "abc")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_port_in_use_is_one_line() -> None:
    port = free_port_pair()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port + 1))
        taken.listen()
        result = _run("binance", "--port-base", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: port {port + 1} on 127.0.0.1 is already in use; pick another --port-base"


def test_parsers() -> None:
    assert parse_balances("usdt=100000, BTC=1.5", "--balances") == {"USDT": 100000, "BTC": 1.5}
    assert parse_symbols("btcusdt ethusdt") == ["BTCUSDT", "ETHUSDT"]
    with pytest.raises(CliError):
        parse_balances("USDT", "--balances")
    with pytest.raises(CliError):
        parse_balances("USDT=-1", "--balances")


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], int, list[str]]]:
    port = free_port_pair()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchanges.sim", "binance", "--port-base", str(port), "--seed", "3",
         "--funding-interval", "60", "--symbols", "BTCUSDT", "--balances", "USDT=5000,BTC=2",
         "--api-key", "K" * 64, "--api-secret", "S" * 64, "--log-level", "WARNING", "--fail-next", "1",
         "--fail-status", "500"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield proc, port, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_serves_prints_endpoints_and_stops_on_sigint(served: tuple[subprocess.Popen[str], int, list[str]]) -> None:
    proc, port, lines = served
    eventually_sync(lambda: "Ctrl-C stops it." in lines, timeout=20, what="the start banner")
    text = "\n".join(lines)
    assert f"http://127.0.0.1:{port}/api/v3" in text and f"ws://127.0.0.1:{port + 1}/ws-fapi/v1" in text
    assert "K" * 64 in text and "S" * 64 in text
    failed = httpx.get(f"http://127.0.0.1:{port}/api/v3/ping")  # --fail-next 1 --fail-status 500
    assert failed.status_code == 500 and failed.json()["code"] == -1001
    info = httpx.get(f"http://127.0.0.1:{port}/api/v3/exchangeInfo").json()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT"]
    funding = httpx.get(f"http://127.0.0.1:{port + 1}/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"}).json()
    assert funding["symbol"] == "BTCUSDT"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    eventually_sync(lambda: "stopped" in lines, timeout=5, what="the stop message")
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
