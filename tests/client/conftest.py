"""Real runner processes on the embedded simulator for the client tests.

The client package registers its runners in its own Redis database (``/7`` on the suite's
server) so that no other test's runner — or a SIGKILLed one whose record has not expired yet —
is ever discovered by these tests. The ``redis_url`` fixture (which flushes) is not used here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from exchange_runner.localredis import LocalRedisServer

from ..integration.conftest import RunnerProc, start_runner


def db_url(server: LocalRedisServer, db: int) -> str:
    return f"redis://{server.host}:{server.port}/{db}"


@pytest.fixture(scope="package")
def client_redis(redis_server: LocalRedisServer) -> str:
    return db_url(redis_server, 7)


@pytest.fixture(scope="package")
def runner_a(client_redis: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProc]:
    """The one Binance runner every client test may use (name ``cl-a-<pid>``)."""
    rp = start_runner(client_redis, tmp_path_factory.mktemp("client-a"), f"cl-a-{os.getpid()}")
    try:
        rp.record()
        yield rp
    finally:
        rp.stop()
