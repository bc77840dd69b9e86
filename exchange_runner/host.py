"""The runner as its parts see it: narrow protocols, so that the command service, the metrics
and the health endpoints take "a runner" without importing ``exchange_runner.runner`` (which
imports them). ``ExchangeRunner`` satisfies each structurally; tests pass small fakes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from strategy_client.model import Exchange
from strategy_client.wire import QueueStat

from .config import RunnerConfig

__all__ = ["RunnerInfo", "RunnerState"]


class RunnerInfo(Protocol):
    """Which runner this is, and its queues."""

    @property
    def exchange(self) -> Exchange: ...
    @property
    def version(self) -> str: ...
    @property
    def config(self) -> RunnerConfig: ...
    @property
    def ready(self) -> bool: ...
    def queue_stats(self) -> dict[str, QueueStat]: ...


class RunnerState(Protocol):
    """How the runner is doing: its status, its venue streams, its readiness checks."""

    @property
    def exchange(self) -> Exchange: ...
    @property
    def status(self) -> str: ...
    @property
    def streams(self) -> Mapping[str, bool]: ...
    def readiness(self) -> dict[str, bool]: ...
