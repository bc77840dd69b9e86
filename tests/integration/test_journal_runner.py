"""The runner's journal over real processes (issue 13, runner half): kill -9 and restart with an
open order and an UNKNOWN one on a venue that keeps its state; a journal from a future schema at
start; an intent that cannot be journaled refuses the order, which never reaches the venue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange_runner.ports import free_port_pair
from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import CoreApiError
from strategy_client.journal import HistoryFilter, Journal, ProcessInfo, journal_file
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.wire import (
    ErrorCode,
    GetOrder,
    GetReferencePrice,
    OrderReply,
    PriceReply,
    PriceSource,
    SubmitOrder,
)

from ..helpers import eventually
from ..journal.conftest import PG_URL, drop_schema, pg_reachable
from .conftest import start_runner
from .test_runner_restart import start_sim

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


def _venue_orders(port_base: int, cid: str) -> list[dict[str, Any]]:
    rep = httpx.get(f"http://127.0.0.1:{port_base}/_sim/orders", timeout=5)
    rep.raise_for_status()
    return [o for o in rep.json()["orders"] if cid in {str(v) for v in o.values()}]


def _journal(data: Path, name: str, url: str | None = None) -> Journal:
    return Journal.open(url, stream=f"runner:binance:{name}", data_dir=data)


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the default SQLite journal in the runner's data dir; else a PostgreSQL schema of the
    test's own (dropped afterwards; skipped, with the reason, when PostgreSQL is unreachable)."""
    if request.param == "sqlite":
        yield None
        return
    reason = pg_reachable()
    if reason:
        pytest.skip(reason)
    schema = "tjr_" + uuid.uuid4().hex[:12]
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        drop_schema(schema)


async def _low_price(cli: ZmqCommandClient) -> Decimal:
    bid = await cli.call(GetReferencePrice(key=PERP, source=PriceSource.BID))
    assert isinstance(bid, PriceReply)
    return (bid.price.price * Decimal("0.9")).quantize(Decimal("0.1"))


async def test_kill9_restart_resumes_open_and_unknown_orders(  # type: ignore[no-untyped-def]
    redis_server, tmp_path: Path, journal_url: str | None
) -> None:
    port_base = free_port_pair()
    sim = start_sim(port_base, tmp_path / "sim.log")
    name = "jr-restart"
    args: tuple[str, ...] = ("--sim-connect", f"127.0.0.1:{port_base}")
    if journal_url is not None:
        args = (*args, "--journal", journal_url)
    admin = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_base + 1}/_sim/")
    second = None
    try:
        first = start_runner(redis_server.url, tmp_path, name, *args, sim_port_base=port_base)
        rec = first.record()
        async with ZmqCommandClient(rec.router_endpoint) as cli:
            low = await _low_price(cli)
            rest = OrderRequest(
                key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.005"), price=low, client_id="jr-open"
            )
            rep = await cli.call(SubmitOrder(order=rest))
            assert isinstance(rep, OrderReply) and rep.order.status is OrderStatus.NEW
            # accepted by the venue (and filled while the user stream is down), the answer never
            # comes: the runner is killed with the order PENDING — its intent is all it journaled
            await admin.post("ws/kill", json={"host": "futures", "target": "user"})
            armed = await admin.post("faults", json={"unknown_next": 1, "unknown_mode": "hang", "host": "futures"})
            assert armed.status_code == 200, armed.text
            hung = OrderRequest(
                key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.003"), client_id="jr-unk"
            )
            sent = asyncio.create_task(cli.call(SubmitOrder(order=hung), timeout_s=30))

            async def at_venue() -> bool:
                return len(await asyncio.to_thread(_venue_orders, port_base, "jr-unk")) == 1

            await eventually(at_venue, timeout=10, interval=0.05, what="the venue accepted the hung order")
            first.stop(signal.SIGKILL)
            with pytest.raises(CoreApiError):
                await sent
        await admin.delete("faults")
        # the venue kept both orders; the journal holds both
        assert len(_venue_orders(port_base, "jr-open")) == 1
        assert len(_venue_orders(port_base, "jr-unk")) == 1
        data = tmp_path / "data"
        j = _journal(data, name, journal_url)
        try:
            held = {o.client_id: o.status for o in (*j.open_orders(), *j.unresolved_orders())}
        finally:
            j.close()
        assert held.get("jr-open") is OrderStatus.NEW
        assert held.get("jr-unk") in (OrderStatus.UNKNOWN, OrderStatus.PENDING)

        second = start_runner(redis_server.url, tmp_path, name, *args, sim_port_base=port_base)
        rec2 = second.record()
        assert rec2.pid != rec.pid
        # not a terminal: the reconcile's progress is log lines, from its count to its end
        # (jr-open is in the venue's open orders; jr-unk is asked for on its own)
        await eventually(
            lambda: "reconciling after a restart: orders checked: 1/1 done in" in second.log.read_text(),
            what="the restart reconcile's progress logged",
        )
        assert "reconciling after a restart: orders checked: 1 to do" in second.log.read_text()
        async with ZmqCommandClient(rec2.router_endpoint) as cli:
            still = await cli.call(GetOrder(key=PERP, client_id="jr-open"))
            assert isinstance(still, OrderReply) and still.order.status is OrderStatus.NEW

            async def resolved() -> bool:
                r = await cli.call(GetOrder(key=PERP, client_id="jr-unk"))
                return isinstance(r, OrderReply) and r.order.status is OrderStatus.FILLED

            await eventually(resolved, timeout=20, interval=0.2, what="the UNKNOWN order resolved from the venue")
            # the same client id cannot be sent again: its intent is journaled
            with pytest.raises(CoreApiError) as dup:
                await cli.call(SubmitOrder(order=hung))
            assert dup.value.code is ErrorCode.INVALID_PARAMS
        # no duplicate at the venue; the fill is journaled once, from the venue's own data
        assert len(_venue_orders(port_base, "jr-unk")) == 1
        venue_fills = _venue_orders(port_base, "jr-unk")[0].get("fills") or []
        j = _journal(data, name, journal_url)
        try:

            def final() -> bool:
                o = j.order("jr-unk")
                return o is not None and o.status is OrderStatus.FILLED

            await eventually(final, timeout=10, interval=0.1, what="the resolution journaled")
            fills = [f for f in j.history_fills(HistoryFilter(key="BTCUSDT")) if f.client_id == "jr-unk"]
            assert len({f.trade_id for f in fills}) == len(fills)  # never twice
            assert sum((Decimal(str(f.qty)) for f in fills), Decimal(0)) <= Decimal("0.003")
            if venue_fills:
                assert {str(f.trade_id) for f in fills} <= {str(vf.get("trade_id", vf.get("id"))) for vf in venue_fills}
            events = j.events_after(0, limit=100_000)
            seqs = [e.seq for e in events]
            assert seqs == sorted(set(seqs))  # one sequence, continued across the restart
            assert any(e.reconciled for e in events), "what the venue did meanwhile is marked reconciled"
        finally:
            j.close()
        # runner history reads the same journal
        history_args = ["--journal", journal_url] if journal_url is not None else []
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "exchange_runner.cli", "history", "orders", "--name", name, "--json", *history_args],
            capture_output=True,
            text=True,
            env={**os.environ, "TRADEBUS_DATA_DIR": str(data)},
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        assert {"jr-open", "jr-unk"} <= {r["client_id"] for r in rows}
        csv_out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "exchange_runner.cli", "history", "fills", "--name", name, "--csv", *history_args],
            capture_output=True,
            text=True,
            env={**os.environ, "TRADEBUS_DATA_DIR": str(data)},
            timeout=60,
        )
        # the hung order filled while the user stream was down: the venue's order status gives only
        # its cumulative filled quantity, so no fill (trade id) was invented for it
        assert csv_out.returncode == 0 and "jr-unk" not in csv_out.stdout, csv_out
    finally:
        await admin.aclose()
        if second is not None:
            second.stop()
        sim.terminate()
        sim.wait(timeout=10)


def test_a_journal_from_a_future_schema_stops_the_runner_with_one_line(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "jr-future"
    data = tmp_path / "data"
    j = Journal.open(None, process=ProcessInfo(role="runner", name=f"binance:{name}"), data_dir=data)
    j.close()
    path = journal_file(f"runner:binance:{name}", data)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    rp = start_runner(redis_server.url, tmp_path, name)
    assert rp.proc.wait(timeout=60) == 2
    log = rp.log.read_text()
    lines = [ln for ln in log.splitlines() if "newer than this tradebus" in ln]
    assert len(lines) == 1 and lines[0].startswith("runner: error: journal"), log[-2000:]
    assert "0099" in lines[0]


def test_an_unreachable_postgresql_journal_stops_the_runner_with_one_line(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port_pair()  # nothing listens there
    rp = start_runner(redis_server.url, tmp_path, "jr-pg-down", "--journal", f"postgresql://127.0.0.1:{port}/test")
    assert rp.proc.wait(timeout=60) == 2
    errors = [ln for ln in rp.log.read_text().splitlines() if ln.startswith("runner: error:")]
    assert len(errors) == 1 and "journal" in errors[0].lower(), rp.log.read_text()[-2000:]


async def test_a_locked_journal_refuses_orders_once_reported_and_loses_no_intent(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SQLite locked by another process. An order's intent goes to the memory-mapped intent log
    (durable across a crash, as a synchronous=normal commit) and the order may leave; once the
    writer reports the lock, orders are refused before anything is sent, market data flows on;
    when the lock clears every logged intent is in SQLite and orders are accepted again."""
    name = "jr-locked"
    rp = start_runner(redis_server.url, tmp_path, name)
    try:
        rec = rp.record()
        path = journal_file(f"runner:binance:{name}", tmp_path / "data")
        async with ZmqCommandClient(rec.router_endpoint) as cli:
            low = await _low_price(cli)

            def order(cid: str) -> OrderRequest:
                return OrderRequest(
                    key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.002"), price=low, client_id=cid
                )

            sent: list[str] = []
            refused: list[str] = []

            async def refused_now() -> bool:
                cid = f"jr-locked-{len(sent) + len(refused)}"
                try:
                    await cli.call(SubmitOrder(order=order(cid)), timeout_s=10)
                except CoreApiError as exc:
                    assert exc.code is ErrorCode.UNAVAILABLE and exc.retryable, exc
                    assert "not sent" in str(exc) and "journal" in str(exc), exc
                    refused.append(cid)
                    return True
                sent.append(cid)
                return False

            locker = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
                await eventually(refused_now, timeout=30, interval=0.3, what="orders refused once the lock is reported")
                # market data keeps flowing meanwhile
                assert isinstance(await cli.call(GetReferencePrice(key=PERP, source=PriceSource.BID)), PriceReply)
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            assert _venue_orders(rp.sim_port_base, refused[0]) == []

            async def accepted() -> bool:
                try:
                    rep = await cli.call(SubmitOrder(order=order("jr-after")), timeout_s=10)
                except CoreApiError as exc:
                    if exc.code is ErrorCode.UNAVAILABLE:  # the writer is still catching up
                        return False
                    raise
                return isinstance(rep, OrderReply) and rep.order.status is OrderStatus.NEW

            await eventually(accepted, timeout=15, interval=0.3, what="orders accepted once the journal recovers")
        j = _journal(tmp_path / "data", name)
        try:

            def all_logged() -> bool:
                return all(j.intent(cid) is not None for cid in [*sent, "jr-after"])

            await eventually(all_logged, timeout=15, what="every intent of an order that left is in SQLite")
            assert all(j.intent(cid) is None for cid in refused)
        finally:
            j.close()
    finally:
        rp.stop()


def test_a_corrupt_journal_stops_the_runner_with_one_line(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "jr-corrupt"
    path = journal_file(f"runner:binance:{name}", tmp_path / "data")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, " * 200)
    before = path.read_bytes()
    rp = start_runner(redis_server.url, tmp_path, name)
    assert rp.proc.wait(timeout=60) == 2
    errors = [ln for ln in rp.log.read_text().splitlines() if ln.startswith("runner: error:")]
    assert len(errors) == 1 and "journal" in errors[0] and str(path) in errors[0], rp.log.read_text()[-2000:]
    assert path.read_bytes() == before  # never overwritten


def test_history_vacuum_keeps_what_a_restart_needs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    j = Journal.open(None, process=ProcessInfo(role="runner", name="binance:jr-vac"), data_dir=data)
    j.write_intent(
        OrderRequest(
            key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("1"), price=Decimal("1"), client_id="v-1"
        )
    )
    j.close()
    env = {**os.environ, "TRADEBUS_DATA_DIR": str(data)}
    base = [sys.executable, "-m", "exchange_runner.cli", "history"]
    out = subprocess.run(
        [*base, "--vacuum", "--retention-days", "0.00001", "--name", "jr-vac"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0 and "vacuumed" in out.stdout, out
    j = Journal.open(None, stream="runner:binance:jr-vac", data_dir=data)
    try:
        assert [o.client_id for o in j.unresolved_orders()] == ["v-1"]  # an unanswered intent survives
    finally:
        j.close()
    missing = subprocess.run([*base, "orders", "--name", "nobody"], capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no journal" in missing.stderr
