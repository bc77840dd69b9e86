"""The pre-trade risk gate over real processes: embedded-simulator runners with a ``[risk]``
section, traded through ``ZmqRouter`` (docs/risk.md).

Each limit family refuses the order that crosses it and lets the one at the limit pass; a
refusal is a typed ``RiskRejected`` naming the limit and the numbers, is published on the
``risk`` topic and counted in the runner's status. REDUCING lets only reducing orders through.
Runners get Redis databases of their own so that a kill switch halts only the runners of its
test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from strategy_client.errors import InvalidRequest, RiskRejected
from strategy_client.model import (
    Exchange,
    Instrument,
    InstrumentKey,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    RiskEventKind,
    Side,
    TimeInForce,
    TradingState,
)
from strategy_client.router import ZmqRouter
from strategy_client.wire import ErrorCode, RiskGateEvent, TopicKind, TradingStateReply

from ..helpers import eventually
from .conftest import RunnerProc, start_runner

BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
ETH = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.PERP)
SPOT_ETH = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.SPOT)

# Runner A: one limit of each family, each on its own instrument where they could interfere.
LIMITS_TOML = """
[risk]
max_open_orders = 3
client_orders_per_minute = 4

[risk.instruments."perp:BTCUSDT"]
max_order_qty = "0.05"
price_collar = "0.05"

[risk.instruments."perp:ETHUSDT"]
max_position_qty = "0.3"
"""


def _db(url: str, n: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{n}"


def _config(tmp: Path, name: str, text: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def limits_runner(redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProc]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("risk")
    url = _db(redis_server.url, 5)
    cfg = _config(tmp, "limits", LIMITS_TOML)
    rp = start_runner(url, tmp, f"risk-{os.getpid()}", "--config", str(cfg))
    try:
        rp.record()
        yield rp
    finally:
        rp.stop()


@pytest.fixture
async def router(limits_runner: RunnerProc) -> AsyncIterator[ZmqRouter]:
    """A fresh router per test: a new ROUTER identity, so a new client for the per-client throttle."""
    async with ZmqRouter(limits_runner.redis_url) as r:
        await r.wait_for(Exchange.BINANCE, timeout_s=30)
        yield r
        await _cancel_open(r)


async def _cancel_open(router: ZmqRouter) -> None:
    for order in await router.get_open_orders(Exchange.BINANCE):
        await router.cancel_order(order)
    await eventually(lambda: _no_open(router), timeout=10, what="no open orders")


async def _no_open(router: ZmqRouter) -> bool:
    return not await router.get_open_orders(Exchange.BINANCE)


def _down(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


async def _ref(router: ZmqRouter, key: InstrumentKey) -> tuple[Instrument, Decimal]:
    inst = await router.get_instrument(key)
    ref = await eventually(lambda: router.get_reference_price(key), timeout=15, what=f"{key} price")
    return inst, ref.price


async def _limit(
    router: ZmqRouter,
    key: InstrumentKey,
    side: Side,
    qty: Decimal,
    price: Decimal,
    *,
    tif: TimeInForce = TimeInForce.GTC,
) -> Order:
    return await router.submit_order(
        OrderRequest(key=key, side=side, type=OrderType.LIMIT, qty=qty, price=price, tif=tif)
    )


async def _market(router: ZmqRouter, key: InstrumentKey, side: Side, qty: Decimal, *, reduce: bool = False) -> Order:
    order = await router.submit_order(
        OrderRequest(key=key, side=side, type=OrderType.MARKET, qty=qty, reduce_only=reduce)
    )
    return await eventually(lambda: _final(router, key, order.client_id), timeout=15, what="market fill")


async def _final(router: ZmqRouter, key: InstrumentKey, cid: str) -> Order | None:
    order = await router.get_order(key, client_id=cid)
    return order if order.status is OrderStatus.FILLED else None


async def _refused(coro: object, limit: str) -> RiskRejected:
    with pytest.raises(RiskRejected) as info:
        await coro  # type: ignore[misc]
    exc = info.value
    assert exc.code is ErrorCode.RISK_REJECTED
    assert not exc.retryable
    assert f"risk: {limit}" in str(exc), str(exc)
    return exc


def _min_qty(inst: Instrument, price: Decimal) -> Decimal:
    """The smallest qty the venue's notional filter accepts at ``price`` (with a margin)."""
    qty = _down(Decimal(120) / price, inst.step_size) + inst.step_size
    return max(qty, inst.min_qty)


def _passive(ref: Decimal, side: Side, frac: str, tick: Decimal) -> Decimal:
    """A price ``frac`` away from ``ref`` on the passive side (rests, never crosses)."""
    f = Decimal(frac)
    return _down(ref * (1 - f), tick) if side is Side.BUY else _down(ref * (1 + f), tick) + tick


# --------------------------------------------------------------------------- each limit family


async def test_max_order_qty_refuses_above_passes_at(router: ZmqRouter) -> None:
    inst, ref = await _ref(router, BTC)
    price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
    ok = await _limit(router, BTC, Side.BUY, Decimal("0.05"), price)  # exactly the limit: passes
    assert ok.status in (OrderStatus.NEW, OrderStatus.PENDING)
    exc = await _refused(_limit(router, BTC, Side.BUY, Decimal("0.051"), price), "max_order_qty")
    assert "limit 0.05, requested 0.051" in str(exc)
    status = await router.get_risk_status(Exchange.BINANCE)
    assert status.refused.get("max_order_qty", 0) >= 1


async def test_price_collar_refuses_outside_the_band(router: ZmqRouter) -> None:
    inst, ref = await _ref(router, BTC)
    qty = _min_qty(inst, ref)
    inside = _passive(ref, Side.SELL, "0.04", inst.tick_size)
    outside = _passive(ref, Side.SELL, "0.07", inst.tick_size)
    assert (await _limit(router, BTC, Side.SELL, qty, inside)).status is not OrderStatus.REJECTED
    await _refused(_limit(router, BTC, Side.SELL, qty, outside), "price_collar")
    await _refused(_limit(router, BTC, Side.BUY, qty, _passive(ref, Side.BUY, "0.07", inst.tick_size)), "price_collar")


async def test_position_limit_counts_open_orders_worst_case(router: ZmqRouter) -> None:
    inst, ref = await _ref(router, ETH)
    price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
    await _limit(router, ETH, Side.BUY, Decimal("0.2"), price)
    await _limit(router, ETH, Side.BUY, Decimal("0.1"), price)  # worst case 0.3 = the limit: passes
    exc = await _refused(_limit(router, ETH, Side.BUY, inst.step_size, price), "max_position_qty")
    assert "limit 0.3" in str(exc)
    # the other side is not constrained by buys that may be cancelled
    await _limit(router, ETH, Side.SELL, Decimal("0.3"), _passive(ref, Side.SELL, "0.03", inst.tick_size))


async def test_max_open_orders(router: ZmqRouter) -> None:
    inst, ref = await _ref(router, ETH)
    price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
    qty = _min_qty(inst, price)
    for _ in range(3):
        await _limit(router, ETH, Side.BUY, qty, price)
    exc = await _refused(_limit(router, ETH, Side.BUY, qty, price), "max_open_orders")
    assert "limit 3" in str(exc)


async def test_max_order_notional_tightened_at_run_time(router: ZmqRouter) -> None:
    inst, ref = await _ref(router, SPOT_ETH)
    price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
    qty = _down(Decimal(100) / price, inst.step_size)
    # loosening at run time is refused (removing a limit); tightening is accepted
    with pytest.raises(InvalidRequest, match="loosen"):
        await router.set_risk_limit(Exchange.BINANCE, "max_open_orders", "")
    limit = qty * price
    status = await router.set_risk_limit(Exchange.BINANCE, "max_order_notional", str(limit), instrument="spot:ETHUSDT")
    row = next(i for i in status.instruments if i.key == SPOT_ETH)
    assert row.limits.max_order_notional == limit
    await _limit(router, SPOT_ETH, Side.BUY, qty, price)  # qty × price = the limit: passes
    await _refused(_limit(router, SPOT_ETH, Side.BUY, qty + inst.step_size, price), "max_order_notional")


async def test_client_rate_throttle(router: ZmqRouter) -> None:
    inst, ref = await _ref(router, ETH)
    price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
    qty = _min_qty(inst, price)
    for _ in range(4):  # IOC far from the market: expires at once, leaves nothing open
        order = await _limit(router, ETH, Side.BUY, qty, price, tif=TimeInForce.IOC)
        await eventually(lambda o=order: _gone(router, o), timeout=10, what="IOC expired")  # type: ignore[misc]
    exc = await _refused(_limit(router, ETH, Side.BUY, qty, price, tif=TimeInForce.IOC), "client_orders_per_minute")
    assert "limit 4" in str(exc)
    # another client has its own window
    async with ZmqRouter(router.redis_url) as other:
        await other.wait_for(Exchange.BINANCE, timeout_s=30)
        await _limit(other, ETH, Side.BUY, qty, price, tif=TimeInForce.IOC)


async def _gone(router: ZmqRouter, order: Order) -> bool:
    return (await router.get_order(order.key, client_id=order.client_id)).is_final


async def test_refusal_is_published_on_the_risk_topic(router: ZmqRouter) -> None:
    inst, ref = await _ref(router, BTC)
    sub = await router.subscribe(kinds=TopicKind.RISK, exchange=Exchange.BINANCE)
    try:
        exc = await _refused(
            _limit(router, BTC, Side.BUY, Decimal("0.06"), _passive(ref, Side.BUY, "0.03", inst.tick_size)),
            "max_order_qty",
        )

        async def refused_event() -> RiskGateEvent | None:
            item = await sub.get(0.2)
            event = getattr(item, "event", None)
            if isinstance(event, RiskGateEvent) and event.risk.kind is RiskEventKind.REFUSED:
                return event
            return None

        event = await eventually(refused_event, timeout=10, what="a refused risk event")
        assert event.risk.breach is not None and event.risk.breach.one_line() in str(exc)
    finally:
        await sub.close()


async def test_reducing_allows_only_reducing_orders(router: ZmqRouter) -> None:
    await _market(router, BTC, Side.BUY, Decimal("0.01"))
    pos = await eventually(lambda: router.get_position(BTC), timeout=15, what="BTC position")
    size = pos.size
    assert size > 0
    reply = await router.set_trading_state(Exchange.BINANCE, TradingState.REDUCING, reason="test")
    assert reply.state is TradingState.REDUCING
    try:
        await _refused(router.submit_order(_mkt(BTC, Side.BUY, Decimal("0.001"))), "trading_state")
        await _refused(router.submit_order(_mkt(BTC, Side.SELL, size + Decimal("0.01"))), "trading_state")  # crosses
        await _market(router, BTC, Side.SELL, size)  # back to flat: reduces
        await eventually(lambda: _flat(router, BTC), timeout=15, what="flat")
        await _refused(router.submit_order(_mkt(BTC, Side.SELL, Decimal("0.001"))), "trading_state")  # flat: opens
        status = await router.get_risk_status(Exchange.BINANCE)
        assert status.state is TradingState.REDUCING
    finally:
        back = await router.set_trading_state(Exchange.BINANCE, TradingState.ACTIVE, reason="test done")
        assert back.previous is TradingState.REDUCING


def _mkt(key: InstrumentKey, side: Side, qty: Decimal) -> OrderRequest:
    return OrderRequest(key=key, side=side, type=OrderType.MARKET, qty=qty)


async def _flat(router: ZmqRouter, key: InstrumentKey) -> bool:
    pos = await router.get_position(key)
    return pos is None or pos.size == 0


# --------------------------------------------------------------------------- kill switch


async def test_kill_switch_halts_three_runners_and_cancels_their_orders(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = _db(redis_server.url, 6)
    runners = [start_runner(url, tmp_path, f"ks-{ex.value}-{os.getpid()}", exchange=ex.value) for ex in Exchange]
    try:
        for r in runners:
            r.record()
        async with ZmqRouter(url) as router:
            keys = [InstrumentKey(ex, "BTCUSDT", MarketKind.PERP) for ex in Exchange]
            for ex in Exchange:
                await router.wait_for(ex, timeout_s=30)
            for key in keys:
                inst, ref = await _ref(router, key)
                qty = _min_qty(inst, ref)
                for frac in ("0.03", "0.04"):
                    await _limit(router, key, Side.BUY, qty, _passive(ref, Side.BUY, frac, inst.tick_size))
                await eventually(
                    lambda k=key: _open_count(router, k.exchange, 2),  # type: ignore[misc]
                    timeout=15,
                    what=f"{key.exchange.value} open orders",
                )
            results = await router.kill_switch("integration test")
            assert len(results) == 3
            for name, reply in results.items():
                assert isinstance(reply, TradingStateReply), (name, reply)
                assert reply.state is TradingState.HALTED and reply.canceled == 2, (name, reply)
            for key in keys:
                assert not await router.get_open_orders(key.exchange)
                status = await router.get_risk_status(key.exchange)
                assert status.state is TradingState.HALTED
                inst, ref = await _ref(router, key)
                await _refused(
                    _limit(router, key, Side.BUY, _min_qty(inst, ref), _passive(ref, Side.BUY, "0.03", inst.tick_size)),
                    "trading_state",
                )
    finally:
        for r in runners:
            r.stop()


async def _open_count(router: ZmqRouter, exchange: Exchange, n: int) -> bool:
    return len(await router.get_open_orders(exchange)) == n


# --------------------------------------------------------------------------- daily loss


async def test_daily_loss_limit_trips_on_a_losing_sequence(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = _db(redis_server.url, 7)
    cfg = _config(tmp_path, "loss", '[risk]\ndaily_loss_limit = "1"\n')
    runner = start_runner(url, tmp_path, f"loss-{os.getpid()}", "--config", str(cfg))
    try:
        runner.record()
        async with ZmqRouter(url) as router:
            await router.wait_for(Exchange.BINANCE, timeout_s=30)
            inst, ref = await _ref(router, BTC)
            sub = await router.subscribe(kinds="risk", exchange=Exchange.BINANCE)
            # resting orders the trip must cancel
            await _limit(router, BTC, Side.BUY, _min_qty(inst, ref), _passive(ref, Side.BUY, "0.03", inst.tick_size))
            qty = _down(Decimal(2000) / ref, inst.step_size)  # ~2000 USDT a leg: taker fees ~1 USDT a round trip
            trips = 0
            while (await router.get_risk_status(Exchange.BINANCE)).state is TradingState.ACTIVE:
                assert trips < 10, "the daily loss limit never tripped"
                try:
                    await _market(router, BTC, Side.BUY, qty)
                    await _market(router, BTC, Side.SELL, qty)
                except RiskRejected as exc:
                    assert "trading_state" in str(exc)
                    break
                trips += 1
            status = await eventually(
                lambda: _state(router, TradingState.HALTED), timeout=10, what="HALTED after the loss"
            )
            assert status.day_realized_pnl <= -1
            assert "daily_loss" in status.state_reason
            await eventually(lambda: _no_open(router), timeout=15, what="open orders cancelled by the trip")
            await _refused(router.submit_order(_mkt(BTC, Side.SELL, qty)), "trading_state")

            async def halted_event() -> bool:
                item = await sub.get(0.2)
                event = getattr(item, "event", None)
                return (
                    isinstance(event, RiskGateEvent)
                    and event.risk.kind is RiskEventKind.STATE
                    and event.risk.state is TradingState.HALTED
                )

            await eventually(halted_event, timeout=10, what="the HALTED risk event")
            await sub.close()
            # resuming while the loss is still over the limit needs force
            with pytest.raises(InvalidRequest, match="force"):
                await router.set_trading_state(Exchange.BINANCE, TradingState.ACTIVE)
    finally:
        runner.stop()


async def _state(router: ZmqRouter, state: TradingState):  # type: ignore[no-untyped-def]
    status = await router.get_risk_status(Exchange.BINANCE)
    return status if status.state is state else None


# --------------------------------------------------------------------------- paper mode


async def test_paper_runner_is_gated(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = _db(redis_server.url, 8)
    cfg = _config(tmp_path, "paper", '[risk.defaults]\nmax_order_qty = "0.02"\n')
    runner = start_runner(url, tmp_path, f"paper-{os.getpid()}", "--mode", "paper", "--config", str(cfg))
    try:
        runner.record()
        async with ZmqRouter(url) as router:
            await router.wait_for(Exchange.BINANCE, timeout_s=30)
            await _ref(router, BTC)
            order = await _market(router, BTC, Side.BUY, Decimal("0.02"))
            assert order.filled_qty == Decimal("0.02")
            await _refused(router.submit_order(_mkt(BTC, Side.BUY, Decimal("0.021"))), "max_order_qty")
    finally:
        runner.stop()


# --------------------------------------------------------------------------- runner risk show


def test_runner_risk_show_prints_limits_and_usage(limits_runner: RunnerProc) -> None:
    import json
    import subprocess
    import sys

    from .conftest import ROOT

    base = [sys.executable, "-m", "exchange_runner.cli", "risk", "show", "--redis-url", limits_runner.redis_url]
    table = subprocess.run([*base, limits_runner.name], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert table.returncode == 0, table.stderr
    assert f"runner {limits_runner.name}" in table.stdout
    assert "max_open_orders" in table.stdout and "perp:BTCUSDT" in table.stdout, table.stdout
    doc = subprocess.run([*base, "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert doc.returncode == 0, doc.stderr
    status = json.loads(doc.stdout)
    assert status["limits"]["max_open_orders"] == 3
    assert status["state"] == "active"
    missing = subprocess.run([*base, "nosuch"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert missing.returncode == 2 and "no runner named 'nosuch'" in missing.stderr


def test_a_risk_table_for_an_unserved_instrument_stops_the_start(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(tmp_path, "doge", '[risk.instruments."perp:DOGEUSDT"]\nmax_order_qty = "1"\n')
    runner = start_runner(_db(redis_server.url, 4), tmp_path, f"doge-{os.getpid()}", "--config", str(cfg))
    assert runner.proc.wait(timeout=60) == 2
    errors = [ln for ln in runner.log.read_text().splitlines() if ln.startswith("runner: error:")]
    assert len(errors) == 1 and "binance:perp:DOGEUSDT is not an instrument this runner serves" in errors[0], errors


async def test_orders_in_flight_when_halted_are_cancelled_when_they_land(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Orders still PENDING (sent, not yet acknowledged) when HALTED begins are not in the
    cancel-all's list; each is cancelled as soon as the venue says it rests."""
    import asyncio

    url = _db(redis_server.url, 3)
    runner = start_runner(url, tmp_path, f"inflight-{os.getpid()}")
    try:
        runner.record()
        async with ZmqRouter(url) as router:
            await router.wait_for(Exchange.BINANCE, timeout_s=30)
            inst, ref = await _ref(router, BTC)
            qty = _min_qty(inst, ref)
            prices = [_passive(ref, Side.BUY, f"0.0{i}", inst.tick_size) for i in range(2, 7)]
            # the submits reach the order actor before the halt: all are in flight when it lands
            *orders, reply = await asyncio.gather(
                *(_limit(router, BTC, Side.BUY, qty, p) for p in prices),
                router.set_trading_state(Exchange.BINANCE, TradingState.HALTED, reason="in flight"),
            )
            assert isinstance(reply, TradingStateReply) and reply.state is TradingState.HALTED
            assert all(isinstance(o, Order) for o in orders)
            await eventually(lambda: _no_open(router), timeout=15, what="every landed order cancelled")
            for o in orders:
                final = await router.get_order(BTC, client_id=o.client_id)
                assert final.status is OrderStatus.CANCELED, final
    finally:
        runner.stop()
