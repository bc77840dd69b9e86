"""cryptofeed, unmodified, on all three offline venues over TLS: order books, trades and funding.

cryptofeed accepts only ``wss://`` addresses, so the venues serve TLS (``--tls``) and the
client process trusts the local CA through ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``, as a user
would. Only the exchange classes' base URLs change (``cryptofeed_probe.point_at``). The
probe runs in its own process (aiohttp makes its default TLS context when imported, so the
environment must be set before); this test trades through each venue's official REST client
meanwhile, since the public tapes move only when someone trades.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from exchanges.sim.tls import TlsFiles

from .trades import binance_client, bybit_http, okx_trade, trade_both

PROBE = Path(__file__).with_name("cryptofeed_probe.py")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")]


def _run_probe(feed: str, rest: str, ws: str, ca: Path, trade: Any) -> list[dict[str, Any]]:
    env = {**os.environ, "SSL_CERT_FILE": str(ca), "REQUESTS_CA_BUNDLE": str(ca), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(PROBE), feed, rest, ws], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        side = "Buy"
        while proc.poll() is None and time.monotonic() < deadline:
            trade(side)
            side = "Sell" if side == "Buy" else "Buy"
            time.sleep(0.5)  # a trade pace for the feed to see, not a wait for a condition
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and {"done": True} in lines, f"{lines}\n{err.decode()[-3000:]}"
    return lines


def _seen(lines: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(x["exchange"], x["channel"], x["symbol"]) for x in lines if "channel" in x}


def test_binance_spot_and_usdm(binance_tls: Any, tls: TlsFiles, trust_env: Path) -> None:
    client = binance_client(binance_tls)
    u = binance_tls.urls
    assert u.spot_ws.startswith("wss://") and u.spot_rest.startswith("https://")
    spot = _run_probe("binance", u.spot_rest, u.spot_ws, tls.ca, lambda side: trade_both(client, "binance", side))
    assert _seen(spot) == {("BINANCE", "l2_book", "BTC-USDT"), ("BINANCE", "trades", "BTC-USDT")}
    fut = _run_probe(
        "binance-futures", u.futures_rest, u.futures_ws, tls.ca, lambda side: trade_both(client, "binance", side)
    )
    assert {c for _, c, _ in _seen(fut)} == {"l2_book", "trades", "funding"}


def test_bybit(bybit_tls: Any, tls: TlsFiles, trust_env: Path) -> None:
    session = bybit_http(bybit_tls, tls.ca)
    u = bybit_tls.urls
    lines = _run_probe(
        "bybit", u.rest, u.rest.replace("https://", "wss://"), tls.ca, lambda side: trade_both(session, "bybit", side)
    )
    assert ("BYBIT", "trades", "BTC-USDT") in _seen(lines) and ("BYBIT", "funding", "BTC-USDT-PERP") in _seen(lines)


def test_okx(okx_tls: Any, tls: TlsFiles, trust_env: Path) -> None:
    trade = okx_trade(okx_tls)
    u = okx_tls.urls
    lines = _run_probe(
        "okx", u.rest, u.rest.replace("https://", "wss://"), tls.ca, lambda side: trade_both(trade, "okx", side)
    )
    assert ("OKX", "trades", "BTC-USDT-PERP") in _seen(lines) and ("OKX", "funding", "BTC-USDT-PERP") in _seen(lines)
