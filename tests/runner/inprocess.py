"""A real runner in this process on its embedded offline venue, for tests that look inside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from exchange_runner.config import RunnerConfig
from exchange_runner.runner import ExchangeRunner
from exchange_runner.venues import open_venue
from tests.helpers import eventually

__all__ = ["in_process_runner"]


@asynccontextmanager
async def in_process_runner(cfg: RunnerConfig) -> AsyncIterator[ExchangeRunner]:
    """Start a runner for ``cfg`` (validated here) and stop it on exit (20 s at most)."""
    cfg.validate()
    async with open_venue(cfg) as adapter:
        r = ExchangeRunner(cfg, adapter)
        task = asyncio.create_task(r.run(), name="runner")
        try:
            await eventually(lambda: r.started.is_set() or task.done(), timeout=30, what="runner started")
            if task.done():
                task.result()
            yield r
        finally:
            r.stop()
            await asyncio.wait_for(task, 20)
