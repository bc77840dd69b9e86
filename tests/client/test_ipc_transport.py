"""A strategy on its runner's host talks to it over ``ipc://`` (issue 20): the runner binds its
ROUTER and PUB on Unix sockets in a private directory and advertises them beside ``tcp://``; the
client picks them when the record's host is its own and the socket file is there, ``tcp://``
otherwise or when told to; CURVE holds on ``ipc://`` as on ``tcp://``."""

from __future__ import annotations

import os
import socket
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import zmq

from exchange_runner.config import RunnerConfig
from exchange_runner.ipc import IPC_DIR_ENV
from exchange_runner.ports import free_port_pair
from exchange_runner.runner import ExchangeRunner
from strategy_client.endpoints import TRANSPORT_ENV, pub_endpoint, resolve_transport, router_endpoint
from strategy_client.events import Received
from strategy_client.model import InstrumentKey
from strategy_client.router import ZmqRouter
from strategy_client.security import ClientSecurity, generate_keypair, write_keypair
from strategy_client.wire import BookEvent, RunnerRecord
from tests.runner.inprocess import in_process_runner

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")


def _config(redis_url: str, name: str, **extra: object) -> RunnerConfig:
    return RunnerConfig(
        redis_url=redis_url, name=name, symbols=["BTCUSDT"], sim_port_base=free_port_pair(), journal="off", **extra
    )


@pytest.fixture()
async def runner(redis_url: str) -> AsyncIterator[ExchangeRunner]:
    async with in_process_runner(_config(redis_url, f"ipc-{os.getpid()}")) as r:
        yield r


def _last_endpoint(api: ZmqRouter, name: str) -> str:
    sock = api.client(name)._sock
    assert sock is not None
    return sock.getsockopt(zmq.LAST_ENDPOINT).decode()


async def _one_book(api: ZmqRouter) -> str:
    """Subscribe, wait for a book of PERP; the endpoint the subscriber connected to."""
    async with await api.subscribe(kinds="book", keys=PERP, snapshot=False) as sub:
        async for item in sub:
            if isinstance(item, Received) and isinstance(item.event, BookEvent):
                break
        (subscriber,) = sub.subscribers.values()
        return subscriber.endpoint


async def test_same_host_uses_ipc_forced_tcp_and_stale_path_use_tcp(
    runner: ExchangeRunner, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = runner.config.registration_name
    rec = runner.registrar.record if runner.registrar is not None else None
    assert rec is not None and rec.router_ipc.startswith("ipc://") and rec.pub_ipc.startswith("ipc://")
    ipc_dir = Path(rec.router_ipc[len("ipc://") :]).parent
    assert stat.S_IMODE(ipc_dir.stat().st_mode) == 0o700 and ipc_dir.stat().st_uid == os.getuid()

    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    async with ZmqRouter(redis_url) as api:  # same host, the files exist: ipc://
        await api.wait_for(name, timeout_s=10)
        assert _last_endpoint(api, name) == rec.router_ipc
        assert (await api.get_instrument(PERP)).key == PERP
        assert await _one_book(api) == rec.pub_ipc

    async with ZmqRouter(redis_url, transport="tcp") as api:  # forced by the option
        await api.wait_for(name, timeout_s=10)
        assert _last_endpoint(api, name) == rec.router_endpoint
        assert (await api.get_instrument(PERP)).key == PERP
        assert await _one_book(api) == rec.pub_endpoint

    monkeypatch.setenv(TRANSPORT_ENV, "tcp")  # forced by the environment
    async with ZmqRouter(redis_url) as api:
        await api.wait_for(name, timeout_s=10)
        assert _last_endpoint(api, name) == rec.router_endpoint
    monkeypatch.delenv(TRANSPORT_ENV)

    os.rename(ipc_dir, f"{ipc_dir}.moved")  # the socket files are gone: a stale record
    try:
        async with ZmqRouter(redis_url) as api:
            await api.wait_for(name, timeout_s=10)
            assert _last_endpoint(api, name) == rec.router_endpoint
            assert (await api.get_instrument(PERP)).key == PERP
    finally:
        os.rename(f"{ipc_dir}.moved", ipc_dir)


def _listing(directory: str) -> list[str] | None:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else None


def _dead_runner_dir(base: Path) -> Path:
    """What a runner killed with SIGKILL leaves: its directory and a socket file nobody listens on."""
    base.mkdir(mode=0o700, exist_ok=True)
    dead = base / "killed-runner-x1"
    dead.mkdir(mode=0o700)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(dead / "router"))
    sock.close()  # the file stays, as after a kill
    return dead


async def test_the_runner_removes_its_ipc_directory_at_exit(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    base = Path(tempfile.mkdtemp(prefix="tb-ipc-"))  # short: a Unix socket path has ~100 bytes
    monkeypatch.setenv(IPC_DIR_ENV, str(base))
    dead = _dead_runner_dir(base)
    async with in_process_runner(_config(redis_url, f"ipc-exit-{os.getpid()}")) as r:
        assert _listing(str(dead)) is None  # swept when the runner bound its own
        ipc_dir = r.ipc.dir
        assert ipc_dir is not None and _listing(ipc_dir) == ["pub", "router"]
    assert _listing(ipc_dir) is None
    assert _listing(str(base)) == []
    os.rmdir(base)


def _record(host: str, router_ipc: str, pub_ipc: str) -> RunnerRecord:
    return RunnerRecord(
        name="bn",
        exchange=PERP.exchange,
        pub_endpoint="tcp://10.0.0.5:5001",
        router_endpoint="tcp://10.0.0.5:5002",
        pid=1,
        host=host,
        version="x",
        protocol_version=1,
        started_at_ms=0,
        router_ipc=router_ipc,
        pub_ipc=pub_ipc,
    )


def test_choice_by_host_path_and_transport(tmp_path: Path) -> None:
    ctx = zmq.Context.instance()
    live = [ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB)]
    r_ipc, p_ipc = f"ipc://{tmp_path}/router", f"ipc://{tmp_path}/pub"
    try:
        live[0].bind(r_ipc)
        live[1].bind(p_ipc)
        here = _record(socket.gethostname(), r_ipc, p_ipc)
        assert (router_endpoint(here), pub_endpoint(here)) == (r_ipc, p_ipc)
        assert (router_endpoint(here, "tcp"), pub_endpoint(here, "tcp")) == (here.router_endpoint, here.pub_endpoint)
        elsewhere = _record("another-host", r_ipc, p_ipc)  # another machine's record: its paths mean nothing here
        assert (router_endpoint(elsewhere), pub_endpoint(elsewhere)) == (here.router_endpoint, here.pub_endpoint)
        stale = _record(socket.gethostname(), f"ipc://{tmp_path}/gone", f"ipc://{tmp_path}/x")
        assert (router_endpoint(stale), pub_endpoint(stale)) == (stale.router_endpoint, stale.pub_endpoint)
        (tmp_path / "x").write_text("not a socket")
        assert pub_endpoint(stale) == stale.pub_endpoint
        old = _record(socket.gethostname(), "", "")  # a runner from before ipc://
        assert router_endpoint(old) == old.router_endpoint
    finally:
        for s in live:
            s.close(0)
    # the record stays readable both ways: an old client's decoder ignores the new fields
    raw = msgspec.json.encode(here)

    class OldRecord(msgspec.Struct, kw_only=True):
        name: str
        router_endpoint: str

    assert msgspec.json.decode(raw, type=OldRecord).router_endpoint == here.router_endpoint


def test_transport_option_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    assert resolve_transport() == "auto"
    monkeypatch.setenv(TRANSPORT_ENV, "TCP")
    assert resolve_transport() == "tcp"
    assert resolve_transport("auto") == "auto"  # the option wins over the environment
    monkeypatch.setenv(TRANSPORT_ENV, "udp")
    with pytest.raises(ValueError, match=r"\$TRADEBUS_TRANSPORT must be one of auto, tcp"):
        resolve_transport()


async def test_curve_holds_on_ipc(redis_url: str, tmp_path: Path) -> None:
    name = f"ipc-curve-{os.getpid()}"
    server, trade, stranger = generate_keypair(), generate_keypair(), generate_keypair()
    write_keypair(tmp_path / "keys", name, server)
    allow = tmp_path / "allow.txt"
    allow.write_text(f"trade {trade.public} trade-key\n")
    cfg = _config(redis_url, name, curve_secret=server.secret, allow_file=str(allow))
    trusted = tmp_path / "keys" / f"{name}.key"
    async with in_process_runner(cfg) as r:
        rec = r.registrar.record if r.registrar is not None else None
        assert rec is not None and rec.router_ipc
        good = ClientSecurity.from_env({}, client_key=trade, trusted=trusted)
        async with ZmqRouter(redis_url, security=good) as api:
            await api.wait_for(name, timeout_s=10)
            assert _last_endpoint(api, name) == rec.router_ipc
            assert (await api.get_instrument(PERP)).key == PERP
            assert await _one_book(api) == rec.pub_ipc
        # on ipc:// as on tcp://: a plaintext client and a key outside the allow-list get nothing
        for curve in (None, stranger):
            sock = zmq.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            if curve is not None:
                sock.setsockopt(zmq.CURVE_SERVERKEY, rec.curve_key.encode())
                sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.public.encode())
                sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret.encode())
            sock.connect(rec.router_ipc)
            try:
                sock.send_multipart([b"", b"hello"])
                assert sock.poll(500) == 0
            finally:
                sock.close(0)
