"""TLS on the offline venues: the local CA and server certificate (made once, kept, renewed when
they no longer fit), your own certificate, HTTPS and WSS on the same ports for all three venues,
a plain client refused, and ``python -m exchanges.sim --tls``."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography import x509

from exchanges.binance.sim import BinanceSim
from exchanges.bybit.sim import BybitSim
from exchanges.okx.sim import OkxSim
from exchanges.sim.cli import main
from exchanges.sim.tls import TlsFiles, local_tls, own_tls
from tests.helpers import free_port, free_port_pair

ROOT = Path(__file__).resolve().parents[3]


def _sans(path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in san]


def test_local_ca_made_once_and_server_cert_renewed_for_new_hosts(tmp_path: Path) -> None:
    first = local_tls(tmp_path)
    assert (
        oct(first.key.stat().st_mode & 0o777) == "0o600"
        and oct((tmp_path / "ca.key").stat().st_mode & 0o777) == "0o600"
    )
    assert {"127.0.0.1", "::1", "localhost"} <= set(_sans(first.cert))
    ca, cert = first.ca.read_bytes(), first.cert.read_bytes()
    again = local_tls(tmp_path, hosts=["0.0.0.0"])  # a wildcard bind adds no name: nothing changes
    assert again.ca.read_bytes() == ca and again.cert.read_bytes() == cert
    wider = local_tls(tmp_path, hosts=["sim.test"])
    assert wider.ca.read_bytes() == ca and wider.cert.read_bytes() != cert and "sim.test" in _sans(wider.cert)
    (tmp_path / "server.key").write_bytes(b"")  # a broken key is replaced, the CA kept
    (tmp_path / "server.key").unlink()
    assert local_tls(tmp_path).ca.read_bytes() == ca


def test_own_certificate_and_bad_files(tmp_path: Path, tls: TlsFiles) -> None:
    mine = own_tls(tls.cert, tls.key, tls.ca)
    assert mine.cert == tls.cert and mine.ca == tls.ca
    assert own_tls(tls.cert, tls.key).ca == tls.cert  # a self-signed one is its own CA
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(ValueError, match=r"junk\.pem"):
        own_tls(tmp_path / "junk.pem", tls.key)


async def _https_and_wss(rest: str, ws: str, path: str, ctx: ssl.SSLContext) -> Any:
    async with httpx.AsyncClient(verify=ctx) as client:
        status = (await client.get(rest + path)).status_code
    async with websockets.connect(ws, ssl=ctx) as conn:
        await conn.ping()
    return status


async def test_three_venues_serve_https_and_wss(tls: TlsFiles) -> None:
    ctx = tls.client_context()
    async with (
        BinanceSim(port_base=free_port_pair(), tls=tls) as binance,
        BybitSim(port=free_port(), tls=tls) as bybit,
        OkxSim(port=free_port(), tls=tls) as okx,
    ):
        b, y, o = binance.urls, bybit.urls, okx.urls
        assert all(u.startswith("https://") for u in (b.spot_rest, b.futures_rest, y.rest, o.rest))
        assert all(u.startswith("wss://") for u in (b.spot_ws_api, b.futures_ws, y.public_linear, o.ws_public))
        assert "https://" in binance.endpoints()["spot REST"]
        assert await _https_and_wss(b.spot_rest, b.spot_ws + "/ws", "/api/v3/time", ctx) == 200
        assert await _https_and_wss(b.futures_rest, b.futures_ws + "/public/ws", "/fapi/v1/time", ctx) == 200
        assert await _https_and_wss(y.rest, y.public_spot, "/v5/market/time", ctx) == 200
        assert await _https_and_wss(o.rest, o.ws_public, "/api/v5/public/time", ctx) == 200
        with pytest.raises(httpx.TransportError):  # a plain-HTTP client on the TLS port
            async with httpx.AsyncClient() as plain:
                await plain.get(o.rest.replace("https://", "http://") + "/api/v5/public/time")
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA
            async with httpx.AsyncClient(verify=ssl.create_default_context()) as untrusting:
                await untrusting.get(y.rest + "/v5/market/time")


def test_cli_cert_without_key_is_one_line(capsys: pytest.CaptureFixture[str], tls: TlsFiles) -> None:
    assert main(["--cert", str(tls.cert), "okx", "--port-base", "40000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --cert and --key go together"]


def test_cli_tls_serves_and_prints_the_ca(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRADEBUS_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchanges.sim", "--tls", "bybit", "--port-base", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline()]
        while banner[-1] and "Ctrl-C" not in banner[-1]:
            banner.append(proc.stdout.readline())
        ca = tmp_path / "sim-tls" / "ca.pem"
        assert any(f"https://127.0.0.1:{port}/v5/" in line for line in banner), banner
        assert any(str(ca) in line and "CA certificate" in line for line in banner), banner
        r = httpx.get(f"https://localhost:{port}/v5/market/time", verify=ssl.create_default_context(cafile=str(ca)))
        assert r.json()["retCode"] == 0
        asyncio.run(
            _https_and_wss(
                f"https://127.0.0.1:{port}",
                f"wss://127.0.0.1:{port}/v5/public/linear",
                "/v5/market/time",
                ssl.create_default_context(cafile=str(ca)),
            )
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
