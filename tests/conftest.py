"""Suite-wide fixtures: a real redis-server of the suite's own on a free port."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest
from hypothesis import settings

from exchange_runner.localredis import LocalRedisServer

pytest_plugins = ["tests.worker_crash"]

# Property tests check properties, not speed: on a shared 2-core machine one example can take
# longer than hypothesis' 200 ms default deadline, which made them fail at random.
settings.register_profile("tradebus", deadline=None)
settings.load_profile("tradebus")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """After the session a process (the main one or an xdist worker) has 60 s to exit; one that
    cannot (the interpreter waiting at exit for a thread that never ends) prints every thread's
    stack and ends, instead of holding the run until CI's own limit."""
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(60, exit=True, file=sys.__stderr__ or sys.stderr)


@pytest.fixture(scope="session", autouse=True)
def _journal_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Journals (runners, strategies) go to a directory of the run, never the per-user data dir:
    every process started by a test inherits ``TRADEBUS_DATA_DIR``."""
    import os

    before = os.environ.get("TRADEBUS_DATA_DIR")
    os.environ["TRADEBUS_DATA_DIR"] = str(tmp_path_factory.mktemp("journal-data"))
    yield
    if before is None:
        os.environ.pop("TRADEBUS_DATA_DIR", None)
    else:
        os.environ["TRADEBUS_DATA_DIR"] = before


@pytest.fixture(autouse=True)
def _default_decimal_context() -> Iterator[None]:
    """Every test starts in Python's default decimal context: the third-party clients some tests
    drive change the thread's (ccxt sets ROUND_HALF_UP and traps Underflow on every price it
    rounds), which made a later test in the same worker format 3.25 as 3.3."""
    decimal.setcontext(decimal.Context())
    yield


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedisServer]:
    """A private real Redis for the whole run (never the machine's shared one)."""
    server = LocalRedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def redis_url(redis_server: LocalRedisServer) -> Iterator[str]:
    """The suite's Redis (its database 0), flushed after each test that uses it — that database
    only: package-scoped runners of other tests keep their registrations and rate-limit budget in
    other databases of the same server, and a budget whose store is wiped under it keeps to its
    own share for a while, as after a Redis restart (docs/runner.md)."""
    import redis

    yield redis_server.url
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
    finally:
        client.close()
