"""Alerts (issue 21) against a real local HTTP receiver: the webhook JSON Slack and Discord read,
Telegram's bot API path and body, the rate limit (held-back alerts counted into the next message
and summarised), a failing sink, what triggers which alert, and `strategy alerts test` through
the real console script."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from strategies.alert_events import StrategyAlerts
from strategies.alerts import Alert, AlertConfig, Alerter, AlertKind, TelegramSink, WebhookSink, parse_kinds
from strategies.arbitrage.state import ArbEvent, ArbState, Transition
from strategy_client.model import (
    Exchange,
    Order,
    OrderStatus,
    OrderType,
    RiskEvent,
    RiskEventKind,
    Side,
    TimeInForce,
    TradingState,
)
from strategy_client.wire import OrderEvent, OrderEventKind, RiskGateEvent, RunnerStatusEvent

from .builders import PERP
from .receiver import Receiver

STRATEGY = shutil.which("strategy", path=str(Path(sys.executable).parent)) or "strategy"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _run_until(alerter: Alerter, receiver: Receiver, count: int) -> None:
    """Run the sender until ``count`` posts arrived and the queue is handled (sent or held back)."""
    task = asyncio.create_task(alerter.run())
    try:
        for _ in range(1000):
            if len(receiver.posts) >= count and alerter.pending == 0:
                return
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    raise AssertionError(f"{len(receiver.posts)} posts, wanted {count}: {receiver.texts()}")


async def test_webhook_and_telegram_bodies(receiver: Receiver) -> None:
    alerter = Alerter(
        [WebhookSink(receiver.url + "/services/T0/B0/secret"), TelegramSink("123:ABC", "-1001", receiver.url)],
        source="spotperp",
    )
    results = await alerter.send_now(Alert(AlertKind.FILL, "binance:perp:BTCUSDT sell 0.01 at 60000", "spotperp"))
    assert [r.ok for r in results] == [True, True], results
    hook, telegram = receiver.posts
    assert hook.path == "/services/T0/B0/secret"
    text = "[spotperp] fill: binance:perp:BTCUSDT sell 0.01 at 60000"
    assert hook.body["text"] == text and hook.body["content"] == text  # Slack reads text, Discord content
    assert hook.body["kind"] == "fill" and hook.body["source"] == "spotperp" and hook.body["ts_ms"] > 0
    assert telegram.path == "/bot123:ABC/sendMessage"
    assert telegram.body["chat_id"] == "-1001" and telegram.body["text"] == text
    # neither the webhook's secret path nor the bot token is ever shown
    assert all("secret" not in r.sink and "ABC" not in r.sink for r in results), results


async def test_failing_sink_is_reported_without_its_secret(receiver: Receiver) -> None:
    receiver.status = 404
    results = await Alerter([TelegramSink("999:TOKEN", "1", receiver.url)]).send_now(Alert(AlertKind.TEST, "x"))
    assert not results[0].ok and results[0].detail.startswith("HTTP 404"), results
    dead = await Alerter([WebhookSink("http://127.0.0.1:9/hook/abc")]).send_now(Alert(AlertKind.TEST, "x"))
    assert not dead[0].ok and "ConnectError" in dead[0].detail and "abc" not in dead[0].detail + dead[0].sink


async def test_rate_limit_holds_back_and_summarises(receiver: Receiver) -> None:
    clock = Clock()
    alerter = Alerter([WebhookSink(receiver.url + "/h")], burst=2, per_minute=60, clock=clock)
    for i in range(5):
        alerter.notify(AlertKind.FILL, f"fill {i}")
    alerter.notify(AlertKind.STALE_FEED, "stale")
    await _run_until(alerter, receiver, 2)
    assert receiver.texts() == ["[tradebus] fill: fill 0", "[tradebus] fill: fill 1"]
    assert alerter.suppressed == {"fill": 3, "stale_feed": 1}  # held back: the bucket is empty
    clock.now = 1.0  # one token a second at 60 a minute
    alerter.notify(AlertKind.EXIT, "closed")
    await _run_until(alerter, receiver, 3)
    assert receiver.texts()[2] == (
        "[tradebus] exit: closed (+4 more held back by the rate limit: fill 3, stale_feed 1)"
    )
    assert not alerter.suppressed


async def test_held_back_alerts_are_summarised_without_a_new_one(receiver: Receiver) -> None:
    clock = Clock()
    alerter = Alerter([WebhookSink(receiver.url + "/h")], burst=1, per_minute=60, clock=clock)
    alerter.notify(AlertKind.RISK, "halted")
    alerter.notify(AlertKind.FILL, "f1")
    alerter.notify(AlertKind.FILL, "f2")
    await _run_until(alerter, receiver, 1)
    clock.now = 5.0
    await _run_until(alerter, receiver, 2)
    assert receiver.texts()[1] == "[tradebus] fill: alerts held back (+2 more held back by the rate limit: fill 2)"


async def test_full_queue_drops_the_newest_and_says_so(receiver: Receiver) -> None:
    alerter = Alerter([WebhookSink(receiver.url + "/h")], burst=1000, per_minute=6000)
    for i in range(300):  # the queue holds 256
        alerter.notify(AlertKind.FILL, f"f{i}")
    assert alerter.dropped == 44
    await _run_until(alerter, receiver, 1)
    assert receiver.texts()[0] == "[tradebus] fill: f0 (44 dropped (queue full))"


def test_kinds_filter_and_config_errors() -> None:
    assert parse_kinds("all") == frozenset(AlertKind)
    assert parse_kinds("fill, risk") == {AlertKind.FILL, AlertKind.RISK}
    with pytest.raises(ValueError, match="unknown alert kind 'fills' \\(choose from fill, entry"):
        parse_kinds("fills")
    with pytest.raises(ValueError, match="not an http"):
        AlertConfig(webhooks=["hooks.slack.com/x"]).sinks({})
    with pytest.raises(ValueError, match="TRADEBUS_TELEGRAM_TOKEN"):
        AlertConfig(telegram_chat="1").sinks({})
    env = {"TRADEBUS_ALERT_WEBHOOK": "http://a/1, http://b/2", "TRADEBUS_TELEGRAM_TOKEN": "t"}
    sinks = AlertConfig(webhooks=["http://a/1"], telegram_chat="5").sinks(env)
    assert [s.name for s in sinks] == [
        "webhook http://a/…",
        "webhook http://b/…",
        "telegram chat 5 via https://api.telegram.org",
    ]
    only_fills = Alerter(sinks, kinds=[AlertKind.FILL])
    only_fills.notify(AlertKind.RISK, "x")
    only_fills.notify(AlertKind.FILL, "y")
    assert only_fills._queue.qsize() == 1


def _order(kind: OrderEventKind, client_id: str, filled: str, status: OrderStatus) -> OrderEvent:
    order = Order(
        key=PERP,
        client_id=client_id,
        venue_id="1",
        side=Side.SELL,
        type=OrderType.MARKET,
        tif=TimeInForce.IOC,
        price=None,
        qty=Decimal("0.010"),
        filled_qty=Decimal(filled),
        avg_price=Decimal("60000.5") if Decimal(filled) > 0 else None,
        status=status,
    )
    return OrderEvent(kind=kind, order=order)


def test_what_triggers_which_alert() -> None:
    got: list[tuple[AlertKind, str]] = []
    ours = {"sp-1-hg2", "sp-1-en1", "sp-1-ex3"}
    alerts = StrategyAlerts(lambda k, t: got.append((k, t)), ours.__contains__, "spotperp")
    alerts.on_item(_order(OrderEventKind.PARTIAL_FILL, "sp-1-hg2", "0.004", OrderStatus.PARTIALLY_FILLED))
    alerts.on_item(_order(OrderEventKind.FILL, "sp-1-hg2", "0.010", OrderStatus.FILLED))
    alerts.on_item(_order(OrderEventKind.FILL, "sp-1-hg2", "0.010", OrderStatus.FILLED))  # a duplicate event
    alerts.on_item(_order(OrderEventKind.FILL, "someone-else", "0.010", OrderStatus.FILLED))
    alerts.on_item(_order(OrderEventKind.CANCEL, "sp-1-ex3", "0.006", OrderStatus.CANCELED))
    alerts.on_item(_order(OrderEventKind.UNKNOWN, "sp-1-en1", "0", OrderStatus.UNKNOWN))
    assert got == [
        (AlertKind.FILL, "spotperp: binance:perp:BTCUSDT sell 0.010 at 60000.5 (sp-1-hg2)"),
        (AlertKind.FILL, "spotperp: binance:perp:BTCUSDT sell 0.006 of 0.010 (rest cancel) at 60000.5 (sp-1-ex3)"),
        (
            AlertKind.UNKNOWN_ORDER,
            "binance:perp:BTCUSDT sell 0.010 (sp-1-en1): outcome unknown — "
            "the runner keeps asking the venue; not resent",
        ),
    ]
    got.clear()
    halted = RiskEvent(kind=RiskEventKind.STATE, state=TradingState.HALTED, previous_state=TradingState.ACTIVE)
    alerts.on_item(RiskGateEvent(exchange=Exchange.BINANCE, risk=halted))
    assert got == [(AlertKind.RISK, "binance risk: ACTIVE -> HALTED")]
    got.clear()
    ready = RunnerStatusEvent(exchange=Exchange.BYBIT, status="ready", streams={"bybit:perp:depth": True})
    down = RunnerStatusEvent(exchange=Exchange.BYBIT, status="degraded", streams={"bybit:perp:depth": False})
    for ev in (ready, ready, down, down, ready):
        alerts.on_item(ev)
    assert got == [
        (AlertKind.RUNNER, "bybit runner degraded, streams down: bybit:perp:depth"),
        (AlertKind.RUNNER, "bybit runner ready again"),
    ]
    got.clear()

    def t(a: ArbState, b: ArbState, reason: str) -> Transition:
        return Transition(
            position_id="sp-1",
            seq=1,
            ts_ms=1,
            from_state=a,
            to_state=b,
            event=ArbEvent.LEGS_SETTLED,
            reason=reason,
            a_base=Decimal("0.01"),
            b_base=Decimal("0.01"),
        )

    alerts.on_transition(t(ArbState.IDLE, ArbState.ENTERING, "edge"))
    alerts.on_transition(t(ArbState.ENTERING, ArbState.HEDGED, "both legs filled"))
    alerts.on_transition(t(ArbState.HEDGED, ArbState.BROKEN, "hedge refused"))
    alerts.on_transition(t(ArbState.EXITING, ArbState.CLOSED, "flat"))
    assert [k for k, _ in got] == [AlertKind.ENTRY, AlertKind.RISK, AlertKind.EXIT]
    assert got[0][1] == "spotperp sp-1 entered: a=0.01 b=0.01 — both legs filled"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRADEBUS_ALERT")}
    return subprocess.run(
        [STRATEGY, "alerts", "test", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
    )


def test_alerts_test_command(receiver: Receiver) -> None:
    out = _cli(
        "--alert-webhook",
        receiver.url + "/hooks/secret-path",
        "--alert-telegram-chat",
        "42",
        "--alert-telegram-url",
        receiver.url,
        env={"TRADEBUS_TELEGRAM_TOKEN": "7:TOKEN"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"webhook {receiver.url}/…: ok (200 OK)",
        f"telegram chat 42 via {receiver.url}: ok (200 OK)",
    ]
    assert {p.path for p in receiver.posts} == {"/hooks/secret-path", "/bot7:TOKEN/sendMessage"}
    assert all(p.body["text"] == "[strategy alerts test] test: test alert: alerts reach you" for p in receiver.posts)
    receiver.status = 500
    failed = _cli("--alert-webhook", receiver.url + "/h")
    assert failed.returncode == 1 and "FAILED (HTTP 500" in failed.stdout, failed.stdout + failed.stderr
    none = _cli()
    assert none.returncode == 2 and none.stderr.startswith("strategy: error: alerts: no destination"), none.stderr
    no_token = _cli("--alert-telegram-chat", "42")
    assert no_token.returncode == 2 and "TRADEBUS_TELEGRAM_TOKEN" in no_token.stderr, no_token.stderr
