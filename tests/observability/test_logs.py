"""Logs: human and JSON formats, secret redaction (unit and in a real runner process)."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from loguru import logger

from exchange_runner.logs import register_runner_secrets, secret_values
from exchange_runner.ports import free_port, free_port_pair
from strategy_client.telemetry import REDACTED, clear_secrets, redact, register_secret, setup_logging

from ..helpers import eventually_sync
from ..integration.conftest import ROOT, start_runner


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()
    logger.remove()
    logger.configure(extra={})
    logger.add(sys.stderr)


def test_json_lines_have_flat_fields_and_bound_extra() -> None:
    out = io.StringIO()
    setup_logging("DEBUG", json=True, stream=out, extra={"service": "tradebus-runner", "exchange": "binance"})
    logger.bind(stream="books").debug("book {} applied", 42)
    rec = json.loads(out.getvalue())
    assert rec["msg"] == "book 42 applied" and rec["level"] == "DEBUG"
    assert rec["service"] == "tradebus-runner" and rec["exchange"] == "binance" and rec["stream"] == "books"
    assert rec["function"] == "test_json_lines_have_flat_fields_and_bound_extra" and rec["line"] > 0
    assert rec["ts"].endswith("+00:00") or "T" in rec["ts"]
    assert "trace_id" not in rec  # tracing is off


def test_human_format_without_colours_off_a_terminal() -> None:
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    logger.info("hello {}", "world")
    logger.debug("hidden")
    line = out.getvalue()
    assert line.endswith(" INFO    hello world\n") and "\x1b[" not in line


@pytest.mark.parametrize("as_json", [False, True])
def test_registered_secret_is_redacted_everywhere(as_json: bool) -> None:
    secret = "s3cr3t-" + secrets.token_hex(16)
    out = io.StringIO()
    setup_logging("INFO", json=as_json, stream=out, secrets=[secret])
    logger.info("signing with {}", secret)
    logger.bind(api_secret=secret).info("bound")
    try:
        raise ValueError(f"bad secret {secret}")
    except ValueError:
        logger.exception("failed")
    text = out.getvalue()
    assert secret not in text
    # the message and the exception text; in JSON also the bound field
    assert text.count(REDACTED) == (3 if as_json else 2)


def test_short_values_are_not_registered_and_longest_wins() -> None:
    assert not register_secret("abc")
    assert register_secret("abcdef")
    assert register_secret("abcdefghij")
    assert redact("x abcdefghij y abcdef z abc") == f"x {REDACTED} y {REDACTED} z abc"


def test_runner_secret_sources(tmp_path: Path) -> None:
    file = tmp_path / "secrets.toml"
    file.write_text('[binance]\napi_key = "file-key-123456"\napi_secret = "file-secret-123456"\nother = "shown"\n')
    env = {"BYBIT_API_KEY": "env-key-123456", "OKX_API_PASSPHRASE": "env-pass-123456", "HOME": "/home/x"}
    found = secret_values(secrets_file=str(file), redis_url="redis://:redis-pass-123456@h:6379/0", env=env)
    assert sorted(found) == sorted(
        ["env-key-123456", "env-pass-123456", "file-key-123456", "file-secret-123456", "redis-pass-123456"]
    )
    assert register_runner_secrets(secrets_file=str(file), env=env) == 4
    assert redact("file-secret-123456 /home/x") == f"{REDACTED} /home/x"


def test_a_configured_key_never_reaches_the_runner_log(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys from the environment reach a real runner (its offline venue accepts only them, so
    the user streams and the WS-API come up only if they are used) and never its log: the
    runner is also asked for "symbols" spelled like the key and the secret, which it logs
    verbatim in a warning — those must come out redacted."""
    key = secrets.token_hex(32).upper()  # 64 alphanumerics, as the venue requires
    secret = secrets.token_hex(32).upper()
    port_base = free_port_pair()
    sim_log = tmp_path / "sim.log"
    with sim_log.open("wb") as fh:
        sim = subprocess.Popen(
            [sys.executable, "-m", "exchanges.sim", "binance", "--port-base", str(port_base), "--api-key", key,
             "--api-secret", secret, "--symbols", "BTCUSDT"],
            stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    try:

        def sim_up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port_base}/api/v3/ping", timeout=1).status_code == 200
            except httpx.HTTPError:
                assert sim.poll() is None, sim_log.read_text()
                return False

        eventually_sync(sim_up, timeout=20, what="the offline venue")
        monkeypatch.setenv("BINANCE_API_KEY", key)
        monkeypatch.setenv("BINANCE_API_SECRET", secret)
        metrics_port = free_port()
        rp = start_runner(
            redis_url, tmp_path, f"secret-{os.getpid()}",
            "--sim-connect", f"127.0.0.1:{port_base}", "--symbols", f"BTCUSDT,{key},{secret}",
            "--log-json", "--log-level", "DEBUG", "--metrics-port", str(metrics_port),
        )  # fmt: skip
        try:
            rp.record()

            def user_streams_up() -> bool:
                # the user streams come up only with the right key (they may follow "ready" by a beat)
                ready = httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5).json()
                return bool(
                    ready["ready"]
                    and ready["ws_connections"].get("binance:spot:user")
                    and ready["streams"].get("user:binance:perp:user")
                )

            eventually_sync(user_streams_up, timeout=20, what="the runner's user streams with the configured key")
        finally:
            assert rp.stop() == 0
    finally:
        sim.terminate()
        sim.wait(10)
    log = rp.log.read_text()
    assert key not in log and secret not in log
    assert key[:16] not in log  # not even a fragment long enough to matter
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    warned = [rec["msg"] for rec in lines if rec["msg"].startswith("instruments not listed by the venue")]
    assert len(warned) == 1 and warned[0].count(REDACTED) == 4  # the key and the secret, spot and perp
    assert any(rec["msg"] == "runner stopped" for rec in lines)
