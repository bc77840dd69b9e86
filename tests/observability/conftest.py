"""Observability tests: a runner process with its metrics port, and a scrape parser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exchange_runner.ports import free_port

from ..integration.conftest import RunnerProc, start_runner

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a /metrics scrape: (name, labels) → value."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name, frozenset(s.labels.items())] = s.value
    return out


def exported_names(text: str) -> set[str]:
    """Every series name a scrape can contain, from its families (even those with no sample yet)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}
    out: set[str] = set()
    for family in text_string_to_metric_families(text):
        out.add(family.name)
        out.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample (0 when absent: a labelled counter appears on its first increment)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


@dataclass
class MetricsRunner:
    proc: RunnerProc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        response = httpx.get(f"{self.url}/metrics", timeout=5)
        response.raise_for_status()
        return response.text

    def scrape(self) -> Samples:
        return parse_metrics(self.text())


@pytest.fixture(scope="module")
def metrics_runner(redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricsRunner]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("obs")
    port = free_port()
    rp = start_runner(redis_server.url, tmp, f"obs-{os.getpid()}", "--metrics-port", str(port))
    try:
        rp.record()
        yield MetricsRunner(rp, port)
    finally:
        rp.stop()
