"""The blocking facade: from plain code, from inside a running event loop (as in Jupyter), and
the quickstart notebook run cell by cell exactly as written."""

from __future__ import annotations

import inspect
import signal
from pathlib import Path

import nbformat
import pytest

import strategy_client
from strategy_client import CoreApi, Received, Snapshot
from strategy_client.errors import NotFound, RunnerUnavailable
from strategy_client.model import OrderStatus
from strategy_client.sync_client import Client, LoopThread, SyncApi
from strategy_client.wire import BookEvent, OrderEventKind

from ..integration.conftest import ROOT, RunnerProc
from .helpers import PERP, SPOT, resting_buy

NOTEBOOK = ROOT / "docs" / "notebooks" / "quickstart.ipynb"


def code_cells(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return [c.source for c in nb.cells if c.cell_type == "code"]


async def test_notebook_runs_as_written(
    runner_a: RunnerProc, client_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a running event loop, like a Jupyter kernel; connect() finds Redis from $REDIS_URL."""
    monkeypatch.setenv("REDIS_URL", client_redis)
    ns: dict[str, object] = {}
    for i, source in enumerate(code_cells(NOTEBOOK)):
        exec(compile(source, f"{NOTEBOOK.name}[{i}]", "exec"), ns)  # the notebook is ours: running it is the test
    client = ns["client"]
    assert isinstance(client, Client) and "closed" in repr(client)
    assert ns["canceled"].status is OrderStatus.CANCELED  # type: ignore[attr-defined]
    events = ns["events"]
    kinds = [e.event.kind for e in events]  # type: ignore[attr-defined]
    assert kinds[0] is OrderEventKind.NEW and kinds[-1] is OrderEventKind.CANCEL
    rows = ns["rows"]
    assert rows[-1]["order.status"] == "canceled"  # type: ignore[index]
    assert len(ns["books"]) == 5  # type: ignore[arg-type]


async def test_sync_facade_inside_a_running_loop(runner_a: RunnerProc, client_redis: str) -> None:
    client = strategy_client.connect(client_redis, wait_for=runner_a.name)
    try:
        assert runner_a.name in client.runners()
        assert client.ping("binance").ready
        price = client.get_reference_price("binance:perp:BTCUSDT", "ask")
        assert price.key == PERP and price.price > 0
        assert client.runner(runner_a.name).get_instrument(SPOT).key == SPOT
        with pytest.raises(NotFound):  # typed errors cross the thread unchanged
            client.get_order(PERP, client_id="never-placed")
        bid = client.get_reference_price(SPOT, "bid").price
        order = client.submit_order(resting_buy(SPOT, bid, client_id="sync-1"))
        assert client.cancel_order(SPOT, client_id=order.client_id).status is OrderStatus.CANCELED
        events = client.order_events("sync-1")
        assert [e.event.kind for e in events] == [OrderEventKind.NEW, OrderEventKind.CANCEL]  # type: ignore[union-attr]
        assert all(r["order.client_id"] == "sync-1" for r in events.records("str"))
        with client.subscribe(kinds="book", keys=[PERP], snapshot=True) as sub:
            first = sub.get(5)
            assert isinstance(first, Snapshot) and first.reason == "initial"
            books = sub.take(3)
            assert len(books) == 3 and all(isinstance(b, Received) and isinstance(b.event, BookEvent) for b in books)
        recorded = client.recent_events(None, kinds="book", keys=[PERP])
        assert recorded and all(r["key"] == "binance:perp:BTCUSDT" for r in recorded.records("float"))
        assert isinstance(recorded.records("float")[0]["bid"], float)
    finally:
        client.close()
    with pytest.raises(RunnerUnavailable, match="closed"):
        client.get_reference_price(PERP)


def test_sync_facade_from_plain_code(runner_a: RunnerProc, client_redis: str) -> None:
    with strategy_client.connect(client_redis, wait_for=runner_a.name, record=0) as client:
        assert client.get_funding_rate(PERP).key == PERP
        assert len(client.events(2, kinds="book", keys=PERP)) == 2
        with pytest.raises(RuntimeError, match="recording is off"):
            client.recent_events()


def test_connect_without_runners_says_so(redis_server: object, client_redis: str) -> None:
    empty = client_redis.rsplit("/", 1)[0] + "/10"
    with pytest.raises(RunnerUnavailable, match=r"no runner is registered .* start one with `runner binance`"):
        strategy_client.connect(empty, timeout_s=0.5)


def test_sync_methods_mirror_coreapi() -> None:
    """Same names and parameters as the CoreApi protocol (the facade must not drift)."""
    names = [n for n, v in vars(CoreApi).items() if inspect.iscoroutinefunction(v)]
    assert len(names) == 14
    for name in names:
        want = list(inspect.signature(getattr(CoreApi, name)).parameters)
        got = list(inspect.signature(getattr(SyncApi, name)).parameters)
        assert got == want, name
        assert not inspect.iscoroutinefunction(getattr(SyncApi, name))


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no per-thread signal masks on this platform")
def test_the_loop_thread_leaves_ctrl_c_to_the_main_thread() -> None:
    """Ctrl-C must interrupt the caller's blocking read (the manual REPL's prompt): the client's
    own loop thread blocks SIGINT and SIGTERM, so the kernel never hands them to it."""
    thread = LoopThread(name="mask-check")
    try:

        async def mask() -> set[int]:
            return {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}

        blocked = thread.run(mask(), timeout_s=5)
    finally:
        thread.stop()
    assert {int(signal.SIGINT), int(signal.SIGTERM)} <= blocked
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the caller's stays open
