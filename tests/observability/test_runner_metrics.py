"""A real runner process with ``--metrics-port``: /metrics counters move with traffic, /healthz
answers, /readyz flips to not-ready and back when the simulator cuts the venue streams, and
the Grafana dashboard only uses metrics the processes export."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import zmq
import zmq.asyncio
from prometheus_client import generate_latest

from strategy_client.command_client import ZmqCommandClient
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.telemetry.strategy_metrics import StrategyMetrics
from strategy_client.wire import ErrorCode, ErrorReply, GetOrder, OrderReply, SubmitOrder, decode_reply

from ..helpers import eventually
from .conftest import MetricsRunner, exported_names, total, value

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
ROOT = Path(__file__).resolve().parents[2]


async def test_healthz_and_readyz_when_ready(metrics_runner: MetricsRunner) -> None:
    async with httpx.AsyncClient(base_url=metrics_runner.url, timeout=5) as http:
        health = await http.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "alive" and health.json()["pid"] == metrics_runner.proc.proc.pid
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True and body["not_ready"] == []
        assert body["checks"] == {
            "instruments_loaded": True,
            "streams_live": True,
            "registered": True,
            "credentials_ok": True,
            "commands_answering": True,
        }
        assert body["status"] == "ready" and body["down"] == []


async def test_counters_move_with_an_order_and_a_bad_frame(metrics_runner: MetricsRunner) -> None:
    before = metrics_runner.scrape()
    assert value(before, "tradebus_runner_ready") == 1
    assert value(before, "tradebus_registered") == 1
    assert value(before, "tradebus_queue_capacity", queue="order.executions") == 65_536
    rec = metrics_runner.proc.record()
    async with ZmqCommandClient(rec.router_endpoint) as cli:
        rep = await cli.call(
            SubmitOrder(order=OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01")))
        )
        assert isinstance(rep, OrderReply)
        cid = rep.order.client_id

        async def filled() -> bool:
            got = await cli.call(GetOrder(key=PERP, client_id=cid))
            return isinstance(got, OrderReply) and got.order.status is OrderStatus.FILLED

        await eventually(filled, what="the market order filled")

        # a frame that is not MessagePack: a typed error reply, counted by kind
        ctx = zmq.asyncio.Context.instance()
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(rec.router_endpoint)
        try:
            await dealer.send_multipart([b"\xc1", b"\x80"])
            _, body = await dealer.recv_multipart()
            reply = decode_reply(body)
            assert isinstance(reply, ErrorReply) and reply.code is ErrorCode.DECODE_ERROR
        finally:
            dealer.close(linger=0)

    def moved(s: dict[Any, float], name: str, **labels: str) -> bool:
        return value(s, name, **labels) > value(before, name, **labels)

    def fill_and_books_observed() -> dict[Any, float] | None:
        s = metrics_runner.scrape()
        fill = moved(s, "tradebus_order_fill_latency_seconds_count", market="perp")
        books = moved(s, "tradebus_events_published_total", topic="ob")
        return s if fill and books and moved(s, "tradebus_stream_messages_total", stream="books") else None

    after = await eventually(fill_and_books_observed, what="the fill latency observed and books flowing")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("tradebus_commands_total", method="submit_order") == 1
    assert delta("tradebus_command_duration_seconds_count", method="submit_order", outcome="ok") == 1
    assert delta("tradebus_order_round_trip_seconds_count", market="perp", outcome="ok") == 1
    assert delta("tradebus_order_fill_latency_seconds_count", market="perp") == 1
    assert delta("tradebus_orders_submitted_total") == 1
    # the journal: the order's intent made durable before it left, and what that cost in this runner
    assert delta("tradebus_journal_intents_total") == 1
    assert 0 < value(after, "tradebus_journal_intent_seconds", quantile="0.5") < 1
    assert value(after, "tradebus_journal_fault") == 0
    # the order actor's own time on it (risk gate, intent, the request written), and the intent is part of it
    submit_p50 = value(after, "tradebus_order_submit_seconds", quantile="0.5")
    assert value(after, "tradebus_journal_intent_seconds", quantile="0.5") < submit_p50 < 1
    assert delta("tradebus_decode_errors_total", source="zmq", kind="decode_error") == 1
    assert delta("tradebus_events_published_total", topic="exec") >= 2  # new + fill
    # the placement went to the venue over WS-API (or REST when the WS-API is down): one request
    placed = sum(
        total(after, "tradebus_venue_request_duration_seconds_count", endpoint=e, outcome="ok")
        - total(before, "tradebus_venue_request_duration_seconds_count", endpoint=e, outcome="ok")
        for e in ("ws-api:order.place", "/fapi/v1/order")
    )
    assert placed == 1
    # after that order the warmer rehearses the order path every ms (exchange_runner/warmth.py),
    # and none of it reaches the venue or the journal: still the one placement and the one intent
    def rehearsals() -> dict[Any, float] | None:
        s = metrics_runner.scrape()
        return s if moved(s, "tradebus_order_path_rehearsals_total") else None

    rehearsed = await eventually(rehearsals, what="order path rehearsals")
    assert value(rehearsed, "tradebus_order_path_rehearsal_failures_total") == 0
    assert 0 < value(rehearsed, "tradebus_order_path_rehearsal_seconds", quantile="0.5") < 0.01
    assert value(rehearsed, "tradebus_journal_intents_total") == value(after, "tradebus_journal_intents_total")
    assert sum(
        total(rehearsed, "tradebus_venue_request_duration_seconds_count", endpoint=e, outcome="ok")
        - total(after, "tradebus_venue_request_duration_seconds_count", endpoint=e, outcome="ok")
        for e in ("ws-api:order.place", "/fapi/v1/order")
    ) == 0
    assert value(after, "tradebus_venue_rate_limit_used", venue="binance-futures", scope="weight_1m") > 0
    # bounded labels: no client id anywhere in the exposition
    text = (await asyncio.to_thread(httpx.get, f"{metrics_runner.url}/metrics", timeout=5)).text
    assert cid not in text


async def test_readyz_flips_when_the_venue_streams_are_cut(metrics_runner: MetricsRunner) -> None:
    sim = f"http://127.0.0.1:{metrics_runner.proc.sim_port_base}"
    before = metrics_runner.scrape()
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{metrics_runner.url}/readyz")).status_code == 200
        killed = await http.post(f"{sim}/_sim/ws/kill", json={"target": "streams"})
        assert killed.status_code == 200, killed.text

        async def not_ready() -> dict[str, Any] | None:
            r = await http.get(f"{metrics_runner.url}/readyz")
            return cast(dict[str, Any], r.json()) if r.status_code == 503 else None

        body: dict[str, Any] = await eventually(
            not_ready, interval=0.005, what="/readyz 503 after the streams were cut"
        )
        assert body["ready"] is False and body["not_ready"] == ["streams_live"]
        assert any("depth" in name for name in body["down"]), body

        async def ready_again() -> bool:
            return (await http.get(f"{metrics_runner.url}/readyz")).status_code == 200

        await eventually(ready_again, what="/readyz 200 after the streams reconnected")
    after = metrics_runner.scrape()
    assert total(after, "tradebus_ws_reconnects_total") > total(before, "tradebus_ws_reconnects_total")
    assert total(after, "tradebus_ws_disconnects_total") > total(before, "tradebus_ws_disconnects_total")


def _dashboard_metric_names() -> set[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/tradebus.json").read_text())
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query") and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard)
    assert exprs, "the dashboard has no queries"
    return {m for e in exprs for m in re.findall(r"\btradebus_[a-z0-9_]+", e)}


def test_dashboard_queries_only_exported_metrics(metrics_runner: MetricsRunner) -> None:
    exported = exported_names(metrics_runner.text())
    exported |= exported_names(generate_latest(StrategyMetrics("spotperp", mode="paper").registry).decode())
    missing = sorted(_dashboard_metric_names() - exported)
    assert not missing, f"dashboard queries metrics nobody exports: {missing}"
