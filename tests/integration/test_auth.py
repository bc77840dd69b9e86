"""Who may trade, over real processes (issue 14): a CURVE runner with an allow-list of client keys.

One runner process for the module, CURVE on (its secret from ``$TRADEBUS_CURVE_SECRET``), an
allow-list with a ``trade``, a ``read`` and an ``admin`` key, ``/metrics`` on. Checked here: a
plaintext DEALER and a DEALER with an unknown key get no answer and are counted; a read-only key
cannot submit (``Forbidden``, counted) while the trade key can; a key taken out of the list
loses its rights at once; records spoofed in Redis (plaintext endpoint, foreign key, the real
key on a foreign endpoint) never get an order; no secret reaches the log, Redis or a reply.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import msgspec
import pytest
import redis
import zmq

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port, free_port_pair
from strategy_client.errors import Forbidden, RunnerUnavailable
from strategy_client.events import Received
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.router import ZmqRouter
from strategy_client.security import ClientSecurity, KeyPair, generate_keypair, write_keypair
from strategy_client.wire import Header, Ping, RunnerRecord, decode_record, encode, runner_key
from tests.helpers import eventually, eventually_sync
from tests.integration.conftest import ROOT

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
NAME = f"auth-{os.getpid()}"


@dataclass
class Secure:
    proc: subprocess.Popen[bytes]
    log: Path
    redis_url: str
    metrics: str
    keys: Path
    allow: Path
    server: KeyPair
    trade: KeyPair
    read: KeyPair
    admin: KeyPair

    def record(self) -> RunnerRecord:
        client = redis.Redis.from_url(self.redis_url)
        try:

            def ready() -> RunnerRecord | None:
                raw = client.get(runner_key(NAME))
                if self.proc.poll() is not None:
                    raise AssertionError(f"runner exited: {self.log.read_text()[-3000:]}")
                rec = decode_record(bytes(raw)) if isinstance(raw, bytes) else None
                return rec if rec is not None and rec.status == "ready" and rec.pid == self.proc.pid else None

            found = eventually_sync(ready, timeout=60, interval=0.05, what="the CURVE runner to be ready")
            assert found is not None
            return found
        finally:
            client.close()

    def security(self, who: KeyPair) -> ClientSecurity:
        return ClientSecurity.from_env({}, client_key=who, trusted=self.keys / f"{NAME}.key")

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.metrics}/metrics", timeout=5).text
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = rf"^{re.escape(name)}{re.escape('{' + want + '}') if want else ''} ([0-9.e+]+)$"
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else 0.0


@pytest.fixture(scope="module")
def secure(redis_server: LocalRedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    tmp = tmp_path_factory.mktemp("auth")
    keys = tmp / "keys"
    server = generate_keypair()
    write_keypair(keys, NAME, server)  # the clients trust <name>.key
    pairs = {role: generate_keypair() for role in ("trade", "read", "admin")}
    allow = tmp / "allow.txt"
    allow.write_text(
        "# role  key  label\n" + "".join(f"{role} {pair.public}  {role}-key\n" for role, pair in pairs.items())
    )
    metrics_port = free_port()
    log = tmp / "runner.log"
    args = [
        sys.executable,
        "-m",
        "exchange_runner.cli",
        "binance",
        "--redis-url",
        redis_server.url,
        "--name",
        NAME,
        "--sim-port-base",
        str(free_port_pair()),
        "--symbols",
        "BTCUSDT",
        "--allow",
        str(allow),
        "--metrics-port",
        str(metrics_port),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TRADEBUS_CURVE_SECRET": server.secret}
    with log.open("wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    sec = Secure(proc, log, redis_server.url, f"http://127.0.0.1:{metrics_port}", keys, allow, server, **pairs)
    try:
        sec.record()
        yield sec
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture()
async def trader(secure: Secure) -> AsyncIterator[ZmqRouter]:
    router = ZmqRouter(secure.redis_url, security=secure.security(secure.trade), poll_s=0.05)
    await router.start(wait_for=[NAME], timeout_s=30)
    yield router
    await router.close()


def _far_limit(side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(key=PERP, side=side, type=OrderType.LIMIT, qty=Decimal("0.2"), price=Decimal("1000"))


def _raw_ping(endpoint: str, curve: tuple[str, KeyPair] | None, wait_ms: int = 1500) -> bool:
    """A bare DEALER sends one ping; True if anything came back."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            server_key, pair = curve
            sock.setsockopt(zmq.CURVE_SERVERKEY, server_key.encode())
            sock.setsockopt(zmq.CURVE_PUBLICKEY, pair.public.encode())
            sock.setsockopt(zmq.CURVE_SECRETKEY, pair.secret.encode())
        sock.connect(endpoint)
        sock.send_multipart([encode(Header(id="raw-1")), encode(Ping())])
        return bool(sock.poll(wait_ms))
    finally:
        sock.close(linger=0)
        ctx.term()


def test_unauthenticated_dealers_get_no_answer_and_are_counted(secure: Secure) -> None:
    rec = secure.record()
    assert rec.curve_key == secure.server.public and rec.epoch

    def failed_handshakes() -> float:  # a plaintext peer: a protocol error, or no detail if it left first
        return secure.metric("tradebus_auth_denied_total", reason="protocol_error") + secure.metric(
            "tradebus_auth_denied_total", reason="handshake_failed"
        )

    before_plain = failed_handshakes()
    before_key = secure.metric("tradebus_auth_denied_total", reason="unknown_key")
    assert not _raw_ping(rec.router_endpoint, None)  # plaintext
    eventually_sync(lambda: failed_handshakes() > before_plain, what="the plaintext handshake counted")
    assert not _raw_ping(rec.router_endpoint, (rec.curve_key, generate_keypair()))  # a key not in the list
    eventually_sync(
        lambda: secure.metric("tradebus_auth_denied_total", reason="unknown_key") > before_key,
        what="the unknown key counted",
    )
    # and an allow-listed key over the same raw socket is answered
    assert _raw_ping(rec.router_endpoint, (rec.curve_key, secure.read))
    # the runner's own health ping (an ephemeral key it admits as read) gets through: /readyz is 200
    eventually_sync(
        lambda: httpx.get(f"{secure.metrics}/readyz", timeout=5).status_code == 200, what="/readyz 200 over CURVE"
    )
    assert secure.metric("tradebus_readiness_check", check="commands_answering") == 1


async def test_read_only_key_cannot_submit_trade_key_can(secure: Secure, trader: ZmqRouter) -> None:
    before = secure.metric("tradebus_auth_forbidden_total", method="submit_order")
    reader = ZmqRouter(secure.redis_url, security=secure.security(secure.read))
    await reader.start(wait_for=[NAME], timeout_s=30)
    try:
        pong = await reader.ping(NAME)
        assert pong.ready
        assert await reader.get_open_orders(PERP) is not None  # reads are allowed
        with pytest.raises(Forbidden, match="submit_order needs role trade; client key 'read-key' has role read"):
            await reader.submit_order(_far_limit())
        with pytest.raises(Forbidden, match="set_leverage needs role admin"):
            await reader.set_leverage(PERP, 3)
    finally:
        await reader.close()
    assert secure.metric("tradebus_auth_forbidden_total", method="submit_order") == before + 1
    order = await trader.submit_order(_far_limit())
    assert order.client_id
    # every reply header names the runner instance (``ep``), as its record does
    assert trader.client(NAME).epoch == secure.record().epoch != ""
    await trader.cancel_order(PERP, client_id=order.client_id)
    with pytest.raises(Forbidden, match="set_leverage needs role admin; client key 'trade-key' has role trade"):
        await trader.set_leverage(PERP, 3)
    admin = ZmqRouter(secure.redis_url, security=secure.security(secure.admin))
    await admin.start(wait_for=[NAME], timeout_s=30)
    try:
        assert await admin.set_leverage(PERP, 3) == 3
        # an admin call is named after the key's allow-list label (not the raw Z85 key) in the
        # trading state's reason, the status and the gate's events
        await admin.set_trading_state("binance", "reducing", reason="desk check")
        status = await admin.get_risk_status("binance")
        assert status.state_reason == f"admin-key ({secure.admin.public[:8]}…): desk check", status.state_reason
        await admin.set_trading_state("binance", "active", reason="back")
    finally:
        await admin.close()


async def test_a_key_taken_out_of_the_allow_list_loses_its_rights_at_once(secure: Secure) -> None:
    extra = generate_keypair()
    original = secure.allow.read_text()
    secure.allow.write_text(original + f"trade {extra.public} extra\n")
    router = ZmqRouter(secure.redis_url, security=secure.security(extra))
    try:
        await router.start(wait_for=[NAME], timeout_s=30)

        async def answers() -> bool:
            try:
                await router.ping(NAME, timeout_s=1.0)
            except Forbidden:
                return False
            return True

        await eventually(answers, timeout=10, interval=0.2, what="the added key admitted (file reloaded)")  # type: ignore[arg-type]
        secure.allow.write_text(original)  # the connection stays; its requests are refused

        async def refused() -> bool:
            try:
                await router.ping(NAME, timeout_s=1.0)
            except Forbidden:
                return True
            return False

        await eventually(refused, timeout=10, interval=0.2, what="the removed key refused")  # type: ignore[arg-type]
    finally:
        secure.allow.write_text(original)
        await router.close()


async def test_events_reach_an_admitted_key_and_not_a_plaintext_sub(secure: Secure) -> None:
    rec = secure.record()
    reader = ZmqRouter(secure.redis_url, security=secure.security(secure.read))
    await reader.start(wait_for=[NAME], timeout_s=30)
    try:
        async with await reader.subscribe(kinds="book", snapshot=False) as events:

            async def a_book() -> bool:
                return isinstance(await events.get(1.0), Received)

            await eventually(a_book, timeout=20, what="a book event over CURVE")  # type: ignore[arg-type]
    finally:
        await reader.close()
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(rec.pub_endpoint)
        assert not sub.poll(2000)  # books flow several times a second: a plaintext SUB gets none
    finally:
        sub.close(linger=0)
        ctx.term()


def test_sighup_reads_the_allow_list_again(secure: Secure) -> None:
    secure.proc.send_signal(signal.SIGHUP)
    eventually_sync(lambda: "read (SIGHUP)" in secure.log.read_text(), what="the SIGHUP reload logged")
    assert secure.proc.poll() is None  # and the runner keeps running


class Attacker:
    """Rewrites the runner's record every 20 ms with its own ``record`` and counts every
    message its ROUTER receives (a plaintext one, or a CURVE server with its own key)."""

    def __init__(self, redis_url: str, curve_secret: str = "") -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve_secret:
            self.sock.setsockopt(zmq.CURVE_SERVER, 1)
            self.sock.setsockopt(zmq.CURVE_SECRETKEY, curve_secret.encode())
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.received = 0
        self.writes = 0
        self.redis = redis.Redis.from_url(redis_url)
        self.record: RunnerRecord | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, record: RunnerRecord) -> None:
        self.record = record
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            assert self.record is not None
            self.redis.set(runner_key(self.record.name), msgspec.json.encode(self.record), ex=10)
            self.writes += 1
            while self.sock.poll(20):
                self.sock.recv_multipart()
                self.received += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close(linger=0)
        self.ctx.term()
        self.redis.close()


@pytest.mark.parametrize("kind", ["plaintext", "foreign_key", "real_key_foreign_endpoint"])
async def test_a_spoofed_record_gets_no_order(secure: Secure, trader: ZmqRouter, kind: str) -> None:
    real = secure.record()
    own = generate_keypair()
    attacker = Attacker(secure.redis_url, curve_secret=own.secret if kind != "plaintext" else "")
    spoof = msgspec.structs.replace(
        real,
        router_endpoint=attacker.endpoint,
        pub_endpoint=attacker.endpoint,
        pid=real.pid + 1,
        curve_key={"plaintext": "", "foreign_key": own.public, "real_key_foreign_endpoint": real.curve_key}[kind],
    )
    attacker.start(spoof)
    placed = failed = 0
    try:
        await eventually(lambda: attacker.writes > 20, what="the spoofed record written")
        for _ in range(10):  # the runner's own heartbeat writes the real record back now and then
            try:
                order = await trader.submit_order(_far_limit(), timeout_s=2.0)
            except (RunnerUnavailable, TimeoutError) as exc:  # the spoof may make the runner unreachable
                failed += 1
                assert "spoof" not in str(exc)
            else:
                placed += 1
                await trader.cancel_order(PERP, client_id=order.client_id)
            await asyncio.sleep(0.05)  # let the watch see both records (poll_s 0.05)
        fresh = ZmqRouter(secure.redis_url, security=secure.security(secure.trade), poll_s=0.05)
        try:
            await fresh.start()
            try:
                await fresh.submit_order(_far_limit(), timeout_s=1.0)
            except (RunnerUnavailable, TimeoutError):
                pass
            else:
                placed += 1
        finally:
            await fresh.close()
    finally:
        attacker.stop()
    assert attacker.received == 0, f"the spoofed endpoint received {attacker.received} messages"
    assert placed + failed >= 10
    if kind != "real_key_foreign_endpoint":
        assert trader._watch.refused > 0  # the record was refused, not just unreachable
        assert placed >= 10  # the runner the client knew kept every order


def test_no_secret_in_the_log_redis_or_replies(secure: Secure) -> None:
    rec = secure.record()
    secrets = [secure.server.secret, secure.trade.secret, secure.read.secret, secure.admin.secret]
    log = secure.log.read_text()
    client = redis.Redis.from_url(secure.redis_url)
    try:
        values = [client.get(k) for k in client.scan_iter("*") if client.type(k) == b"string"]
        dump = b"".join(v for v in values if isinstance(v, bytes))
    finally:
        client.close()
    reply = b""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.CURVE_SERVERKEY, rec.curve_key.encode())
        sock.setsockopt(zmq.CURVE_PUBLICKEY, secure.read.public.encode())
        sock.setsockopt(zmq.CURVE_SECRETKEY, secure.read.secret.encode())
        sock.connect(rec.router_endpoint)
        sock.send_multipart([encode(Header(id="scan-1")), encode(Ping())])
        assert sock.poll(5000)
        reply = b"".join(sock.recv_multipart())
    finally:
        sock.close(linger=0)
        ctx.term()
    metrics = httpx.get(f"{secure.metrics}/metrics", timeout=5).text
    assert reply and dump and log
    for secret in secrets:
        assert secret not in log
        assert secret.encode() not in dump
        assert secret.encode() not in reply
        assert secret not in metrics
