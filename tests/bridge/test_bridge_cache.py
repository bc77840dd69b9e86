"""The bridge in process over one real runner: market data on the documented subjects in
MessagePack, the overflow policy (a lane of 2 events: journaled events that do not fit come
back from the runner's journal, in order), and the latest-state cache in Redis with TTLs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import nats
import pytest
import redis

from bridge import Bridge, BridgeConfig, NatsOptions, PayloadFormat
from bridge.cache import cache_key
from bridge.checkpoint import CheckpointStore
from bridge.health import SinkHandle
from bridge.lane import Lane, ReplaySource
from bridge.sinks import NatsSink
from strategy_client import ZmqRouter
from strategy_client.model import InstrumentKey, OrderRequest, OrderType, Side

from ..helpers import eventually
from ..integration.conftest import RunnerProc, start_runner
from .brokers import NATS_URL, read_jetstream, status_event

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")


@pytest.fixture()
def runner(redis_url: str, tmp_path: Path) -> Iterator[RunnerProc]:
    proc = start_runner(redis_url, tmp_path, f"c-{uuid.uuid4().hex[:6]}", "--sim-funding-interval", "5")
    try:
        proc.record(timeout=60)
        yield proc
    finally:
        proc.stop()


def _hash(client: redis.Redis, key: str) -> dict[str, str]:
    raw = client.hgetall(key)
    assert isinstance(raw, dict)
    return {k.decode(): v.decode() for k, v in raw.items()}


async def test_market_data_overflow_and_cache(runner: RunnerProc, stream: str, redis_url: str, tmp_path: Path) -> None:
    prefix = stream.lower()
    config = BridgeConfig(
        name=f"c-{stream}",
        redis_url=redis_url,
        runners=(runner.name,),
        nats=NatsOptions(url=NATS_URL, stream=stream, prefix=prefix, storage="memory", max_age_s=600),
        fmt=PayloadFormat.MSGPACK,
        cache_ttl_md_s=30,
        cache_ttl_state_s=600,
        data_dir=str(tmp_path / "bridge"),
        capacity=2,
        batch_max=1,
    )
    bridge = Bridge(config)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    client = redis.Redis.from_url(redis_url)
    try:
        async with ZmqRouter(redis_url) as router:
            await router.wait_for(runner.name, timeout_s=30)
            api = router.runner(runner.name)
            orders = [  # at once: a burst of journaled events, far more than the lane holds
                OrderRequest(
                    key=PERP,
                    side=Side.BUY if i % 2 == 0 else Side.SELL,
                    type=OrderType.MARKET,
                    qty=Decimal("0.003") if i == 7 else Decimal("0.002"),
                )
                for i in range(8)
            ]
            # the journal's end before the burst (asked as the lane asks, retried like its polls)
            start = await eventually(lambda: api.replay_events("binance", 0, limit=1), timeout=30, what="the journal")
            before = start.last_seq
            await asyncio.gather(*(api.submit_order(o) for o in orders))
            journal_end = 0

            async def lane_caught_up() -> Lane | None:
                # fills and position/balance updates keep arriving after the order replies: re-read the
                # journal's end every poll (a single read taken early is overtaken and never equals acked);
                # and the orders' own events must be in it (each order has at least its fill): a poll
                # before the writer committed them found the lane level with the startup events
                nonlocal journal_end
                journal_end = (await api.replay_events("binance", 0, limit=1)).last_seq
                ln = bridge.lanes.get((runner.name, "nats"))
                done = ln is not None and journal_end >= before + len(orders) and ln.acked == journal_end
                return ln if done else None

            lane = await eventually(lane_caught_up, timeout=60, what="the lane to acknowledge every journaled event")
            assert lane.skipped_full > 0, lane.status()  # the overflow policy was exercised
            # the cache: book top, reference price, funding, position, balance — with TTLs
            book_key = cache_key(runner.name, "book", str(PERP))
            book = await eventually(lambda: _hash(client, book_key), timeout=30, what="the cached book")
            assert Decimal(book["bid"]) < Decimal(book["ask"]) and Decimal(book["mid"]) > 0
            assert 0 < int(client.ttl(book_key)) <= 30
            price = _hash(client, cache_key(runner.name, "price", str(PERP)))
            assert price["mid"] == book["mid"]
            funding = await eventually(
                lambda: _hash(client, cache_key(runner.name, "funding", str(PERP))), timeout=30, what="cached funding"
            )
            assert "rate" in funding and int(funding["ts_ms"]) > 0
            pos_key = cache_key(runner.name, "position", str(PERP))
            pos = await eventually(
                lambda: (h := _hash(client, pos_key)) and abs(Decimal(h["size"])) == Decimal("0.001") and h,
                timeout=30,
                what="the cached position (4 buys of 0.002, 3 sells of 0.002 and one of 0.003: short 0.001)",
            )
            assert 0 < int(client.ttl(pos_key)) <= 600
            balance = _hash(client, cache_key(runner.name, "balance", "USDT"))
            assert Decimal(balance["total"]) > 0 and "updated_ms" in balance
            assert pos

            async def a_book_in_the_stream() -> bool:
                # books are dropped while the lane is full of the burst's events; once it caught up
                # they flow again — the stream is read after the stop, so wait for one to be in it
                nc = await nats.connect(NATS_URL)
                try:
                    await nc.jetstream().get_last_msg(stream, f"{prefix}.ob.binance.{runner.name}.perp.BTCUSDT")
                    return True
                except nats.js.errors.NotFoundError:
                    return False
                finally:
                    await nc.close()

            await eventually(a_book_in_the_stream, timeout=30, what="a book in the stream after the overflow")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        client.close()
    msgs = await read_jetstream(stream, f"{prefix}.>")
    envelopes = [(subject, h, msgspec.msgpack.decode(body)) for subject, h, body in msgs]
    jseqs = [env["jseq"] for _, _, env in envelopes if env["jseq"]]
    assert jseqs[:journal_end] == list(range(1, journal_end + 1))  # every journaled event, once, in order
    assert jseqs == list(range(1, len(jseqs) + 1))  # and whatever was journaled later, without a gap
    assert any(env["replayed"] for _, _, env in envelopes)  # what overflowed came from the journal
    last_seq: dict[str, int] = {}
    for _, _, env in envelopes:  # market data: per topic, never an older event after a newer one
        if not env["jseq"]:
            assert env["seq"] > last_seq.get(env["topic"], 0), (env["topic"], env["seq"], last_seq.get(env["topic"]))
            last_seq[env["topic"]] = env["seq"]
    books = [
        (subject, h, env) for subject, h, env in envelopes if subject.endswith(".perp.BTCUSDT") and env["kind"] == "ob"
    ]
    assert books, "no book reached the stream"
    subject, headers, env = books[0]
    assert subject == f"{prefix}.ob.binance.{runner.name}.perp.BTCUSDT"
    assert headers["Content-Type"] == "application/msgpack"
    assert (
        headers["Nats-Msg-Id"] == env["id"] == f"{runner.name}/ob|binance|perp|BTCUSDT|/s{env['seq']}-{env['sent_ns']}"
    )
    assert env["key"] == "binance:perp:BTCUSDT" and env["event"]["event"] == "book"
    assert isinstance(env["event"]["book"]["bids"][0][0], str)  # decimals are strings
    order_env = next(env for _, _, env in envelopes if env["kind"] == "exec")
    assert order_env["id"].endswith(f"/j{order_env['jseq']}")


async def test_newest_only_market_data_never_goes_backwards(
    runner: RunnerProc, stream: str, redis_url: str, tmp_path: Path
) -> None:
    """Ten events of one market-data topic offered to a lane of 3 before it runs: 1-3 are
    queued, 4-10 kept newest-only; the stream gets 1, 2, 3, then 10 with ``conflated`` 6."""
    prefix = stream.lower()
    async with ZmqRouter(redis_url) as router:
        rec = await router.wait_for(runner.name, timeout_s=30)
        handle = SinkHandle(NatsSink(NatsOptions(url=NATS_URL, stream=stream, prefix=prefix, storage="memory")))
        store = CheckpointStore(tmp_path / "cp.sqlite3")
        source = ReplaySource(router.runner(runner.name), rec.exchange)
        lane = Lane(runner.name, source, handle, store, capacity=3, batch_max=2, start="latest")
        keeper = asyncio.create_task(handle.run())
        try:
            await eventually(lambda: handle.up, timeout=30, what="the sink")
            for seq in range(1, 11):
                lane.offer(status_event(runner.name, seq))
            assert len(lane.queue) == 3 and lane.conflated == 7
            relay = asyncio.create_task(lane.run())
            await eventually(lambda: lane.published == 4, timeout=30, what="four messages published")
            relay.cancel()
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            store.close()
    msgs = await read_jetstream(stream, f"{prefix}.status.>")
    got = [(env["seq"], env["conflated"]) for env in (msgspec.json.decode(body) for _, _, body in msgs)]
    assert got == [(1, 0), (2, 0), (3, 0), (10, 6)]


async def test_a_runner_without_journal_is_relayed_live(stream: str, redis_url: str, tmp_path: Path) -> None:
    """``--no-journal``: nothing to replay; the lane says so (journal "none") and relays live."""
    proc = start_runner(redis_url, tmp_path, f"nj-{uuid.uuid4().hex[:6]}", "--no-journal")
    prefix = stream.lower()
    try:
        proc.record(timeout=60)
        config = BridgeConfig(
            name=f"nj-{stream}",
            redis_url=redis_url,
            runners=(proc.name,),
            kinds=("exec",),
            nats=NatsOptions(url=NATS_URL, stream=stream, prefix=prefix, storage="memory"),
            cache=False,
            data_dir=str(tmp_path / "bridge"),
        )
        bridge = Bridge(config)
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        try:
            lane = await eventually(
                lambda: (ln := bridge.lanes.get((proc.name, "nats"))) and ln.journal == "none" and ln,
                timeout=30,
                what="the lane to find no journal",
            )
            async with ZmqRouter(redis_url) as router:
                await router.wait_for(proc.name, timeout_s=30)
                await router.runner(proc.name).submit_order(
                    OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.002"))
                )
            await eventually(lambda: lane.published >= 2, timeout=30, what="the order's events relayed live")
            replays = lane.status().replayed
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    finally:
        proc.stop()
    assert replays == 0
    msgs = await read_jetstream(stream, f"{prefix}.exec.>")
    kinds = [msgspec.json.decode(body)["event"]["kind"] for _, _, body in msgs]
    assert kinds[:1] == ["new"] and "fill" in kinds
