"""``python -m exchanges.sim okx``: the command :func:`register` adds — help, errors (one line
in a real process), a taken port, serve and stop."""

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

from exchanges.okx.sim.cli import register
from exchanges.sim.cli import CliError
from tests.helpers import eventually_sync, free_port

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchanges.sim", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_register_on_a_fresh_app() -> None:
    command = _fresh_command()
    assert list(command.commands) == ["okx"]
    with pytest.raises(CliError, match=r"--port-base must be in 1..65535"):
        command.main(args=["okx", "--port-base", "0"], standalone_mode=False)


def test_help_lists_the_binance_options() -> None:
    result = _run("okx", "--help")
    assert result.returncode == 0
    for flag in ("--port-base", "--seed", "--api-key", "--api-secret", "--passphrase", "--symbols",
                 "--funding-interval", "--balances", "--futures-balances", "--fail-next", "--unknown-mode",
                 "--malformed-frames", "--no-book-snapshot", "--zero-checksum"):  # fmt: skip
        assert flag in result.stdout, flag


def _fresh_command() -> typer.core.TyperGroup:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """root"""

    register(app)
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("okx", "--port-base", "40000", "--balances", "USDT=lots"), "--balances"),
        (("okx", "--port-base", "40000", "--symbols", "DOGEUSDT"), "DOGEUSDT"),
        (("okx", "--port-base", "40000", "--environment", "prod"), "--environment"),
        (("okx", "--port-base", "40000", "--fail-status", "404"), "fail_status"),
        (("okx", "--port-base", "70000"), "--port-base"),
    ],
)
def test_bad_arguments_are_cli_errors(args: tuple[str, ...], needle: str) -> None:
    with pytest.raises(CliError, match=needle):
        _fresh_command().main(args=list(args), standalone_mode=False)


def test_bad_argument_in_a_real_process_is_one_line() -> None:
    result = _run("okx", "--port-base", "abc")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "--port-base" in lines[0] and "Traceback" not in result.stdout


def test_port_in_use_is_one_line() -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = _run("okx", "--port-base", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: port {port} on 127.0.0.1 is already in use; pick another --port-base"


def test_serves_until_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchanges.sim", "okx", "--port-base", str(port), "--seed", "3", "--symbols", "BTCUSDT"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:

        def instruments() -> list[str]:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/api/v5/public/instruments", params={"instType": "SWAP"})
            except httpx.TransportError:
                return []
            return [i["instId"] for i in reply.json()["data"]]

        assert eventually_sync(instruments, timeout=20, what="the venue to answer") == ["BTC-USDT-SWAP"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "offline OKX venue (seed 3, symbols BTCUSDT)" in out and "passphrase" in out and "stopped" in out
