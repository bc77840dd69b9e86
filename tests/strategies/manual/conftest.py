"""One real Binance runner on the embedded simulator for the manual-REPL tests.

It registers in its own Redis database (``/11`` of the suite's server), so no other test's
runner is ever discovered by the REPL and ``positions``/``orders`` show only this package's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import strategy_client
from exchange_runner.localredis import LocalRedisServer

from ...helpers import eventually_sync
from ...integration.conftest import RunnerProc, start_runner

MANUAL_DB = 11


@pytest.fixture(scope="package")
def manual_redis(redis_server: LocalRedisServer) -> str:
    return f"redis://{redis_server.host}:{redis_server.port}/{MANUAL_DB}"


@pytest.fixture(scope="package")
def manual_runner(manual_redis: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProc]:
    rp = start_runner(manual_redis, tmp_path_factory.mktemp("manual"), f"man-{os.getpid()}")
    try:
        rp.record()
        with strategy_client.connect(manual_redis, wait_for=rp.name, record=0) as client:
            # ready means registered; the books follow within a few engine steps
            eventually_sync(
                lambda: len(client.get_book_snapshot("binance").books) == 4, what="the four simulator books"
            )
        yield rp
    finally:
        rp.stop()
