"""``strategy signals`` against a real runner (embedded Binance venue) and the machine's real
RabbitMQ and NATS JetStream, with queue/stream names of its own (deleted after).

RabbitMQ: docs/bus.md's publisher example, run as written, gets its signal placed at the venue
and reads the enriched events back; the same signal published again (a redelivery) places
nothing; a take-profit already reached is closed reduce-only; expired, unknown-instrument and
malformed messages are rejected with their reason and parked in the dead-letter queue; the
lifecycle's transitions reach the broker; SIGTERM ends it cleanly. NATS: the docs example, a
redelivery (same signal, a new message id), a malformed one (dead-letter subject), and a kill -9
with an order resting: the next run follows it to its end."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import nats
import nats.js.errors
import pytest
from typer.testing import CliRunner

from strategies.cli import app
from strategies.signals.plan import client_id

from ...bridge.brokers import NATS_URL, RABBIT_URL, reachable, read_jetstream, read_queue
from ...helpers import eventually
from ...integration.conftest import ROOT, RunnerProc, start_runner

DOC = ROOT / "docs" / "bus.md"
PERP = "binance:perp:BTCUSDT"


def _doc_blocks() -> list[str]:
    return re.findall(r"```py\n(.*?)```", DOC.read_text(), flags=re.S)


def _set(code: str, name: str, value: str) -> str:
    out, n = re.subn(rf'^{name} = "[^"]*"', f'{name} = "{value}"', code, flags=re.M)
    assert n == 1, name
    return out


@pytest.fixture(scope="module")
def runner(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProc]:
    if not (reachable("127.0.0.1", 5672) or reachable("127.0.0.1", 4222)):
        pytest.skip("neither RabbitMQ (127.0.0.1:5672) nor NATS (127.0.0.1:4222) is reachable")
    proc = start_runner(redis_server.url, tmp_path_factory.mktemp("sigrunner"), f"sg-{uuid.uuid4().hex[:6]}")
    try:
        proc.record(timeout=60)
        yield proc
    finally:
        proc.stop()


class Signals:
    def __init__(self, runner: RunnerProc, tmp: Path, *args: str, name: str = "") -> None:
        self.name = name or f"sig{uuid.uuid4().hex[:6]}"
        self.log = tmp / f"{self.name}-{uuid.uuid4().hex[:4]}.log"
        self.data = tmp / "data"
        fh = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "strategies.cli", "signals", "--redis-url", runner.redis_url, *self.flags(*args)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        fh.close()

    def flags(self, *args: str) -> list[str]:
        return ["--name", self.name, "--data-dir", str(self.data), *args]

    def cli(self, command: str) -> str:
        """``strategy pause|stop NAME`` (run in this process: no interpreter start)."""
        done = CliRunner().invoke(app, [command, self.name, "--data-dir", str(self.data)])
        assert done.exit_code == 0, done.output
        return done.stdout

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def taking(self) -> bool:
        assert self.proc.poll() is None, self.text()[-3000:]
        return "taking signals from" in self.text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(10)


def venue_orders(runner: RunnerProc, cid_prefix: str) -> list[dict[str, Any]]:
    rep = httpx.get(f"http://127.0.0.1:{runner.sim_port_base}/_sim/orders", timeout=5)
    rep.raise_for_status()
    return [o for o in rep.json()["orders"] if o["client_order_id"].startswith(cid_prefix)]


async def _run_doc(code: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-3000:]
    return out.decode()


def _signal(sid: str, **over: Any) -> bytes:
    body = {"id": sid, "instrument": PERP, "side": "buy", "qty": "0.002", "urgency": "high"}
    body |= {"ts_ms": time.time_ns() // 1_000_000, "ttl_ms": 10_000, "source": "test"} | over
    return json.dumps(body).encode()


@pytest.fixture()
async def rabbit_names() -> AsyncIterator[dict[str, str]]:
    if not reachable("127.0.0.1", 5672):
        pytest.skip("RabbitMQ not reachable at 127.0.0.1:5672")
    uid = uuid.uuid4().hex[:10]
    names = {"queue": f"tbsig.{uid}.in", "exchange": f"tbsig.{uid}.events", "events": f"tbsig.{uid}.orders"}
    yield names
    conn = await aio_pika.connect(RABBIT_URL)
    async with conn:
        ch = await conn.channel()
        for q in (names["queue"], names["queue"] + ".dlq", names["events"]):
            await ch.queue_delete(q)
        await ch.exchange_delete(names["exchange"])


async def _publish(queue: str, body: bytes, message_id: str = "") -> None:
    conn = await aio_pika.connect(RABBIT_URL)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        msg = aio_pika.Message(body, content_type="application/json", message_id=message_id or None)
        await ch.default_exchange.publish(msg, routing_key=queue)


async def test_rabbitmq_signals_become_orders_and_events_come_back(
    runner: RunnerProc, tmp_path: Path, rabbit_names: dict[str, str]
) -> None:
    n = rabbit_names
    sig = Signals(
        runner,
        tmp_path,
        "--rabbit",
        RABBIT_URL,
        "--queue",
        n["queue"],
        "--events-exchange",
        n["exchange"],
        "--events-queue",
        f"{n['events']}=signals.#",
    )
    try:
        await eventually(sig.taking, timeout=60, what="strategy signals taking signals")
        # 1. the docs' publisher, as written (names replaced): placed, filled, events back
        sid = f"doc-{uuid.uuid4().hex[:8]}"
        code = _doc_blocks()[0]
        for name, value in (("QUEUE", n["queue"]), ("EXCHANGE", n["exchange"]), ("EVENTS", n["events"])):
            code = _set(code, name, value)
        out = await _run_doc(_set(code, "SIGNAL_ID", sid))
        assert "filled 0.002" in out and "USDT" in out, out
        cid = client_id(sid, "entry")
        placed = venue_orders(runner, cid)
        assert [(o["side"], o["status"], o["executed_qty"]) for o in placed] == [("buy", "filled", "0.002")]
        # 2. the same signal again (a redelivery): nothing placed twice
        await _publish(n["queue"], _signal(sid), sid)
        # 3. a take-profit already reached: filled, then closed reduce-only at once
        tp = f"tp-{uuid.uuid4().hex[:8]}"
        await _publish(n["queue"], _signal(tp, take_profit="1000"))
        # a post-only buy resting below the market: cancelled when the signal expires
        rest = f"rest-{uuid.uuid4().hex[:6]}"
        await _publish(n["queue"], _signal(rest, urgency="low", limit_price="58500", ttl_ms=1500))
        # 4. poison: expired, unknown instrument, malformed
        old = f"old-{uuid.uuid4().hex[:6]}"
        await _publish(n["queue"], _signal(old, ts_ms=time.time_ns() // 1_000_000 - 60_000, ttl_ms=1000))
        unknown = f"unk-{uuid.uuid4().hex[:6]}"
        await _publish(n["queue"], _signal(unknown, instrument="binance:perp:NOPEUSDT"))
        await _publish(n["queue"], b'{"id": "bad one", "side": "up"}', "m-bad")
        parked: list[Any] = []

        async def three_parked() -> bool:
            parked.extend(await read_queue(n["queue"] + ".dlq", timeout_s=0.3))
            return len(parked) >= 3

        await eventually(three_parked, timeout=20, what="three dead letters")
        codes = sorted(str(h["x-reason-code"]) for _, h, _ in parked)
        assert codes == ["expired", "malformed", "unknown_instrument"], parked
        assert any("NOPEUSDT" in str(h["x-reason"]) for _, h, _ in parked)
        await eventually(
            lambda: len(venue_orders(runner, client_id(tp, "take_profit"))) == 1, timeout=20, what="the take-profit"
        )
        close = venue_orders(runner, client_id(tp, "take_profit"))[0]
        assert close["side"] == "sell" and close["reduce_only"] and close["status"] == "filled"
        assert len(venue_orders(runner, cid)) == 1  # the redelivery placed nothing
        rested = await eventually(
            lambda: [o for o in venue_orders(runner, client_id(rest, "entry")) if o["status"] == "canceled"],
            timeout=20,
            what="the resting order cancelled at the signal's expiry",
        )
        assert rested[0]["tif"] == "post_only" and rested[0]["price"] == "58500.0"
        # 5. the lifecycle from another shell: paused, a signal is refused (not parked); stop ends it
        assert "active → paused" in sig.cli("pause")
        paused = f"p-{uuid.uuid4().hex[:6]}"
        await _publish(n["queue"], _signal(paused))
        await eventually(lambda: f"signal {paused}: rejected: paused" in sig.text(), timeout=20, what="paused refusal")
        assert "stopped (stop requested by `strategy stop`)" in sig.cli("stop")
        assert sig.proc.wait(30) == 0, sig.text()[-3000:]
        assert venue_orders(runner, client_id(paused, "entry")) == []
        summary = json.loads(sig.text().split("signals: ", 1)[1].splitlines()[0])
        assert summary["duplicates"] == 1 and summary["dead_lettered"] == 3 and summary["orders"] == 4, summary
        assert summary["cancels_at_expiry"] == 1
        assert summary["rejected"] == {"expired": 1, "unknown_instrument": 1, "malformed": 1, "paused": 1}
        events = [json.loads(body) for _, _, body in await read_queue(n["events"], timeout_s=0.5)]
        rejected = {e["reason"]: e for e in events if e["event"] == "rejected"}
        assert set(rejected) == {"expired", "unknown_instrument", "malformed", "paused"}
        assert not rejected["paused"]["dead_lettered"] and rejected["expired"]["dead_lettered"]
        assert rejected["expired"]["signal_id"] == old and rejected["malformed"]["signal_id"] == ""
        orders = [e for e in events if e["event"] == "order" and e["signal_id"] == tp]
        assert {e["role"] for e in orders} == {"entry", "take_profit"}
        final = [e for e in orders if e["final"] and e["role"] == "entry"][-1]
        assert final["filled_qty"] == "0.002" and final["fees"] and final["avg_price"]
        assert final["slippage_bps"] is not None and final["latency"]["received_to_ack_us"] > 0
        ended = [e for e in events if e["event"] == "order" and e["signal_id"] == rest and e["final"]]
        assert ended and ended[-1]["kind"] == "cancel" and ended[-1]["why"] == "urgency low: post-only at our touch"
        lifecycle = [(e["lifecycle"]["from"], e["lifecycle"]["to"]) for e in events if e["event"] == "lifecycle"]
        # (the docs' reader took the first ones)
        assert ("active", "paused") in lifecycle and ("paused", "stopped") in lifecycle
    finally:
        sig.stop()


async def test_nats_signal_redelivery_and_dead_letter(runner: RunnerProc, tmp_path: Path) -> None:
    if not reachable("127.0.0.1", 4222):
        pytest.skip("NATS not reachable at 127.0.0.1:4222")
    uid = uuid.uuid4().hex[:8]
    stream, subject, prefix, events = f"TBSIG_{uid}", f"tbsig_{uid}.in", f"tbsig_{uid}", f"TBSIGEV_{uid}"
    flags = ("--nats", NATS_URL, "--queue", subject, "--stream", stream, "--subject-prefix", prefix)
    flags += ("--events-stream", events, "--ack-wait", "2")
    sig = Signals(runner, tmp_path, *flags)
    nc = await nats.connect(NATS_URL)
    try:
        await eventually(sig.taking, timeout=60, what="strategy signals taking signals")
        sid = f"nd-{uid}"
        code = _doc_blocks()[1]
        for name, value in (("SUBJECT", subject), ("EVENTS", f"{prefix}.signals.>"), ("SIGNAL_ID", sid)):
            code = _set(code, name, value)
        out = await _run_doc(code)
        assert "filled" in out and "USDT" in out, out
        cid = client_id(sid, "entry")
        assert [o["side"] for o in venue_orders(runner, cid)] == ["sell"]
        js = nc.jetstream()
        # a redelivery: the same signal under another message id (JetStream's de-duplication does not see it)
        body = _signal(sid, side="sell", qty=None, notional="150")
        await js.publish(subject, body, headers={"Nats-Msg-Id": f"again-{uid}"})
        await js.publish(subject, b"not json", headers={"Nats-Msg-Id": f"bad-{uid}"})
        dlq = await js.subscribe(f"{subject}.dlq", stream=stream, ordered_consumer=True)
        msg = await dlq.next_msg(timeout=20)
        assert msg.data == b"not json" and msg.headers is not None
        assert msg.headers["Tradebus-Reason-Code"] == "malformed"
        await eventually(lambda: "taken before" in sig.text(), timeout=20, what="the redelivery seen")
        assert len(venue_orders(runner, cid)) == 1
        # kill -9 with an order resting at the venue, and another placed whose answer the venue holds
        # (its signal not acknowledged yet): the next run follows the resting one to its end, and the
        # signal JetStream redelivers places nothing
        rest, slow = f"rest-{uid}", f"slow-{uid}"
        await js.publish(subject, _signal(rest, urgency="low", limit_price="58500", ttl_ms=3000))
        rest_cid, slow_cid = client_id(rest, "entry"), client_id(slow, "entry")
        await eventually(lambda: venue_orders(runner, rest_cid), timeout=20, what="the resting order")
        faults = f"http://127.0.0.1:{runner.sim_port_base}/_sim/faults"
        (await asyncio.to_thread(httpx.post, faults, json={"delay_ms": 3000}, timeout=5)).raise_for_status()
        try:
            await js.publish(subject, _signal(slow))
            await eventually(lambda: venue_orders(runner, slow_cid), timeout=20, what="the held order at the venue")
            sig.proc.kill()
            sig.proc.wait(10)
        finally:
            (await asyncio.to_thread(httpx.delete, faults, timeout=5)).raise_for_status()
        sig = Signals(runner, tmp_path, *flags, name=sig.name)
        await eventually(sig.taking, timeout=60, what="the restarted strategy signals")
        await eventually(
            lambda: venue_orders(runner, rest_cid)[0]["status"] == "canceled", timeout=20, what="cancel at expiry"
        )
        redelivered = f"signal {slow}: taken before"
        await eventually(lambda: redelivered in sig.text(), timeout=20, what="the redelivery")
        assert len(venue_orders(runner, slow_cid)) == 1
        assert sig.stop() == 0, sig.text()[-3000:]
        text = sig.text()
        assert "ended without stopping" in text and f"resume: signal {rest}: entry {rest_cid} new" in text, text
        assert "(redelivered): acknowledged, nothing placed" in text.split(redelivered, 1)[1].splitlines()[0], text
        evs = [json.loads(body) for _, _, body in await read_jetstream(events, f"{prefix}.signals.order.>")]
        last = [e for e in evs if e["signal_id"] == rest][-1]
        assert last["final"] and last["kind"] == "cancel" and last["order"]["status"] == "canceled", json.dumps(last)
    finally:
        sig.stop()
        js = nc.jetstream()
        for name in (stream, events):
            try:
                await js.delete_stream(name)
            except nats.js.errors.NotFoundError:
                pass
        await nc.close()
