"""The bridge's message shape (subjects, ids, headers, payload), its checkpoint file, its CLI's
refusals and its layering (only strategy_client of tradebus)."""

from __future__ import annotations

import ast
import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import msgspec
import nats
import pytest

from bridge.checkpoint import CheckpointStore, checkpoint_path
from bridge.envelope import (
    PayloadFormat,
    encode_payload,
    headers_for,
    outgoing_from_received,
    outgoing_replayed,
    routing_key,
    traceparent_for,
)
from strategy_client.events import Received
from strategy_client.model import Exchange, InstrumentKey, Order, OrderStatus, OrderType, Side, TimeInForce
from strategy_client.wire import OrderEvent, OrderEventKind, TopicKind, encode

from ..helpers import free_port
from ..integration.conftest import ROOT
from .brokers import NATS_URL, reachable

KEY = InstrumentKey.parse("binance:perp:BTCUSDT")
TOPIC = "exec|binance|perp|BTCUSDT|"


def _order_event() -> OrderEvent:
    order = Order(
        key=KEY,
        client_id="c1",
        venue_id="v1",
        side=Side.BUY,
        type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        qty=Decimal("0.010"),
        price=Decimal("64250.10"),
        status=OrderStatus.NEW,
    )
    return OrderEvent(kind=OrderEventKind.NEW, order=order)


def test_routing_keys_follow_the_documented_grammar() -> None:
    assert routing_key("bn-a", TOPIC) == "exec.binance.bn-a.perp.BTCUSDT"
    assert routing_key("bn-a", "acct|binance|") == "acct.binance.bn-a"
    assert routing_key("desk.one *x>", "ob|okx|spot|BTC-USDT|") == "ob.okx.desk_one__x_.spot.BTC-USDT"


def test_a_journaled_event_has_one_id_live_or_replayed() -> None:
    event = _order_event()
    live = outgoing_from_received(
        Received(
            runner="bn-a",
            topic=TOPIC,
            kind=TopicKind.EXECUTION,
            exchange=Exchange.BINANCE,
            key=KEY,
            seq=7,
            sent_ns=111,
            recv_ns=222,
            event=event,
            jseq=42,
        )
    )
    replayed = outgoing_replayed("bn-a", TOPIC, TopicKind.EXECUTION, "binance", str(KEY), 42, 333, 444, event)
    assert live.id == replayed.id == f"bn-a/{TOPIC}/j42"
    assert live.key == replayed.key == "exec.binance.bn-a.perp.BTCUSDT"
    assert replayed.envelope.replayed and not live.envelope.replayed
    assert (
        headers_for(live, PayloadFormat.JSON)["traceparent"] == headers_for(replayed, PayloadFormat.JSON)["traceparent"]
    )


def test_market_data_ids_differ_across_runner_restarts() -> None:
    def book_like(sent_ns: int) -> str:
        rec = Received(
            runner="bn-a",
            topic=TOPIC,
            kind=TopicKind.EXECUTION,
            exchange=Exchange.BINANCE,
            key=KEY,
            seq=1,
            sent_ns=sent_ns,
            recv_ns=0,
            event=_order_event(),
        )
        return outgoing_from_received(rec).id

    assert book_like(1000) != book_like(2000)  # seq 1 again after a restart: still a new id
    assert book_like(1000) == f"bn-a/{TOPIC}/s1-1000"


def test_headers_and_json_payload() -> None:
    out = outgoing_replayed("bn-a", TOPIC, TopicKind.EXECUTION, "binance", str(KEY), 5, 9, 10, _order_event())
    headers = headers_for(out, PayloadFormat.JSON)
    assert headers["Tradebus-Wire-Version"] == "1" and headers["Tradebus-Bus-Version"] == "1"
    assert headers["Tradebus-Id"] == out.id and headers["Tradebus-Jseq"] == "5"
    assert headers["Tradebus-Event"] == "order" and headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", headers["traceparent"])
    assert traceparent_for(out.id) == headers["traceparent"]
    body = msgspec.json.decode(encode_payload(out.envelope, PayloadFormat.JSON))
    assert body["v"] == 1 and body["jseq"] == 5 and body["key"] == "binance:perp:BTCUSDT"
    assert body["event"]["event"] == "order" and body["event"]["order"]["price"] == "64250.10"
    assert body["event"]["order"]["qty"] == "0.010"  # exact decimal strings, never floats
    # the event inside is the wire event: the same fields as the runner's MessagePack frame
    assert msgspec.msgpack.decode(encode(out.envelope.event))["order"]["client_id"] == "c1"


def test_checkpoint_survives_reopen(tmp_path: Path) -> None:
    path = checkpoint_path("b1", str(tmp_path))
    assert path == tmp_path / "bridge-b1.sqlite3"
    store = CheckpointStore(path)
    assert store.get("nats", "bn-a") == 0
    store.set("nats", "bn-a", 17, TOPIC)
    store.set("nats", "bn-a", 18, TOPIC)
    store.set("rabbitmq", "bn-a", 3)
    store.close()
    again = CheckpointStore(path)
    assert again.get("nats", "bn-a") == 18 and again.get("rabbitmq", "bn-a") == 3
    assert [(a.sink, a.runner, a.jseq) for a in again.all()] == [("nats", "bn-a", 18), ("rabbitmq", "bn-a", 3)]
    again.close()
    shown = _cli("acks", "--name", "b1", "--data-dir", str(tmp_path))
    assert shown.returncode == 0 and "nats\tbn-a\t18\t" in shown.stdout


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_cli_refusals_are_one_line_exit_2(tmp_path: Path) -> None:
    nothing = _cli("run", "--no-cache")
    assert nothing.returncode == 2 and "nothing to do" in nothing.stderr
    bad_queue = _cli("run", "--rabbit", "amqp://x/", "--rabbit-queue", "=exec.#")
    assert bad_queue.returncode == 2 and "expected NAME=PATTERN" in bad_queue.stderr
    missing = _cli("acks", "--name", "nobody", "--data-dir", str(tmp_path))
    assert missing.returncode == 2 and "no checkpoint" in missing.stderr
    dead = f"redis://127.0.0.1:{free_port()}/0"
    no_redis = _cli("run", "--redis-url", dead, "--no-cache", "--nats", NATS_URL, "--data-dir", str(tmp_path))
    assert no_redis.returncode == 2 and "bridge: error: cannot read the runner directory" in no_redis.stderr
    assert "Traceback" not in no_redis.stderr


def test_help_names_every_command_and_every_documented_option() -> None:
    top = _cli("--help")
    assert top.returncode == 0 and all(c in top.stdout for c in ("run", "status", "acks"))
    run = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    ).stdout
    text = (ROOT / "docs" / "bus.md").read_text()
    running = text[text.index("\n## Running it\n") : text.index("\n## Subjects and routing keys\n")]
    documented = set(re.findall(r"--[a-z][a-z-]*", running))
    assert {"--nats", "--rabbit-queue", "--format", "--start", "--buffer", "--cache-ttl-md"} <= documented
    missing = sorted(o for o in documented if not re.search(rf"{o}(?![a-z-])", run))
    assert missing == [], f"docs/bus.md documents options `tradebus-bridge run` does not have: {missing}"


async def test_a_stream_the_bridge_cannot_reconfigure_is_one_line(redis_url: str, tmp_path: Path) -> None:
    if not reachable("127.0.0.1", 4222):
        pytest.skip("NATS JetStream not reachable at 127.0.0.1:4222")
    name = f"TBTEST_{uuid.uuid4().hex[:10]}"
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"], storage=nats.js.api.StorageType.MEMORY)
    try:
        args = ["run", "--redis-url", redis_url, "--nats", NATS_URL, "--nats-stream", name]
        args += ["--subject-prefix", name.lower(), "--no-cache", "--data-dir", str(tmp_path)]
        proc = await _acli(*args)
        assert proc[0] == 2, proc[1]
        assert f"JetStream stream {name} exists with settings this bridge cannot apply" in proc[1]
    finally:
        await js.delete_stream(name)
        await nc.close()


async def _acli(*args: str) -> tuple[int, str]:
    """Run the bridge CLI; one that has not exited after 60 s is aborted with every thread's
    stack printed (``-X faulthandler``), and the test fails with them."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-X", "faulthandler", "-m", "bridge.cli", *args, cwd=ROOT, stderr=asyncio.subprocess.PIPE
    )
    communicating = asyncio.create_task(proc.communicate())
    done, _ = await asyncio.wait({communicating}, timeout=60)
    if not done:
        proc.send_signal(signal.SIGABRT)
        _, err = await communicating
        pytest.fail(f"bridge {' '.join(args[:1])} still running after 60 s; its stacks:\n{err.decode()[-8000:]}")
    _, err = communicating.result()
    return proc.returncode or 0, err.decode()


_ALLOWED = {
    "strategy_client",
    "bridge",
    "msgspec",
    "nats",
    "aio_pika",
    "aiormq",
    "pamqp",
    "redis",
    "typer",
    "prometheus_client",
}


def test_bridge_imports_only_strategy_client_of_tradebus() -> None:
    for path in (ROOT / "bridge").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in _ALLOWED or top in sys.stdlib_module_names, f"{path.name} imports {name}"
