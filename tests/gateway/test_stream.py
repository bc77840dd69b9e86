"""The WebSocket stream over a real gateway: events carry the runner and its sequences; a client
that reconnects with its last ``jseq`` gets exactly what it missed (from the runner's journal),
then the live stream — no gap, no duplicate; bad messages are problem documents; auth; the
slow-client policy."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gateway.stream import CLOSE_SLOW, CLOSE_UNAUTHORIZED, Client
from tests.gateway.conftest import BTC, GatewayProc, resting_price


def ws(gw: GatewayProc, role: str | None = "read") -> ClientConnection:
    headers = {"X-API-Key": gw.keys[role]} if role else {}
    return connect(gw.url.replace("http", "ws") + "/api/v1/stream", additional_headers=headers, open_timeout=10)


def recv_until(conn: ClientConnection, pred: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Messages up to and including the first that ``pred`` accepts."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        out.append(msg)
        if pred(msg):
            return out
    raise AssertionError(f"no matching message in {timeout}s; got {[m.get('type') for m in out]}")


def place(gw: GatewayProc, *, cancel: bool = True) -> str:
    with gw.client("trade") as c:
        body = {"key": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": resting_price(gw)}
        cmd = c.post("/api/v1/orders", params={"wait": 10}, json=body).json()
        assert cmd["status"] == "succeeded", cmd
        if cancel:
            r = c.post("/api/v1/orders/cancel", params={"wait": 10}, json={"key": BTC, "client_id": cmd["client_id"]})
            assert r.json()["status"] == "succeeded", r.text
        return str(cmd["client_id"])


def is_exec(cid: str, status: str) -> Any:
    def pred(m: dict[str, Any]) -> bool:
        return (
            m.get("type") == "event"
            and m["kind"] == "exec"
            and m["event"]["order"]["client_id"] == cid
            and m["event"]["order"]["status"] == status
        )

    return pred


def test_no_key_is_closed_4001(gw: GatewayProc) -> None:
    with ws(gw, None) as conn, pytest.raises(ConnectionClosed) as info:
        conn.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == CLOSE_UNAUTHORIZED


def test_live_events_then_resume_after_disconnect_without_gap(gw: GatewayProc) -> None:
    with ws(gw) as conn:
        conn.send(json.dumps({"op": "subscribe", "topics": ["exec", "book"], "instrument": BTC}))
        hello = recv_until(conn, lambda m: m["type"] == "subscribed")[-1]
        runner = next(iter(hello["runners"]))
        recv_until(conn, lambda m: m["type"] == "snapshot" and m["runner"] == runner)  # initial state
        recv_until(conn, lambda m: m["type"] == "event" and m["kind"] == "ob")  # books flow
        cid_a = place(gw)
        got = recv_until(conn, is_exec(cid_a, "canceled"))
        a_events = [m for m in got if m["type"] == "event" and m["kind"] == "exec"]
        assert all(m["runner"] == runner and m["jseq"] > 0 and m["seq"] > 0 for m in a_events)
        last = a_events[-1]["jseq"]
    # disconnected: two orders come and go
    missed = [place(gw), place(gw)]
    with ws(gw) as conn:
        conn.send(json.dumps({"op": "subscribe", "topics": ["exec"], "since": {runner: last}}))
        got = recv_until(conn, is_exec(missed[-1], "canceled"))
        replayed = [m for m in got if m["type"] == "event"]
        assert replayed and all(m["replayed"] for m in replayed)
        seen = {m["event"]["order"]["client_id"] for m in replayed}
        assert set(missed) <= seen and cid_a not in seen  # what was missed, not what was seen
        jseqs = [m["jseq"] for m in replayed]
        assert jseqs == sorted(jseqs) and len(set(jseqs)) == len(jseqs) and jseqs[0] > last
        assert not any(m["type"] == "snapshot" and m["runner"] == runner for m in got)  # resumed, no resync
        # then live, continuing the sequence
        cid_d = place(gw, cancel=False)
        live = [m for m in recv_until(conn, is_exec(cid_d, "new")) if m["type"] == "event"]
        assert not live[-1]["replayed"] and live[-1]["jseq"] > jseqs[-1]
    with gw.client("trade") as c:
        c.post("/api/v1/orders/cancel-all", params={"wait": 10}, json={"key": BTC})


def _bad(gw: GatewayProc, kind: str) -> int:
    text = httpx.get(gw.url + "/metrics").text
    line = next(
        (x for x in text.splitlines() if x.startswith(f'tradebus_gateway_bad_requests_total{{kind="{kind}"}}')), ""
    )
    return int(line.split()[-1]) if line else 0


def test_bad_messages_are_problems_and_the_connection_stays(gw: GatewayProc) -> None:
    before = _bad(gw, "stream_bad_json"), _bad(gw, "stream_bad_params")
    with ws(gw) as conn:
        conn.send("{nope")
        assert json.loads(conn.recv(timeout=5))["problem"]["code"] == "bad_json"
        conn.send(json.dumps({"op": "dance"}))
        assert json.loads(conn.recv(timeout=5))["problem"]["code"] == "bad_params"
        conn.send(json.dumps({"op": "subscribe", "topics": ["nope"]}))
        doc = json.loads(conn.recv(timeout=5))
        assert doc["type"] == "error" and "unknown topics" in doc["problem"]["detail"]
        conn.send(json.dumps({"op": "subscribe", "instrument": "BTCUSDT"}))
        assert json.loads(conn.recv(timeout=5))["problem"]["code"] == "bad_params"
        conn.send(json.dumps({"op": "ping"}))
        assert json.loads(conn.recv(timeout=5)) == {"type": "pong"}
    assert (_bad(gw, "stream_bad_json") - before[0], _bad(gw, "stream_bad_params") - before[1]) == (1, 3)  # counted


class _Ws:
    closed = False

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_frame(self, data: bytes, _opcode: object) -> None:
        self.sent.append(data)
        await asyncio.sleep(0)


def test_slow_client_policy() -> None:
    """Market data: the oldest is dropped and counted. Journaled events: never dropped — the
    client is closed (4008) to resume with since."""
    c = Client(_Ws(), "k", capacity=3)  # type: ignore[arg-type]
    for i in range(5):
        c.offer(b"book%d" % i, droppable=True)
    assert list(c.market) == [b"book2", b"book3", b"book4"] and c.dropped == 2
    for i in range(3):
        c.offer(b"exec%d" % i, droppable=False)
    assert not c.closing and len(c.durable) == 3
    c.offer(b"exec3", droppable=False)
    assert c.closing.startswith("slow consumer") and list(c.durable) == [b"exec0", b"exec1", b"exec2"]
    assert CLOSE_SLOW == 4008


JOURNALED = ["exec", "pos", "account", "funding"]


def test_resume_while_orders_keep_coming_has_every_jseq_once(gw: GatewayProc) -> None:
    """Subscribed to every journaled topic, a client sees each journal sequence exactly once:
    reconnecting with ``since`` while orders are placed during the replay, the replay and the live
    stream meet with no hole and no repeat."""
    with ws(gw) as conn:
        conn.send(json.dumps({"op": "subscribe", "topics": JOURNALED}))
        hello = recv_until(conn, lambda m: m["type"] == "subscribed")[-1]
        runner = next(iter(hello["runners"]))
        cid = place(gw)
        got = recv_until(conn, is_exec(cid, "canceled"))
        last = max(m["jseq"] for m in got if m["type"] == "event")
    for _ in range(3):  # missed while away
        place(gw)
    done: list[str] = []
    with ws(gw) as conn:
        conn.send(json.dumps({"op": "subscribe", "topics": JOURNALED, "since": {runner: last}}))
        during = threading.Thread(target=lambda: done.append(place(gw)))  # while the replay runs
        during.start()
        during.join(timeout=30)
        got = recv_until(conn, lambda m: bool(done) and is_exec(done[0], "canceled")(m), timeout=20)
    jseqs = [m["jseq"] for m in got if m["type"] == "event" and m["jseq"]]
    assert jseqs == list(range(last + 1, last + 1 + len(jseqs))), jseqs  # consecutive: no hole, no repeat
    assert any(m["replayed"] for m in got if m["type"] == "event")


async def test_a_replay_waits_for_room_instead_of_overflowing() -> None:
    """A replay longer than the client's lane goes at the writer's pace (no 4008 for a backlog)."""
    fake = _Ws()
    c = Client(fake, "k", capacity=4)  # type: ignore[arg-type]

    async def replay() -> None:
        for i in range(20):
            await c.room()
            c.offer(b"ev%d" % i, droppable=False)

    async with asyncio.TaskGroup() as tg:
        writer = tg.create_task(c.writer())
        await asyncio.wait_for(replay(), 5)
        while c.durable:
            await asyncio.sleep(0.01)
        writer.cancel()
    assert not c.closing and fake.sent == [b"ev%d" % i for i in range(20)]
