"""The ``bybit`` command of the simulator CLI: registered on a Typer app, one-line errors, a
taken port, and a real process that serves and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import typer

from exchanges.bybit.sim.__main__ import main
from exchanges.bybit.sim.cli import register
from tests.helpers import eventually_sync, free_port

ROOT = Path(__file__).resolve().parents[3]


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Offline venues."""

    register(app)
    return app


def test_registers_a_bybit_command_with_the_binance_options() -> None:
    command = typer.main.get_command(_app())
    bybit = command.commands["bybit"]  # type: ignore[attr-defined]
    names = {opt for p in bybit.params for opt in p.opts}
    for flag in (
        "--port-base",
        "--seed",
        "--host",
        "--api-key",
        "--api-secret",
        "--symbols",
        "--funding-interval",
        "--step-ms",
        "--balances",
        "--futures-balances",
        "--no-rate-limits",
        "--delay-ms",
        "--fail-next",
        "--fail-status",
        "--throttle-next",
        "--throttle-status",
        "--retry-after",
        "--unknown-next",
        "--unknown-mode",
        "--stale-frames",
        "--out-of-order-frames",
        "--malformed-frames",
        "--log-level",
    ):
        assert flag in names, flag


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--port-base", "abc"), "--port-base"),
        (("--port-base", "70000"), "--port-base"),
        (("--port-base", "40000", "--balances", "USDT=lots"), "--balances"),
        (("--port-base", "40000", "--symbols", "DOGEUSDT"), "DOGEUSDT"),
        (("--port-base", "40000", "--fail-status", "404"), "fail_status"),
        (("--port-base", "40000", "--idle-timeout", "0"), "--idle-timeout"),
        ((), "--port-base"),
    ],
)
def test_bad_arguments_give_one_line(args: tuple[str, ...], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_taken_port_and_a_real_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "exchanges.bybit.sim", "--port-base", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert busy.returncode == 1 and busy.stderr.strip().startswith("error: port") and "Traceback" not in busy.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchanges.bybit.sim", "--port-base", str(port), "--seed", "3", "--symbols", "BTCUSDT"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/v5/market/time").status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(up, timeout=20, what="the venue to answer")
        info = httpx.get(f"http://127.0.0.1:{port}/v5/market/instruments-info?category=spot").json()
        assert [i["symbol"] for i in info["result"]["list"]] == ["BTCUSDT"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "offline Bybit venue (seed 3" in out and out.rstrip().endswith("stopped")
