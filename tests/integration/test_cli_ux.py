"""The `runner` console script as a new user meets it (issue 21): bad input is one line and
exit 2 (never a traceback), the ready line says where the runner is, --version, --help that
tags values only, and `runner config show` with its sources and without secrets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from exchange_runner.ports import free_port

from .conftest import ROOT, RunnerProc

LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING) ")
RUNNER = shutil.which("runner", path=str(Path(sys.executable).parent)) or "runner"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNNER, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def assert_one_line_error(out: subprocess.CompletedProcess[str], *needles: str, prog: str = "runner") -> str:
    """Exit 2, one ``PROG: error: …`` line holding every needle, and besides it only log lines."""
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(errors) == 1, out.stderr
    # besides it only the runner's own log lines of what it did before (no dump of any kind)
    others = [line for line in out.stderr.splitlines() if not LOG_LINE.match(line) and line not in errors]
    assert others == [], out.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def test_version() -> None:
    from strategy_client import __version__

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"runner (tradebus) {__version__}"


def test_unknown_symbol_on_the_offline_venue(redis_server) -> None:  # type: ignore[no-untyped-def]
    out = run("binance", "--symbols", "BTCUSDX", "--redis-url", redis_server.url, "--no-journal")
    assert_one_line_error(out, "BTCUSDX", "known: BTCUSDT, ETHUSDT")


def test_unknown_symbol_on_a_venue_names_close_matches(redis_server, runner_proc: RunnerProc) -> None:  # type: ignore[no-untyped-def]
    """Through a venue reached over HTTP (the fixture runner's simulator): the runner's own
    instrument check names the symbol and the listed ones it is closest to."""
    runner_proc.record()
    out = run(
        "binance",
        "--sim-connect",
        f"127.0.0.1:{runner_proc.sim_port_base}",
        "--symbols",
        "BTCUSDX",
        "--redis-url",
        redis_server.url,
        "--name",
        "closeby",
        "--no-journal",
    )
    assert_one_line_error(out, "BTCUSDX (did you mean BTCUSDT", "symbols:")


def test_unreachable_venue_is_one_line(redis_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    out = run("binance", "--sim-connect", f"127.0.0.1:{port}", "--redis-url", redis_server.url, "--no-journal")
    assert_one_line_error(out, f"cannot reach the binance venue at 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--pub-port", "70000"], "pub_port: 70000 is not a port number"),
        (["--metrics-port", "-1"], "metrics_port: -1 is not a port number"),
        (["--config", "/nonexistent/runner.toml"], "config file /nonexistent/runner.toml does not exist"),
        (["--venue", "moon"], "venue: 'moon' is not one of sim, testnet, live"),
        (["--mode", "dream"], "mode: 'dream' is not one of live, paper"),
        (["--kinds", "spot,option"], "kinds: 'option' is not one of spot, perp"),
        (["--sim-connect", "nowhere"], "sim_connect: 'nowhere' is not HOST:PORT"),
    ],
)
def test_bad_input_is_one_line(redis_server, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    out = run("binance", *args, "--redis-url", redis_server.url, "--no-journal")
    assert_one_line_error(out, needle)


def test_bad_option_values_are_usage_errors() -> None:
    for args in (["--log-level", "loud"], ["--pub-port", "abc"], ["--nope"]):
        out = run("binance", *args)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr


def test_ready_line_says_where(redis_server, runner_proc: RunnerProc) -> None:  # type: ignore[no-untyped-def]
    rec = runner_proc.record()
    lines = [line for line in runner_proc.log.read_text().splitlines() if "registered in" in line]
    assert len(lines) == 1, lines
    line = lines[0]
    assert f"ready: binance runner '{rec.name}' registered in {redis_server.url}" in line
    assert f"ROUTER {rec.router_endpoint}" in line and f"PUB {rec.pub_endpoint}" in line
    assert "metrics off" in line and "journal " in line and "journal off" not in line


def test_help_tags_values_only_and_lists_log_levels() -> None:
    out = run("binance", "--help")
    assert out.returncode == 0
    assert "<bool>" not in out.stdout
    assert "<debug|info|warning|error>" in out.stdout
    assert "configs/runner.binance.toml" in out.stdout
    okx = run("okx", "--help")
    assert "configs/runner.okx.toml" in okx.stdout and "runner.binance" not in okx.stdout
    assert "OKX_API_PASSPHRASE" in okx.stdout and "passphrase" in okx.stdout
    assert "PASSPHRASE" not in out.stdout  # Binance has none


def test_config_show_sources_and_no_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "runner.toml"
    cfg.write_text('[runner]\nstale_book_s = 7\nvenue_timeout_s = 3\nsymbols = ["ETHUSDT"]\nmode = "paper"\n')
    secrets = {
        "BINANCE_API_KEY": "key-AAAA1111bbbb2222",
        "BINANCE_API_SECRET": "secret-CCCC3333dddd4444",
        "TRADEBUS_CURVE_SECRET": "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
        "REDIS_URL": "redis://:hunter2-redis-pw@127.0.0.1:1/0",
    }
    env = {**secrets, "TRADEBUS_ALLOW_FILE": str(tmp_path / "allow"), "TRADEBUS_STALE_BOOK_S": "8"}
    out = run("config", "show", "binance", "--config", str(cfg), "--symbols", "BTCUSDT", env=env)
    assert out.returncode == 0, out.stderr
    for value in secrets.values():
        assert value not in out.stdout and value not in out.stderr
    assert "hunter2" not in out.stdout
    doc = tomllib.loads(out.stdout)["runner"]
    assert doc["symbols"] == ["BTCUSDT"]  # flag over file
    assert doc["stale_book_s"] == 8.0  # env over file
    assert doc["venue_timeout_s"] == 3.0 and doc["mode"] == "paper"  # file over defaults
    assert doc["venue"] == "sim" and doc["curve_secret"] == "<redacted>"
    lines = {line.split(" = ")[0]: line for line in out.stdout.splitlines() if " = " in line}
    assert lines["symbols"].endswith("# flag") and lines["stale_book_s"].endswith("# env TRADEBUS_STALE_BOOK_S")
    assert lines["venue_timeout_s"].endswith("# file") and lines["venue"].endswith("# default")
    assert lines["redis_url"].endswith("# env REDIS_URL")
    assert "# $BINANCE_API_KEY: set (not shown)" in out.stdout


def test_config_file_venue_is_not_overridden_by_a_flag_default(tmp_path: Path) -> None:
    cfg = tmp_path / "runner.toml"
    cfg.write_text('[runner]\nvenue = "testnet"\n')
    out = run("config", "show", "bybit", "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    assert tomllib.loads(out.stdout)["runner"]["venue"] == "testnet"
    out = run("config", "show", "bybit", "--config", str(cfg), env={"TRADEBUS_MODE": "paper"})
    assert tomllib.loads(out.stdout)["runner"]["mode"] == "paper" and "# env TRADEBUS_MODE" in out.stdout
    out = run("config", "show", "bybit", "--config", str(cfg), "--venue", "sim")
    assert tomllib.loads(out.stdout)["runner"]["venue"] == "sim"


def test_install_has_no_license_warning() -> None:
    """`pip install -e .` warned "`project.license` as a TOML table is deprecated": the SPDX
    string form, with a setuptools new enough to read it (77). Checked on the file: building
    the package here would fetch setuptools from the index (measured with `pip install --no-deps
    --dry-run -e .`: no warning)."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert doc["project"]["license"] == "Apache-2.0"
    requires = [r for r in doc["build-system"]["requires"] if r.startswith("setuptools")]
    assert requires and int(re.search(r">=(\d+)", requires[0]).group(1)) >= 77  # type: ignore[union-attr]
