"""The runner CLI's one-line errors and `runner ls`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exchange_runner.ports import free_port

from .conftest import ROOT, RunnerProc


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange_runner.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_works() -> None:
    out = run_cli("binance", "--help")
    assert out.returncode == 0 and "--venue" in out.stdout and "--redis-url" in out.stdout


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[runner]\nsymbolz = ['BTCUSDT']\n")
    out = run_cli("binance", "--config", str(cfg), "--redis-url", "redis://127.0.0.1:1/0")
    assert out.returncode == 2
    assert "unknown key `symbolz`" in out.stderr and "Traceback" not in out.stderr


def test_redis_unreachable_is_one_line() -> None:
    out = run_cli("binance", "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert out.returncode == 2 and "Redis unreachable at" in out.stderr and "Traceback" not in out.stderr


def test_live_venue_without_keys_refuses(redis_server) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("binance", "--venue", "live", "--redis-url", redis_server.url)
    assert out.returncode == 2 and "needs API keys" in out.stderr and "Traceback" not in out.stderr


def test_port_in_use(redis_server, runner_proc: RunnerProc) -> None:  # type: ignore[no-untyped-def]
    taken = runner_proc.record().router_endpoint.rsplit(":", 1)[1]
    out = run_cli("binance", "--redis-url", redis_server.url, "--router-port", taken, "--name", "clash")
    assert out.returncode == 2 and "port in use" in out.stderr and "Traceback" not in out.stderr


def test_ls_lists_the_runner(redis_server, runner_proc: RunnerProc) -> None:  # type: ignore[no-untyped-def]
    rec = runner_proc.record()
    out = run_cli("ls", "--redis-url", redis_server.url)
    assert out.returncode == 0 and rec.name in out.stdout and rec.router_endpoint in out.stdout
