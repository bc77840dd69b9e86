"""The runner module and the parts it assembles (command service, metrics, health) import
one way only: those parts see the runner through narrow protocols (``CommandHost``,
``MetricsSource``, ``HealthSource``), never the ``ExchangeRunner`` class."""

from __future__ import annotations

import grimp

PARTS = ("exchange_runner.service", "exchange_runner.metrics", "exchange_runner.health")


def test_no_part_imports_the_runner_back() -> None:
    graph = grimp.build_graph("exchange_runner", "strategy_client", "exchanges", cache_dir=None)
    for part in PARTS:
        assert graph.find_shortest_chain(importer="exchange_runner.runner", imported=part), part
        back = graph.find_shortest_chain(importer=part, imported="exchange_runner.runner")
        assert back is None, f"{part} imports the runner back: {' -> '.join(back or ())}"
