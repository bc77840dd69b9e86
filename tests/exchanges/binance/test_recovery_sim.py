"""Recovery in seconds against the offline Binance venue (issue 12, defects 5 and 8).

* Repeated WS kills: every reconnect of the user streams (futures listenKey stream, spot WS-API
  subscription) waits the *first* backoff delay, because the attempt counter resets at a
  connection's first good message instead of after 10 s of uptime. On the old code the delays
  doubled with every kill (16.8 s and 23 s after a few kills).
* Repeated listenKey expiries: the futures stream re-creates the key and is back at once.
* A listenKey shared by two clients of one account (Binance hands the same key to every
  ``POST /listenKey`` of one API key) survives the other client's exit.

The wall-clock recovery times are printed (``-s``), not asserted: the assertions are on the
mechanism (which backoff attempts were chosen, which connections dropped).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

import pytest

from exchanges.base import OrderUpdate, UserEvent
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.sim import BinanceSim
from exchanges.binance.user_stream import FUTURES_STREAM, SPOT_STREAM, BinanceUserStreams
from exchanges.credentials import Credentials
from exchanges.transport.backoff import ReconnectPacer
from strategy_client.model import OrderStatus
from tests.exchanges.binance.test_streams_sim import collect_until, statuses
from tests.helpers import eventually, free_port_pair

# the mechanism asserted (the first delay every time) fails from the second drop on broken code;
# 20 drops (docs/runner.md's measured p50/p99) print the same figures with -s, 8 keep the suite short
DROPS = 8
_ids = itertools.count(1)


@pytest.fixture()
async def sim() -> AsyncIterator[BinanceSim]:
    async with BinanceSim(port_base=free_port_pair(), seed=11, step_ms=50) as venue:
        yield venue


def creds(sim: BinanceSim) -> Credentials:
    return Credentials(sim.api_key, sim.api_secret)


def reconnected(streams: tuple[str, ...]) -> Callable[[list[UserEvent]], bool]:
    return lambda ev: all(
        any(s.connected and s.reason.startswith("reconnected") for s in statuses(ev, name)) for name in streams
    )


def report(what: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"\n[recovery] {what}: n={len(samples)} p50={statistics.median(samples) * 1000:.0f}ms "
        f"p99={p99 * 1000:.0f}ms max={ordered[-1] * 1000:.0f}ms"
    )


def only_first_delays(pacer: ReconnectPacer, drops: int) -> None:
    attempts = [attempt for attempt, _ in pacer.history]
    assert len(attempts) >= drops, attempts
    assert attempts == [0] * len(attempts), f"backoff grew across healthy reconnects: {attempts}"


async def place_perp(rest: BinanceRestClient, side: str) -> str:
    client_id = f"rec-{next(_ids)}"
    await rest.futures_place_order(
        {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.002", "newClientOrderId": client_id}
    )
    return client_id


def filled(client_id: str) -> Callable[[list[UserEvent]], bool]:
    return lambda ev: any(
        isinstance(e, OrderUpdate) and e.order.client_id == client_id and e.order.status is OrderStatus.FILLED
        for e in ev
    )


async def test_repeated_ws_kills_reconnect_after_the_first_delay_every_time(sim: BinanceSim) -> None:
    rest = BinanceRestClient(sim.urls, creds(sim))
    await rest.start()
    user = BinanceUserStreams(rest, sim.urls, creds(sim), rest.clock)  # the default backoff, as in the runner
    both = (SPOT_STREAM, FUTURES_STREAM)
    try:
        async with aclosing(user.events()) as events:
            await collect_until(events, lambda ev: all(any(s.connected for s in statuses(ev, n)) for n in both))
            took: list[float] = []
            for _ in range(DROPS):
                # killed once healthy (a frame or the pong to the ping sent on connect), as in life
                await eventually(lambda: all(p.attempt == 0 for p in user.pacers().values()), what="healthy")
                start = time.monotonic()
                assert sim.dialect.kill_ws(None, "user") == 2  # the listenKey stream and the WS-API session
                await collect_until(events, reconnected(both), timeout=15.0)
                took.append(time.monotonic() - start)
            report("binance user streams after a WS kill (both subscribed again)", took)
            pacers = user.pacers()
            only_first_delays(pacers[FUTURES_STREAM], DROPS)
            only_first_delays(pacers[SPOT_STREAM], DROPS)
            # and events flow on the last connection
            client_id = await place_perp(rest, "BUY")
            await collect_until(events, filled(client_id))
    finally:
        await rest.close()


async def test_repeated_listen_key_expiry_recreates_the_key_at_once(sim: BinanceSim) -> None:
    rest = BinanceRestClient(sim.urls, creds(sim))
    await rest.start()
    user = BinanceUserStreams(rest, sim.urls, creds(sim), rest.clock, spot=False)
    try:
        async with aclosing(user.events()) as events:
            await collect_until(events, lambda ev: any(s.connected for s in statuses(ev, FUTURES_STREAM)))
            took: list[float] = []
            for _ in range(DROPS):
                start = time.monotonic()
                assert sim.dialect.expire_listen_keys() == 1
                got = await collect_until(events, reconnected((FUTURES_STREAM,)), timeout=15.0)
                took.append(time.monotonic() - start)
                assert [s.reason for s in statuses(got, FUTURES_STREAM) if not s.connected] == [
                    "requested: listenKeyExpired"
                ]
            report("binance futures user stream after a listenKey expiry", took)
            assert user.listen_keys_created == DROPS + 1
            # a planned reconnect is immediate; only when the venue keeps asking within seconds of
            # connecting (here: DROPS expiries in a row) does it wait, and then the first delay only
            attempts = [attempt for attempt, _ in user.pacers()[FUTURES_STREAM].history]
            assert len(attempts) < DROPS and attempts == [0] * len(attempts)
            client_id = await place_perp(rest, "SELL")
            await collect_until(events, filled(client_id))
    finally:
        await rest.close()


async def test_a_listen_key_shared_by_two_clients_survives_one_exit(sim: BinanceSim) -> None:
    """Binance gives one API key one listenKey; the old code DELETEd it on exit and so closed
    the other runner's stream on the same account."""
    rest_a = BinanceRestClient(sim.urls, creds(sim))
    rest_b = BinanceRestClient(sim.urls, creds(sim))
    await rest_a.start()
    await rest_b.start()
    a = BinanceUserStreams(rest_a, sim.urls, creds(sim), rest_a.clock, spot=False)
    b = BinanceUserStreams(rest_b, sim.urls, creds(sim), rest_b.clock, spot=False)
    try:
        async with aclosing(a.events()) as events_a:
            await collect_until(events_a, lambda ev: any(s.connected for s in statuses(ev, FUTURES_STREAM)))
            async with aclosing(b.events()) as events_b:
                await collect_until(events_b, lambda ev: any(s.connected for s in statuses(ev, FUTURES_STREAM)))
                assert a.listen_key is not None and a.listen_key == b.listen_key  # same key, like Binance
            shared = a.listen_key
            # b has exited: the key is still valid and a's connection was never dropped
            assert sim.dialect.keys.is_active(shared)
            client_id = await place_perp(rest_a, "BUY")
            got = await collect_until(events_a, filled(client_id))
            assert statuses(got, FUTURES_STREAM) == [], "the other client's exit dropped this stream"
            assert a.stats()[FUTURES_STREAM].reconnects == 0 and a.listen_key == shared
            # the key is still extended by whoever keeps using it
            await rest_a.keepalive_listen_key(shared)
    finally:
        await rest_a.close()
        await rest_b.close()


async def test_the_venue_hands_one_account_the_same_key_while_it_is_valid(sim: BinanceSim) -> None:
    rest = BinanceRestClient(sim.urls, creds(sim))
    await rest.start()
    try:
        first = await rest.create_listen_key()
        assert await rest.create_listen_key() == first
        sim.dialect.expire_listen_keys()
        assert await rest.create_listen_key() != first
    finally:
        await rest.close()
