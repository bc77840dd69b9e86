"""One name, one runner; Redis with AUTH and TLS; no open door on a public address (issue 14).

A private redis-server with ``requirepass`` listens on a plain port and, when this machine's
redis-server was built with TLS, on a TLS port too (a self-signed certificate made with
openssl). Runner A registers over ``rediss://:password@…`` (or ``redis://:password@…``), a
second runner of the same name is refused with one line naming A's PID and host, a third with
``--replace`` takes the name over and A stops. The password never shows in a log line or on
the terminal. A runner asked to bind 0.0.0.0 without CURVE refuses to start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from exchange_runner.ports import free_port, free_port_pair
from strategy_client.router import ZmqRouter
from strategy_client.security import ClientSecurity
from strategy_client.wire import RunnerRecord, decode_record, runner_key
from tests.helpers import eventually_sync
from tests.integration.conftest import ROOT

PASSWORD = "s3cret-redis-pass-" + os.urandom(6).hex()
NAME = f"solo-{os.getpid()}"


@dataclass
class AuthRedis:
    proc: subprocess.Popen[bytes]
    plain_url: str
    tls_url: str  # "" when redis-server has no TLS


def _tls_files(tmp: Path) -> tuple[Path, Path] | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = tmp / "redis.crt", tmp / "redis.key"
    done = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
    )
    return (cert, key) if done.returncode == 0 else None


def _ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _binaries() -> list[str]:
    found = [shutil.which("redis-server"), "/usr/bin/redis-server", "/usr/local/bin/redis-server"]
    out: list[str] = []
    for b in found:
        if b and os.path.exists(b) and os.path.realpath(b) not in map(os.path.realpath, out):
            out.append(b)
    return out


def _up_or_gone(url: str, proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: _ping(url) or proc.poll() is not None


@pytest.fixture(scope="module")
def auth_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRedis]:
    binaries = _binaries()
    if not binaries:
        pytest.skip("no redis-server on this machine")
    tmp = tmp_path_factory.mktemp("authredis")
    port, tls_port = free_port(), free_port()
    tls = _tls_files(tmp)
    plain = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    proc: subprocess.Popen[bytes] | None = None
    tls_url = ""
    # a redis-server built with TLS if there is one (the venv's may not be), else plain + AUTH
    for binary, with_tls in [*((b, True) for b in binaries if tls), (binaries[0], False)]:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--requirepass", PASSWORD, "--dir", str(tmp)]
        if with_tls and tls is not None:
            cert, key = tls
            args += ["--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key)]
            args += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually_sync(_up_or_gone(plain, proc), timeout=10, what="redis-server up")
        if proc.poll() is None:
            if with_tls and tls is not None:
                tls_url = f"rediss://:{PASSWORD}@127.0.0.1:{tls_port}/0?ssl_ca_certs={tls[0]}"
            break
    assert proc is not None and proc.poll() is None
    try:
        if tls_url:
            assert _ping(tls_url)
        else:
            warnings.warn("no redis-server with TLS here: rediss:// is not exercised", stacklevel=1)
        assert not _ping(f"redis://127.0.0.1:{port}/0")  # without the password nothing is readable
        yield AuthRedis(proc, plain, tls_url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    log: Path


def _start(url: str, tmp: Path, tag: str, *extra: str) -> Proc:
    log = tmp / f"{tag}.log"
    args = [sys.executable, "-m", "exchange_runner.cli", "binance", "--redis-url", url, "--name", NAME]
    args += ["--sim-port-base", str(free_port_pair()), "--symbols", "BTCUSDT", *extra]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    return Proc(proc, log)


def _record(url: str) -> RunnerRecord | None:
    client = redis.Redis.from_url(url)
    try:
        raw = client.get(runner_key(NAME))
    finally:
        client.close()
    return decode_record(raw) if isinstance(raw, bytes) else None


def _ready(url: str, p: Proc) -> RunnerRecord:
    def check() -> RunnerRecord | None:
        if p.proc.poll() is not None:
            raise AssertionError(f"runner exited: {p.log.read_text()[-3000:]}")
        rec = _record(url)
        return rec if rec is not None and rec.pid == p.proc.pid and rec.status == "ready" else None

    found = eventually_sync(check, timeout=60, interval=0.05, what="runner ready")
    assert found is not None
    return found


def _stop(p: Proc) -> None:
    if p.proc.poll() is None:
        p.proc.terminate()
        try:
            p.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait(timeout=5)


async def test_one_runner_per_name_replace_takes_over_over_redis_auth_and_tls(
    auth_redis: AuthRedis, tmp_path: Path
) -> None:
    url = auth_redis.tls_url or auth_redis.plain_url
    a = _start(url, tmp_path, "a")
    procs = [a]
    try:
        rec_a = _ready(url, a)
        # a client finds it over the same authenticated (TLS) URL
        async with ZmqRouter(url, security=ClientSecurity()) as router:
            await router.wait_for(NAME, timeout_s=10)
            assert (await router.ping(NAME)).ready
        # a second runner of the same name: refused, one line naming the holder
        b = _start(auth_redis.plain_url, tmp_path, "b")
        procs.append(b)
        assert b.proc.wait(timeout=90) == 2
        refusal = [line for line in b.log.read_text().splitlines() if line.startswith("runner: error:")]
        assert refusal == [
            f"runner: error: runner name {NAME!r} is held by pid {a.proc.pid} on host {socket.gethostname()} "
            + refusal[0].split(f"on host {socket.gethostname()} ", 1)[1]
        ]
        assert "pass --replace" in refusal[0]
        assert "simulator" not in b.log.read_text()  # refused before the venue was loaded
        assert a.proc.poll() is None and _record(url) is not None
        assert _record(url).pid == a.proc.pid  # type: ignore[union-attr]
        # --replace: the new one takes the name, the old one stops (and does not write it back)
        c = _start(url, tmp_path, "c", "--replace")
        procs.append(c)
        rec_c = _ready(url, c)
        assert rec_c.epoch != rec_a.epoch
        assert a.proc.wait(timeout=30) == 0
        assert "was taken over by pid" in a.log.read_text()
        assert _record(url).pid == c.proc.pid  # type: ignore[union-attr]
    finally:
        for p in procs:
            _stop(p)
    for p in procs:
        assert PASSWORD not in p.log.read_text(), f"{p.log.name} shows the Redis password"


def test_an_unreachable_authenticated_redis_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    done = subprocess.run(
        [sys.executable, "-m", "exchange_runner.cli", "binance", "--redis-url", url, "--name", NAME],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert PASSWORD not in done.stderr + done.stdout
    assert ":***@127.0.0.1" in done.stderr


def test_a_public_bind_without_curve_is_refused_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exchange_runner.cli", "binance", "--bind", "0.0.0.0", "--name", NAME],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("runner: error: refusing to bind 0.0.0.0 without CURVE")
    assert "--insecure" in lines[-1]
