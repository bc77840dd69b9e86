"""The rest of the pre-trade risk gate's limits over real processes (docs/risk.md): leverage,
concentration, max open positions, the all-clients order rate, and the drawdown trip.

Same shape as ``test_risk.py`` (whose helpers this file uses): the order just inside a limit
passes, the one crossing it is refused with ``risk_rejected`` naming the limit and its numbers,
and the refusal is counted in the runner's status. Limits that depend on the account (leverage,
concentration, open positions) are set at run time by an admin call from what the runner
reports (a tightening, always accepted), since equity and exposure follow the simulator's prices.
Each limit gets a runner of its own (started together, one Redis database each), so one test's
orders and trips never reach another's.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import pytest

from strategy_client.errors import RiskRejected
from strategy_client.model import Exchange, InstrumentKey, MarketKind, RiskEventKind, Side, TimeInForce, TradingState
from strategy_client.router import ZmqRouter
from strategy_client.wire.risk import RiskStatus

from ..helpers import eventually
from .conftest import RunnerProc, start_runner
from .test_risk import (
    BTC,
    ETH,
    _cancel_open,
    _config,
    _db,
    _down,
    _gone,
    _limit,
    _market,
    _min_qty,
    _mkt,
    _passive,
    _ref,
    _refused,
)

# One runner per limit family; the account-dependent limits are set at run time by the tests.
CONFIGS = {
    "lev": "[risk]\nmax_open_orders = 50\n",
    "conc": "[risk]\nmax_open_orders = 50\n",
    "pos": "[risk]\nmax_open_orders = 50\n",
    "rate": "[risk]\norders_per_minute = 3\n",
    "dd": '[risk]\nmax_drawdown = "2000"\n',
}
DBS = {"lev": 9, "conc": 10, "pos": 11, "rate": 12, "dd": 13}
SPOT_BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)

_NUMBERS = re.compile(r"limit (\S+), requested (\S+), current (\S+)")


@pytest.fixture(scope="module")
def runners(redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunnerProc]]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("risk-more")
    started: dict[str, RunnerProc] = {}
    try:
        for name, text in CONFIGS.items():  # all start at once, then each is waited for
            cfg = _config(tmp, name, text)
            url = _db(redis_server.url, DBS[name])
            started[name] = start_runner(url, tmp, f"rm-{name}-{os.getpid()}", "--config", str(cfg))
        for rp in started.values():
            rp.record(timeout=90)
        yield started
    finally:
        for rp in started.values():
            rp.stop()


@asynccontextmanager
async def _routed(rp: RunnerProc) -> AsyncIterator[ZmqRouter]:
    """A router on one runner that cancels what its test left open."""
    async with ZmqRouter(rp.redis_url) as router:
        await router.wait_for(Exchange.BINANCE, timeout_s=30)
        try:
            yield router
        finally:
            await _cancel_open(router)


@pytest.fixture
async def lev(runners: dict[str, RunnerProc]) -> AsyncIterator[ZmqRouter]:
    async with _routed(runners["lev"]) as r:
        yield r


@pytest.fixture
async def conc(runners: dict[str, RunnerProc]) -> AsyncIterator[ZmqRouter]:
    async with _routed(runners["conc"]) as r:
        yield r


@pytest.fixture
async def pos(runners: dict[str, RunnerProc]) -> AsyncIterator[ZmqRouter]:
    async with _routed(runners["pos"]) as r:
        yield r


def _numbers(exc: RiskRejected) -> tuple[Decimal, Decimal, Decimal]:
    found = _NUMBERS.search(str(exc))
    assert found is not None, str(exc)
    limit, requested, current = (Decimal(g) for g in found.groups())
    return limit, requested, current


async def _status(router: ZmqRouter, *, hwm: bool = False) -> RiskStatus:
    """The runner's risk status once it can value the account (equity and gross exposure known;
    with ``hwm``, the day's high-water mark too: the one-second risk tick sets it)."""

    async def ready() -> RiskStatus | None:
        status = await router.get_risk_status(Exchange.BINANCE)
        if status.equity is None or status.gross_exposure is None:
            return None
        return None if hwm and status.high_water_mark is None else status

    return await eventually(ready, timeout=20, what="equity and gross exposure")


async def _sim(rp: RunnerProc, path: str, body: dict[str, object]) -> None:
    """POST to the embedded simulator's admin API (docs/simulator.md; the futures port)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rp.sim_port_base + 1}", timeout=10) as http:
        reply = await http.post(f"/_sim/{path}", json=body)
        assert reply.status_code == 200, reply.text


# --------------------------------------------------------------------------- leverage


async def test_max_leverage_on_worst_case_gross_exposure(lev: ZmqRouter) -> None:
    inst, ref = await _ref(lev, BTC)
    status = await _status(lev)
    assert status.equity is not None and status.gross_exposure is not None and status.equity > 0
    # room for 5000 USDT more gross exposure; the walk moves gross by tens of USDT meanwhile
    room = Decimal(5000)
    cap = ((status.gross_exposure + room) / status.equity).quantize(Decimal("0.000001"))
    after = await lev.set_risk_limit(Exchange.BINANCE, "max_leverage", str(cap))
    assert after.limits.max_leverage == cap
    price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
    inside = _down(room * Decimal("0.8") / ref, inst.step_size)
    await _limit(lev, BTC, Side.BUY, inside, price)  # worst case +80 % of the room: passes
    # a resting buy counts as filled: another 40 % of the room crosses the cap
    more = _down(room * Decimal("0.4") / ref, inst.step_size)
    exc = await _refused(_limit(lev, BTC, Side.BUY, more, price), "max_leverage")
    limit, requested, current = _numbers(exc)
    assert limit == cap and requested > cap >= current, str(exc)
    assert "gross exposure" in str(exc) and "equity" in str(exc)
    # an order on the other side does not grow the worst case (max of the two sides): passes
    await _limit(lev, BTC, Side.SELL, inside, _passive(ref, Side.SELL, "0.03", inst.tick_size))
    counted = await lev.get_risk_status(Exchange.BINANCE)
    assert counted.refused.get("max_leverage") == 1, counted.refused


# --------------------------------------------------------------------------- concentration


async def test_max_concentration_of_one_instrument(conc: ZmqRouter) -> None:
    inst, ref = await _ref(conc, ETH)
    status = await _status(conc)
    gross = status.gross_exposure
    assert gross is not None and gross > 0  # the spot holdings (BTC, ETH) are exposure already
    share = Decimal("0.05")
    after = await conc.set_risk_limit(Exchange.BINANCE, "max_concentration", str(share), instrument="perp:ETHUSDT")
    row = next(i for i in after.instruments if i.key == ETH)
    assert row.limits.max_concentration == share
    price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
    # 4 % of today's gross: 0.04 / 1.04 ≈ 3.8 % of the new gross, inside 5 %
    inside = _down(gross * Decimal("0.04") / ref, inst.step_size)
    await _limit(conc, ETH, Side.BUY, inside, price)
    # another 3 %: 0.07 / 1.07 ≈ 6.5 % > 5 %
    more = _down(gross * Decimal("0.03") / ref, inst.step_size)
    exc = await _refused(_limit(conc, ETH, Side.BUY, more, price), "max_concentration")
    assert f"on {ETH}" in str(exc) and "of gross" in str(exc), str(exc)
    limit, requested, current = _numbers(exc)
    assert limit == share and requested > share > current, str(exc)
    assert Decimal("0.06") < requested < Decimal("0.07"), str(exc)
    # the limit is ETH perp's own: BTC perp takes the same notional
    btc, btc_ref = await _ref(conc, BTC)
    big = _down(gross * Decimal("0.07") / btc_ref, btc.step_size)
    await _limit(conc, BTC, Side.BUY, big, _passive(btc_ref, Side.BUY, "0.03", btc.tick_size))
    counted = await conc.get_risk_status(Exchange.BINANCE)
    assert counted.refused.get("max_concentration") == 1, counted.refused


# --------------------------------------------------------------------------- open positions


async def test_max_open_positions(pos: ZmqRouter) -> None:
    inst, ref = await _ref(pos, BTC)
    eth, eth_ref = await _ref(pos, ETH)
    status = await _status(pos)
    held = status.open_positions  # the spot balances (BTC, ETH) are positions of their instruments
    assert held == sum(1 for i in status.instruments if i.position), status.instruments
    limit = held + 1
    await pos.set_risk_limit(Exchange.BINANCE, "max_open_positions", str(limit))
    qty = _min_qty(inst, ref)
    await _market(pos, BTC, Side.BUY, qty)  # opens the position that reaches the limit: passes
    await eventually(lambda: _positions(pos, limit), timeout=15, what=f"{limit} open positions")
    eth_qty = _min_qty(eth, eth_ref)
    eth_price = _passive(eth_ref, Side.BUY, "0.03", eth.tick_size)
    exc = await _refused(_limit(pos, ETH, Side.BUY, eth_qty, eth_price), "max_open_positions")
    assert f"on {ETH}: limit {limit}, requested {limit + 1}, current {limit}" in str(exc), str(exc)
    # growing a position that is already open opens nothing: passes
    await _limit(pos, BTC, Side.BUY, qty, _passive(ref, Side.BUY, "0.03", inst.tick_size))
    # closing one frees a slot
    await _market(pos, BTC, Side.SELL, qty)
    await eventually(lambda: _positions(pos, held), timeout=15, what=f"{held} open positions")
    await _limit(pos, ETH, Side.BUY, eth_qty, eth_price)
    counted = await pos.get_risk_status(Exchange.BINANCE)
    assert counted.refused.get("max_open_positions") == 1, counted.refused


async def _positions(router: ZmqRouter, n: int) -> bool:
    return (await router.get_risk_status(Exchange.BINANCE)).open_positions == n


# --------------------------------------------------------------------------- total rate


async def test_total_rate_throttle_counts_every_client(runners: dict[str, RunnerProc]) -> None:
    rp = runners["rate"]
    async with _routed(rp) as a, _routed(rp) as b:
        inst, ref = await _ref(a, ETH)
        price = _passive(ref, Side.BUY, "0.03", inst.tick_size)
        qty = _min_qty(inst, price)

        async def ioc(router: ZmqRouter) -> None:  # far from the market: expires, leaves nothing open
            order = await _limit(router, ETH, Side.BUY, qty, price, tif=TimeInForce.IOC)
            await eventually(lambda: _gone(router, order), timeout=10, what="IOC expired")

        await ioc(a)
        await ioc(a)
        await ioc(b)  # the third in the minute, from another client: exactly the limit, passes
        for router in (b, a):  # each client's own window has room; the total has none
            exc = await _refused(_limit(router, ETH, Side.BUY, qty, price, tif=TimeInForce.IOC), "orders_per_minute")
            assert "limit 3, requested 4, current 3" in str(exc), str(exc)
        status = await a.get_risk_status(Exchange.BINANCE)
        assert status.refused.get("orders_per_minute") == 2, status.refused
        assert status.orders_last_minute == 3 and status.passed == 3, status


# --------------------------------------------------------------------------- drawdown


async def test_drawdown_from_the_days_high_water_mark_halts(runners: dict[str, RunnerProc]) -> None:
    """Equity falls through real fills (a perp long bought at the ask, taker fees) and the
    simulator's price control (``/_sim/engine/move-index``): 30 % of the 2000 USDT limit keeps
    trading on; 150 % trips HALTED within the runner's one-second risk tick."""
    rp = runners["dd"]
    async with _routed(rp) as router:
        inst, ref = await _ref(router, BTC)
        sub = await router.subscribe(kinds="risk", exchange=Exchange.BINANCE)
        try:
            start = await _status(router, hwm=True)
            assert start.state is TradingState.ACTIVE and start.high_water_mark is not None
            long_qty = _down(Decimal("0.2"), inst.step_size)
            await _market(router, BTC, Side.BUY, long_qty)
            await eventually(lambda: _btc_long(router, long_qty), timeout=15, what="BTC perp long")
            # BTC exposure: the perp long and the spot balance of 1 BTC; only the spot part is
            # counted below (the perp's unrealised PnL reaches equity with the account snapshot)
            spot_btc = next(i.position for i in start.instruments if i.key == SPOT_BTC)
            assert spot_btc > 0
            limit = Decimal(2000)
            step = -(limit * Decimal("0.3")) / ((spot_btc + long_qty) * ref) * 100
            await _sim(rp, "engine/move-index", {"underlying": "BTC", "pct": float(step)})
            moved = await eventually(lambda: _below(router, ref), timeout=15, what="BTC reference moved down")
            assert moved is not None
            # still ACTIVE: an order inside the drawdown limit passes (a sell that opens a short:
            # it rests above the market while the price falls, so only the trip can cancel it)
            inside = await _status(router)
            assert inside.state is TradingState.ACTIVE, inside.state_reason
            assert inside.high_water_mark is not None and inside.equity is not None
            assert inside.high_water_mark - inside.equity < limit
            await _limit(router, BTC, Side.SELL, 2 * long_qty, _passive(moved, Side.SELL, "0.03", inst.tick_size))
            # the rest: spot alone loses 1.5 × the limit from the high-water mark
            step2 = -(limit * Decimal("1.5")) / (spot_btc * moved) * 100
            await _sim(rp, "engine/move-index", {"underlying": "BTC", "pct": float(step2)})
            halted = await eventually(
                lambda: _halted(router), timeout=15, what="HALTED by the drawdown (the risk tick)"
            )
            assert "drawdown" in halted.state_reason, halted.state_reason
            assert halted.high_water_mark is not None and halted.equity is not None
            assert halted.high_water_mark - halted.equity >= limit
            # the trip cancelled the resting order
            await eventually(lambda: _none_open(router), timeout=15, what="open orders cancelled by the trip")
            # while the drawdown lasts, an order is refused naming it and its numbers
            exc = await _refused(router.submit_order(_mkt(BTC, Side.BUY, long_qty)), "drawdown")
            lim, requested, current = _numbers(exc)
            assert lim == limit and requested >= limit and requested == current, str(exc)
            assert "high-water mark" in str(exc)
            counted = await router.get_risk_status(Exchange.BINANCE)
            assert counted.refused.get("drawdown", 0) >= 1, counted.refused

            async def halted_event() -> bool:
                item = await sub.get(0.2)
                event = getattr(item, "event", None)
                risk = getattr(event, "risk", None)
                return (
                    risk is not None
                    and risk.kind is RiskEventKind.STATE
                    and risk.state is TradingState.HALTED
                    and risk.breach is not None
                    and risk.breach.limit.value == "drawdown"
                )

            await eventually(halted_event, timeout=10, what="the HALTED risk event naming the drawdown")
        finally:
            await sub.close()


async def _btc_long(router: ZmqRouter, qty: Decimal) -> bool:
    p = await router.get_position(BTC)
    return p is not None and p.size == qty


async def _below(router: ZmqRouter, before: Decimal) -> Decimal | None:
    ref = await router.get_reference_price(BTC)
    return ref.price if ref is not None and ref.price < before * Decimal("0.999") else None


async def _halted(router: ZmqRouter) -> RiskStatus | None:
    status = await router.get_risk_status(Exchange.BINANCE)
    return status if status.state is TradingState.HALTED else None


async def _none_open(router: ZmqRouter) -> bool:
    return not await router.get_open_orders(Exchange.BINANCE)
