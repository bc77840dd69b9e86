"""Deployment files: the compose file validates, the image is built the way the docs say, and the
metrics port of the runner CLI fails cleanly when taken."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys

import pytest

from exchange_runner.ports import free_port

from ..integration.conftest import ROOT

DEPLOY = ROOT / "deploy"


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (Debian: apt-get install docker-compose; it validates without an engine)",
)
def test_compose_file_validates() -> None:
    done = subprocess.run(
        ["docker-compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    services = subprocess.run(
        ["docker-compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert set(services) == {
        "keys",  # one-shot: the CURVE keypairs and the allow-list (docs/security.md)
        "redis",
        "runner-binance",
        "runner-bybit",
        "strategy-spotperp",
        "prometheus",
        "grafana",
        "otel-collector",
        "jaeger",
    }


def test_prometheus_scrapes_the_compose_services() -> None:
    compose = (DEPLOY / "docker-compose.yml").read_text()
    scrape = (DEPLOY / "prometheus/prometheus.yml").read_text()
    targets = re.findall(r'"([a-z0-9-]+):(\d+)"', scrape)
    tradebus = [(host, port) for host, port in targets if host != "localhost"]
    assert {h for h, _ in tradebus} == {"runner-binance", "runner-bybit", "strategy-spotperp"}
    for host, port in tradebus:
        assert f"\n  {host}:\n" in compose and port == "9100"  # the image's TRADEBUS_METRICS_PORT


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2 and "COPY --from=build" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(
        r"^HEALTHCHECK .*\n\s+CMD \[\"python\", \"-m\", \"strategy_client.telemetry.healthcheck\"\]", text, re.M
    )
    assert "ENTRYPOINT" not in text  # any console script is the command
    provisioned = json.loads((DEPLOY / "grafana/dashboards/tradebus.json").read_text())
    assert provisioned["uid"] == "tradebus-overview" and provisioned["panels"]


def test_taken_metrics_port_is_a_clean_error(redis_url: str) -> None:
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        done = subprocess.run(
            [sys.executable, "-m", "exchange_runner.cli", "binance", "--redis-url", redis_url,
             "--metrics-port", str(port), "--name", "busy-metrics"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "runner: error: port in use" in done.stderr and str(port) in done.stderr
    assert "Traceback" not in done.stderr
