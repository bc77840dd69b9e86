"""The engine against a scripted CoreApi (a fake at the boundary): partial fills, a lost runner.

What a venue does is scripted per order: how much of it fills, in how many events, and whether
the runner answers. Everything above the CoreApi — engine, policies, machine, ledger — is real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from strategies.arbitrage.decision import DecisionConfig, DecisionPolicy
from strategies.arbitrage.engine import ArbitrageEngine
from strategies.arbitrage.execution import ExecutionConfig, ExecutionPolicy, FirstLeg
from strategies.arbitrage.margin import MarginConfig, MarginPolicy
from strategies.arbitrage.oracle import OracleConfig, PriceOracle
from strategies.arbitrage.pair import ArbPair, FeeRates, Leg, LegId
from strategies.arbitrage.state import ArbState
from strategy_client.errors import NotFound, RequestTimeout, RunnerUnavailable, VenueRejected
from strategy_client.model import (
    AccountSnapshot,
    Balance,
    BookLevel,
    Exchange,
    Fill,
    FundingRate,
    MarginBalance,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
)
from strategy_client.wire import BookEvent, FundingEvent, OrderEvent, OrderEventKind

from ..helpers import eventually
from .builders import PERP, SPOT, instrument

D = Decimal


def book(key: Any, mid: Decimal) -> OrderBook:
    now = time.time_ns()
    return OrderBook(
        key=key,
        bids=tuple(BookLevel(mid - D(i + 1), D(5)) for i in range(5)),
        asks=tuple(BookLevel(mid + D(i + 1), D(5)) for i in range(5)),
        venue_ts_ms=now // 1_000_000,
        local_ts_ns=now,
        sequence=now,
    )


class ScriptedApi:
    """``fill_ratio[key]``: the share of each order that fills; ``lost``: keys whose submit the
    runner never answers (it went away), though the order did reach the venue; ``down_for``:
    how many queries fail before the runner is back."""

    def __init__(self, emit: Callable[[Any], None]) -> None:
        self.emit = emit
        self.fill_ratio: dict[Any, Decimal] = {}
        self.lost: set[Any] = set()
        self.down_for = 0
        self.orders: dict[str, Order] = {}
        self.submitted: list[OrderRequest] = []
        self.trade = 0

    async def submit_order(self, order: OrderRequest, *, timeout_s: float | None = None) -> Order:
        self.submitted.append(order)
        price = D(100_010) if order.key == SPOT else D(100_090)
        qty = (order.qty * self.fill_ratio.get(order.key, D(1))).quantize(D("0.001"))
        status = OrderStatus.FILLED if qty == order.qty else OrderStatus.EXPIRED
        placed = Order(
            key=order.key,
            client_id=order.client_id,
            venue_id=f"v{len(self.orders)}",
            side=order.side,
            type=order.type,
            tif=order.tif,
            price=order.price,
            qty=order.qty,
            filled_qty=qty,
            avg_price=price if qty else None,
            status=status,
        )
        self.orders[order.client_id] = placed
        if order.key in self.lost:
            raise RunnerUnavailable("runner went away")  # the order reached the venue; no events
        if qty:
            self.trade += 1
            fill = Fill(
                key=order.key,
                client_id=order.client_id,
                venue_id=placed.venue_id,
                trade_id=str(self.trade),
                side=order.side,
                price=price,
                qty=qty,
                fee=qty * price * D("0.0005"),
                fee_asset="USDT",
                is_maker=False,
                ts_ms=1,
            )
            kind = OrderEventKind.FILL if status is OrderStatus.FILLED else OrderEventKind.PARTIAL_FILL
            self.emit(OrderEvent(kind=kind, order=placed, fill=fill))
        if status is OrderStatus.EXPIRED:
            self.emit(OrderEvent(kind=OrderEventKind.EXPIRE, order=placed))
        return placed

    async def get_order(
        self, key: Any, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order:
        if self.down_for > 0:
            self.down_for -= 1
            raise RunnerUnavailable("runner restarting")
        if client_id not in self.orders:
            raise NotFound(client_id)
        return self.orders[client_id]

    async def cancel_order(
        self, key: Any, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order:
        raise NotFound("already final")

    async def set_leverage(self, key: Any, leverage: int, *, timeout_s: float | None = None) -> int:
        return leverage

    async def get_account_snapshot(self, exchange: Exchange, *, timeout_s: float | None = None) -> AccountSnapshot:
        return AccountSnapshot(
            exchange=exchange,
            balances=(Balance(asset="USDT", free=D(10**7)),),
            margin=(
                MarginBalance(
                    asset="USDT", wallet_balance=D(10**7), margin_balance=D(10**7), available_balance=D(10**7)
                ),
            ),
        )


def make_engine(size: str = "0.05") -> tuple[ArbitrageEngine, ScriptedApi, ArbPair]:
    pair = ArbPair(
        # this fake charges every fee in USDT (fakevenue.py charges spot buys in BTC, as venues do)
        a=Leg(id=LegId.A, instrument=instrument(SPOT), fees=FeeRates(taker=D("0.001"), buy_fee_in_base=False)),
        b=Leg(id=LegId.B, instrument=instrument(PERP), fees=FeeRates()),
    )
    holder: list[ArbitrageEngine] = []
    api = ScriptedApi(lambda ev: holder[0].on_event(ev))  # noqa: PLW0108 - holder is filled later
    engine = ArbitrageEngine(
        api,  # type: ignore[arg-type]
        name="unit",
        pair_for=lambda now: pair,
        size=D(size),
        max_positions=1,
        oracle=PriceOracle(OracleConfig()),
        decision=DecisionPolicy(DecisionConfig(entry_threshold_bps=D(1))),
        execution=ExecutionPolicy(ExecutionConfig(first_leg=FirstLeg.A, hedge_retries=1)),
        margin=MarginPolicy(MarginConfig()),
    )
    holder.append(engine)
    return engine, api, pair


async def enter(engine: ArbitrageEngine) -> None:
    await engine.refresh_accounts({Exchange.BINANCE})
    engine.on_event(BookEvent(book=book(SPOT, D(100_000))))
    engine.on_event(BookEvent(book=book(PERP, D(100_600))))  # 60 bps of basis: enter
    now_ms = time.time_ns() // 1_000_000
    engine.on_event(
        FundingEvent(
            funding=FundingRate(
                key=PERP,
                rate=D("0.0001"),
                interval_ms=8 * 3_600_000,
                next_funding_ts_ms=now_ms + 3_600_000,
                mark_price=D(100_600),
                index_price=D(100_000),
                ts_ms=now_ms,
            )
        )
    )
    engine.evaluate()
    assert engine.busy, engine.last_decision


async def test_a_partial_fill_is_hedged_with_exactly_the_filled_quantity() -> None:
    engine, api, _ = make_engine("0.05")
    api.fill_ratio[SPOT] = D("0.4")  # the spot leg fills 0.02 of 0.05, the rest expires
    await enter(engine)
    await eventually(lambda: not engine.busy, timeout=10, what="entry settled")
    (slot,) = engine.slots.values()
    assert slot.machine.state is ArbState.HEDGED
    assert slot.machine.a_base == slot.machine.b_base == D("0.02")
    hedge = [o for o in api.submitted if o.key == PERP]
    assert [o.qty for o in hedge] == [D("0.02")]


async def test_a_runner_lost_mid_entry_is_reconciled_never_resent() -> None:
    engine, api, _ = make_engine("0.05")
    api.lost.add(PERP)  # the hedge reaches the venue, then the runner goes away before replying
    api.down_for = 3  # and answers queries again after three tries
    await enter(engine)
    await eventually(lambda: not engine.busy, timeout=15, what="entry settled")
    (slot,) = engine.slots.values()
    assert slot.machine.state is ArbState.HEDGED and not slot.machine.unhedged
    assert len([o for o in api.submitted if o.key == PERP]) == 1  # looked up by client id, never resent
    reconciled = [t for t in engine.ledger.trades if "reconciled" in t.trade_id]
    assert len(reconciled) == 1 and reconciled[0].qty == D("0.05")
    assert engine.ledger.breakdown().adds_up


async def test_stop_leaves_no_naked_leg_and_exits_hedged_positions() -> None:
    engine, _api, _ = make_engine("0.05")
    await enter(engine)
    await eventually(lambda: not engine.busy, timeout=10, what="entry settled")
    left = await asyncio.wait_for(engine.stop(close_positions=True), 20)
    assert left == []
    (slot,) = engine.slots.values()
    assert slot.machine.state is ArbState.CLOSED and slot.machine.flat
    assert msgspec.to_builtins(engine.ledger.breakdown())["total"] is not None


async def test_leverage_at_start_is_asked_again_while_the_failure_is_retryable(monkeypatch: Any) -> None:
    """A runner restarting (or its rate-limit budget parking the call) at the strategy's start:
    setting leverage is idempotent, so a retryable failure is asked again; a refusal stands."""
    monkeypatch.setattr("strategies.arbitrage.engine.asyncio.sleep", _no_sleep)
    engine, api, pair = make_engine()
    answers: list[Exception | int] = [RequestTimeout("no reply"), RunnerUnavailable("restarting"), 3]

    async def flaky(key: Any, leverage: int, *, timeout_s: float | None = None) -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(api, "set_leverage", flaky)
    await engine.start([pair])
    assert answers == []  # two retries, then the answer
    answers[:] = [VenueRejected("leverage not allowed")]
    with pytest.raises(VenueRejected):
        await engine.start([pair])


async def _no_sleep(_s: float) -> None:
    return None
