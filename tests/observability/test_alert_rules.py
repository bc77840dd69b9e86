"""deploy/prometheus/alerts.yml (issue 21): every rule parses, carries a severity and a summary,
covers what the issue lists, and refers only to metrics a real runner's /metrics and the
strategy's metrics export; with promtool installed (Debian's `prometheus` package) also
`promtool check rules`, `promtool check config` and the rule unit tests in alerts_test.yml."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from strategy_client.telemetry.strategy_metrics import StrategyMetrics

from .conftest import MetricsRunner, exported_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = DEPLOY / "alerts.yml"
METRIC = re.compile(r"\b(tradebus_[a-z0-9_]+)\b")
DURATION = re.compile(r"^\d+(ms|s|m|h|d)$")
# what the issue asks the rules to cover → the alerts that do
COVERS = {
    "feed staleness": {"TradebusFeedStale", "TradebusStrategyFeedStale"},
    "sequence gaps": {"TradebusSequenceGaps"},
    "PUB drops": {"TradebusPubDrops"},
    "rate-limit headroom": {"TradebusRateLimitHeadroomLow", "TradebusRateLimitBudgetLow"},
    "leg imbalance": {"TradebusLegImbalance"},
    "UNKNOWN orders": {"TradebusUnknownOrders"},
    "readiness": {"TradebusRunnerNotReady"},
    "runner down": {"TradebusRunnerDown"},
    "stream down": {"TradebusVenueStreamDown"},
}


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_rule_is_complete_and_the_issue_is_covered() -> None:
    found = rules()
    names = [r["alert"] for r in found]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Tradebus[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
        assert isinstance(rule["expr"], str) and rule["expr"].strip(), rule
        assert rule["labels"]["severity"] in {"page", "warn"}, rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule
        if "for" in rule:
            assert DURATION.match(rule["for"]), rule
        # balanced brackets: a cheap syntax check when promtool is absent
        for left, right in ("()", "{}", "[]"):
            assert rule["expr"].count(left) == rule["expr"].count(right), rule["alert"]
    for what, alerts in COVERS.items():
        assert alerts <= set(names), f"{what}: {alerts - set(names)} missing"


def test_rules_refer_only_to_exported_metrics(metrics_runner: MetricsRunner) -> None:
    exported = exported_names(metrics_runner.text())
    strategy = StrategyMetrics("spotperp", mode="paper")
    exported |= exported_names(generate_latest(strategy.registry).decode())
    jobs = {job["job_name"] for job in yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"]}
    for rule in rules():
        used = set(METRIC.findall(rule["expr"]))
        for job in re.findall(r'\bup\{job="([^"]+)"\}', rule["expr"]):
            assert job in jobs, f"{rule['alert']}: no scrape job {job!r} in prometheus.yml"
            used.add("up")
        assert used, rule["alert"]  # every rule is about a tradebus metric or a scrape job's `up`
        unknown = used - exported - {"up"}
        assert not unknown, f"{rule['alert']}: {sorted(unknown)} are not exported"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool not installed (apt-get install prometheus); the schema checks above ran")
    return subprocess.run([tool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_rules_and_the_config() -> None:
    out = _promtool("check", "rules", "alerts.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rules())} rules found" in out.stdout
    config = _promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_rule_unit_tests() -> None:
    out = _promtool("test", "rules", "alerts_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
