"""Issue 12: the account actor never publishes an older balance after a newer one.

The chaos harness saw a REST reconcile publish ETH 10.004 after the user stream had said
10.003: the REST read happened before the change, its answer arrived after the stream's. Here
the same race on the real offline Binance venue, real adapter, real user streams and PUB socket:
the venue holds every REST reply (``delay_ms``) after reading the account; while it is held the
account changes (spot ETH, futures USDT), the stream's updates reach the actor, then the older
REST answer does. Ordering uses the venue's times: ``outboundAccountPosition.u`` /
``ACCOUNT_UPDATE.T`` against ``updateTime`` (spot) / ``assets[].updateTime`` (futures).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
import zmq

from exchange_runner.actors.account import AccountManager, AccountPatch, RefreshAccount
from exchange_runner.publisher import Publisher
from exchanges.account_times import TimedAccountSource
from exchanges.base import AccountUpdate, StreamStatus
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.sim import ACCOUNT_ID, BinanceSim, BinanceSimOptions
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.sim import ACCOUNT_ID as BYBIT_ACCOUNT
from exchanges.bybit.sim import BybitSim
from exchanges.credentials import Credentials
from exchanges.sim.faults import FaultRequest
from strategy_client.model import AccountSnapshot, Exchange, MarketKind
from strategy_client.wire import AccountEvent, RunnerStatusEvent, TopicKind
from tests.helpers import eventually, free_port, free_port_pair
from tests.integration.rawsub import Sub

D = Decimal


class Rig:
    def __init__(self, sim: Any, adapter: Any, account: AccountManager, sub: Sub) -> None:
        self.sim, self.adapter, self.account, self.sub = sim, adapter, account, sub
        self.streams: set[str] = set()

    async def forward(self) -> None:
        """What the runner's ``_on_user`` does with account updates."""
        async for ev in self.adapter.stream_user_events():
            if isinstance(ev, StreamStatus) and ev.connected:
                self.streams.add(ev.stream)
            elif isinstance(ev, AccountUpdate) and (ev.balances or ev.margin):
                await self.account.tell(AccountPatch(ev))

    def published(self) -> list[AccountSnapshot]:
        return [e.account for e in self.sub.of(AccountEvent) if isinstance(e, AccountEvent)]


def _eth(snap: AccountSnapshot) -> Decimal | None:
    b = snap.balance("ETH")
    return b.free if b is not None else None


def _usdt_wallet(snap: AccountSnapshot) -> Decimal | None:
    m = snap.margin_asset("USDT")
    return m.wallet_balance if m is not None else None


@asynccontextmanager
async def _rig(sim: Any, adapter: Any, exchange: Exchange, streams: int) -> AsyncIterator[Rig]:
    await adapter.start()
    pub_sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    pub_sock.bind(endpoint)
    publisher = Publisher(pub_sock, exchange)
    sub = Sub(endpoint)
    probe = RunnerStatusEvent(exchange=exchange, status="probe")

    def probed() -> bool:
        publisher.publish(TopicKind.STATUS, probe)
        return bool(sub.of(RunnerStatusEvent))

    await eventually(probed, interval=0.02, what="subscriber connected")
    account = AccountManager(adapter, publisher)
    r = Rig(sim, adapter, account, sub)
    tasks = [asyncio.create_task(account.run()), asyncio.create_task(r.forward())]
    try:
        await eventually(lambda: len(r.streams) >= streams, timeout=15, what="user streams connected")
        yield r
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sub.close()
        pub_sock.close(0)
        await adapter.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sim = BinanceSim(port_base=free_port_pair(), seed=5, options=BinanceSimOptions(), step_ms=50)
    async with sim:
        sim.venue.pause(True)
        adapter = BinanceAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), use_ws_api=False)
        async with _rig(sim, adapter, Exchange.BINANCE, 2) as r:
            yield r


def _reads(sim: BinanceSim) -> tuple[object, object]:
    """The venue's weight counters of both hosts: they move when it has read a request."""
    limits = sim.dialect.core.limits
    return dict(limits["spot"].weight._counts), dict(limits["futures"].weight._counts)


async def test_a_late_rest_answer_does_not_move_the_account_backwards(rig: Rig) -> None:
    sim, account = rig.sim, rig.account
    first = await account.ask(RefreshAccount("start"), 10)
    eth0, usdt0 = _eth(first), _usdt_wallet(first)
    assert eth0 == D("10") and usdt0 is not None and usdt0 > 0

    # the venue reads the account now and answers 1.5 s later
    sim.faults.arm(FaultRequest(delay_ms=1500))
    before = _reads(sim)
    refresh = asyncio.create_task(account.ask(RefreshAccount("reconcile"), 10))
    await eventually(lambda: all(a != b for a, b in zip(_reads(sim), before, strict=True)), what="REST read")
    read_ms = sim.dialect.core.now_ms()
    await eventually(lambda: sim.dialect.core.now_ms() > read_ms, what="venue clock past the read")
    # ... and meanwhile the account changes; the stream says so first
    sim.venue.deposit(ACCOUNT_ID, MarketKind.SPOT, "ETH", D("-0.001"))
    sim.venue.deposit(ACCOUNT_ID, MarketKind.PERP, "USDT", D("-1"))
    eth1, usdt1 = D("9.999"), usdt0 - 1
    await eventually(
        lambda: (s := account.snapshot) is not None and _eth(s) == eth1 and _usdt_wallet(s) == usdt1,
        what="stream updates applied",
    )
    merged = await refresh  # the REST answer (read before the change) arrives last
    sim.faults.arm(FaultRequest(delay_ms=0))

    assert (_eth(merged), _usdt_wallet(merged)) == (eth1, usdt1)
    assert account.snapshot is not None and (_eth(account.snapshot), _usdt_wallet(account.snapshot)) == (eth1, usdt1)
    assert account.stale_ignored >= 2
    # the published sequence never goes back: nothing says 10 ETH after 9.999 was said
    await eventually(lambda: len(rig.published()) >= 4, what="events received")
    eth_said = [_eth(s) for s in rig.published()]
    assert eth1 in eth_said and eth0 not in eth_said[eth_said.index(eth1) :], eth_said
    usdt_said = [_usdt_wallet(s) for s in rig.published()]
    assert usdt0 not in usdt_said[usdt_said.index(usdt1) :], usdt_said

    # a later REST answer (read after the change) is taken again
    again = await account.ask(RefreshAccount("reconcile"), 10)
    assert (_eth(again), _usdt_wallet(again)) == (eth1, usdt1)
    sim.venue.deposit(ACCOUNT_ID, MarketKind.SPOT, "ETH", D("0.5"))
    await eventually(lambda: (s := account.snapshot) is not None and _eth(s) == D("10.499"), what="deposit seen")
    assert _eth(await account.ask(RefreshAccount("reconcile"), 10)) == D("10.499")


async def test_without_rest_times_a_patch_after_the_fetch_was_sent_wins() -> None:
    """Bybit's REST wallet-balance has no time of its own: the local-order fallback."""
    sim = BybitSim(port=free_port(), seed=5)
    async with sim:
        sim.venue.pause(True)
        adapter = BybitAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret))
        async with _rig(sim, adapter, Exchange.BYBIT, 1) as rig:
            account = rig.account
            assert not isinstance(adapter, TimedAccountSource)
            host = sim.dialect.rest
            before = host.requests
            first = await account.ask(RefreshAccount("start"), 10)
            assert _eth(first) == D("10")
            reads = host.requests - before  # the requests of one account fetch
            sim.faults.arm(FaultRequest(delay_ms=1500))
            before = host.requests
            refresh = asyncio.create_task(account.ask(RefreshAccount("reconcile"), 10))
            # a GET is read synchronously once counted: all of the fetch's reads are done
            await eventually(lambda: host.requests >= before + reads, what="REST reads")
            sim.venue.deposit(BYBIT_ACCOUNT, MarketKind.SPOT, "ETH", D("-0.001"))
            await eventually(lambda: (s := account.snapshot) is not None and _eth(s) == D("9.999"), what="stream")
            merged = await refresh
            sim.faults.arm(FaultRequest(delay_ms=0))
            assert _eth(merged) == D("9.999") and account.stale_ignored >= 1
            eth_said = [_eth(s) for s in rig.published()]
            assert D("10") not in eth_said[eth_said.index(D("9.999")) :], eth_said
            # the next reconcile, sent after the patch, takes the venue's value again
            sim.venue.deposit(BYBIT_ACCOUNT, MarketKind.SPOT, "ETH", D("0.5"))
            await eventually(lambda: (s := account.snapshot) is not None and _eth(s) == D("10.499"), what="stream")
            assert _eth(await account.ask(RefreshAccount("reconcile"), 10)) == D("10.499")
