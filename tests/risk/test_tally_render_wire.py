"""Open order tally, status rendering (table and JSON), events and wire shapes, counters, the outbox."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from exchange_runner.risk import OpenOrderTally, RiskGate, RiskRejected, render_risk_json, render_risk_table
from strategy_client.model import LimitName, OrderStatus, RiskBreach, RiskEvent, RiskEventKind, Side, TradingState
from strategy_client.wire import encode
from strategy_client.wire.risk import RiskGateEvent, RiskStatus, RiskStatusReply

from .builders import BTC_P, BTC_S, ETH_P, EX, KEYS, Clocks, D, gate, inputs, limit, open_order

BUY, SELL = Side.BUY, Side.SELL

statuses = st.sampled_from(list(OrderStatus))


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),  # client id
            st.sampled_from(KEYS),
            st.sampled_from([BUY, SELL]),
            st.integers(1, 20),  # qty
            st.integers(0, 20),  # filled
            statuses,
        ),
        max_size=60,
    )
)
def test_tally_matches_a_recount(updates: list[tuple[int, object, Side, int, int, OrderStatus]]) -> None:
    """Whatever order the updates come in, the tally equals a recount of the latest state of each order."""
    tally = OpenOrderTally()
    latest = {}
    for cid, key, side, qty, reported, status in updates:
        filled = min(reported, qty)
        order = open_order(f"c{cid}", key, side, str(qty), filled=str(filled), status=status)  # type: ignore[arg-type]
        tally.update(order)
        latest[order.client_id] = order
    counted = [o for o in latest.values() if (o.status.is_open or o.status.is_unresolved) and o.remaining_qty > 0]
    assert tally.open_order_count() == len(counted)
    for key in KEYS:
        for side in (BUY, SELL):
            want = sum((o.remaining_qty for o in counted if o.key == key and o.side is side), Decimal(0))
            assert tally.open_qty(key, side) == want  # type: ignore[arg-type]


def test_tally_follows_an_order_through_its_life() -> None:
    t = OpenOrderTally()
    t.update(open_order("a", BTC_P, BUY, "2", status=OrderStatus.PENDING))
    assert t.open_qty(BTC_P, BUY) == 2 and t.open_order_count() == 1
    t.update(open_order("a", BTC_P, BUY, "2", filled="0.5", status=OrderStatus.PARTIALLY_FILLED))
    assert t.open_qty(BTC_P, BUY) == D("1.5")
    t.update(open_order("a", BTC_P, BUY, "2", filled="0.5", status=OrderStatus.UNKNOWN))
    assert t.open_qty(BTC_P, BUY) == D("1.5")  # unresolved: may still be live, so it counts
    t.update(open_order("a", BTC_P, BUY, "2", filled="2", status=OrderStatus.FILLED))
    assert t.open_qty(BTC_P, BUY) == 0 and t.open_order_count() == 0
    t.update(open_order("b", BTC_S, SELL, "1"))
    t.forget("b")
    t.forget("never-seen")
    assert t.open_order_count() == 0


def _busy_gate() -> RiskGate:
    inp = inputs(positions={BTC_P: "0.5", ETH_P: "-4"})
    inp.tally.update(open_order("o1", BTC_P, BUY, "0.25"))
    g = gate(
        {
            "max_open_orders": 10,
            "orders_per_second": 5,
            "max_leverage": "3",
            "daily_loss_limit": "1000",
            "max_drawdown": "2000",
            "defaults": {"max_order_qty": "1", "price_collar": "0.05"},
            "instruments": {"perp:BTCUSDT": {"max_position_qty": "2"}},
        },
        inp,
        Clocks(),
    )
    g.check(limit(BTC_P, BUY, "0.1", "50000"))
    try:
        g.check(limit(BTC_P, BUY, "5", "50000"))
    except RiskRejected:
        pass
    g.record_realized(D(-120), g.day_start_ms + 1)
    return g


def test_status_table_shows_state_limits_usage_and_counters() -> None:
    g = _busy_gate()
    status = g.status()
    text = render_risk_table(status)
    lines = text.splitlines()
    assert lines[0] == "risk gate on binance: ACTIVE"
    assert "realised -120" in lines[1] and "equity 100000" in lines[1]
    assert any(line.split() == ["max_open_orders", "10", "1"] for line in lines)
    assert any(line.split() == ["daily_loss_limit", "1000", "120"] for line in lines)
    assert any(line.split() == ["orders_per_second", "5", "1"] for line in lines)
    btc = next(line for line in lines if line.startswith("binance:perp:BTCUSDT"))
    # position, open buys/sells, reference, worst-case exposure (0.5 + 0.25 buys) × 50000, limits
    assert btc.split()[:6] == ["binance:perp:BTCUSDT", "0.5", "0.25/0", "50000", "37500", "1"]
    assert lines[-1] == "decisions: 2 checked, 1 passed; refused: max_order_qty 1"
    assert status.gross_exposure == D(37500) + D(4) * D(2500)


def test_status_json_round_trips() -> None:
    status = _busy_gate().status()
    back = msgspec.json.decode(render_risk_json(status), type=RiskStatus)
    assert back == status
    assert back.refused[LimitName.MAX_ORDER_QTY.value] == 1


def test_risk_reply_and_event_encode_on_the_wire() -> None:
    status = _busy_gate().status()
    raw = encode(RiskStatusReply(status=status))
    assert msgspec.msgpack.decode(raw, type=RiskStatusReply).status == status
    ev = RiskGateEvent(
        exchange=EX,
        risk=RiskEvent(
            kind=RiskEventKind.REFUSED,
            state=TradingState.ACTIVE,
            breach=RiskBreach(limit=LimitName.PRICE_COLLAR, key=BTC_P, limit_value=D(1), requested=D(2), current=D(1)),
        ),
    )
    assert msgspec.msgpack.decode(encode(ev), type=RiskGateEvent) == ev


def test_halted_table_says_why() -> None:
    g = gate()
    g.set_state(TradingState.HALTED, "kill switch", by="ops")
    assert render_risk_table(g.status()).splitlines()[0] == "risk gate on binance: HALTED (ops: kill switch)"


def test_outbox_is_bounded_and_keeps_state_changes() -> None:
    g = gate({"defaults": {"max_order_qty": "1"}})
    g.max_events = 4
    g.set_state(TradingState.REDUCING)
    g.set_state(TradingState.ACTIVE)
    for _ in range(10):
        try:
            g.check(limit(BTC_P, BUY, "2", "50000"))
        except RiskRejected:
            pass
    events = g.drain_events()
    assert len(events) == 4
    assert [e.kind for e in events[:2]] == [RiskEventKind.STATE, RiskEventKind.STATE]
    assert g.events_dropped == 8
    assert g.refused[LimitName.MAX_ORDER_QTY] == 10  # counted even when the event was dropped


def test_every_decision_is_counted_per_limit() -> None:
    g = gate({"defaults": {"max_order_qty": "1", "price_collar": "0.01"}})
    g.check(limit(BTC_P, BUY, "1", "50000"))
    for req in (limit(BTC_P, BUY, "2", "50000"), limit(BTC_P, BUY, "1", "60000"), limit(BTC_S, SELL, "1", "40000")):
        try:
            g.check(req)
        except RiskRejected:
            pass
    assert (g.checked, g.passed) == (4, 1)
    assert g.refused[LimitName.MAX_ORDER_QTY] == 1 and g.refused[LimitName.PRICE_COLLAR] == 2
    assert set(g.refused) == set(LimitName)


def test_metric_families_expose_the_counters() -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.registry import Collector

    from exchange_runner.risk import risk_metric_families

    g = _busy_gate()

    class _C(Collector):
        def collect(self):  # type: ignore[no-untyped-def]
            return risk_metric_families(g)

    reg = CollectorRegistry()
    reg.register(_C())
    text = generate_latest(reg).decode()
    assert "tradebus_risk_checks_total 2.0" in text
    assert "tradebus_risk_passed_total 1.0" in text
    assert 'tradebus_risk_refused_total{limit="max_order_qty"} 1.0' in text
    assert 'tradebus_risk_state{state="active"} 1.0' in text
    assert "tradebus_risk_day_realized_pnl -120.0" in text


def test_risk_messages_join_the_protocol_unions() -> None:
    """What messages.py will do (docs/risk.md): the risk shapes share the tag fields, so a union
    of the existing messages and these decodes either."""
    from strategy_client.wire import PositionEvent, SubmitOrder
    from strategy_client.wire.risk import GetRiskStatus, SetTradingState

    request_type = SubmitOrder | GetRiskStatus | SetTradingState
    raw = msgspec.msgpack.encode(SetTradingState(state=TradingState.HALTED, reason="kill switch"))
    assert msgspec.msgpack.decode(raw, type=request_type) == SetTradingState(
        state=TradingState.HALTED, reason="kill switch"
    )
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(GetRiskStatus()), type=request_type) == GetRiskStatus()
    event_type = PositionEvent | RiskGateEvent
    ev = RiskGateEvent(exchange=EX, risk=RiskEvent(kind=RiskEventKind.DAY, state=TradingState.ACTIVE))
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(ev), type=event_type) == ev


def test_event_one_liners() -> None:
    g = gate({"daily_loss_limit": "100", "defaults": {"max_order_qty": "1"}})
    try:
        g.check(limit(BTC_P, BUY, "2", "50000", cid="abc"))
    except RiskRejected:
        pass
    g.record_realized(D(-100), g.day_start_ms)
    lines = [e.one_line() for e in g.drain_events()]
    assert lines == [
        "refused [abc]: risk: max_order_qty on binance:perp:BTCUSDT: limit 1, requested 2, current 0",
        "risk: ACTIVE -> HALTED (tripped: daily_loss) - risk: daily_loss: limit 100, requested 100, current 0"
        " (realised loss today)",
    ]


def test_state_events_are_never_dropped_even_past_the_bound() -> None:
    g = gate()
    g.max_events = 2
    for state in (TradingState.REDUCING, TradingState.ACTIVE, TradingState.HALTED, TradingState.ACTIVE):
        g.set_state(state)
    assert [e.state for e in g.drain_events()] == [
        TradingState.REDUCING,
        TradingState.ACTIVE,
        TradingState.HALTED,
        TradingState.ACTIVE,
    ]
    assert g.events_dropped == 0
