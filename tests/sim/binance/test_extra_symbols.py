"""``--extra-symbols N``: synthetic pairs ``SYM001USDT`` … listed, streamed, tradable, and loaded
by a runner like the built-in ones; the bench firehose spreads over all of them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import zmq

from exchanges.binance.sim import BinanceSim
from exchanges.binance.sim.synthetic import extra_symbol_name, extra_symbols, with_extra_symbols
from exchanges.sim.cli import main
from tests.helpers import eventually, free_port_pair
from tests.integration.conftest import start_runner

from .conftest import TEST_OPTIONS
from .helpers import Rest, WsClient, json_of

NAMES = [extra_symbol_name(i) for i in range(1, 17)]


@pytest.fixture
async def wide() -> AsyncIterator[BinanceSim]:
    """A venue listing BTCUSDT, ETHUSDT and 16 synthetic pairs."""
    venue = BinanceSim(
        port_base=free_port_pair(), seed=7, options=TEST_OPTIONS, step_ms=50, config=with_extra_symbols(None, 16)
    )
    async with venue:
        yield venue


def test_extra_symbols_are_spot_and_perp_pairs_with_sane_filters() -> None:
    specs = extra_symbols(3)
    assert [(s.symbol, s.kind.value) for s in specs] == [
        (name, kind) for name in ("SYM001USDT", "SYM002USDT", "SYM003USDT") for kind in ("spot", "perp")
    ]
    for s in specs:
        assert s.base == s.underlying == s.symbol.removesuffix("USDT") and s.quote == "USDT"
        assert s.min_price < s.start_price < s.max_price and s.min_qty * s.start_price < s.min_notional * 10
    with pytest.raises(ValueError, match=r"0\.\.999"):
        extra_symbols(1000)


@pytest.mark.parametrize("value", ["-1", "1000"])
def test_cli_refuses_an_out_of_range_count(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["binance", "--port-base", "40000", "--extra-symbols", value]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --extra-symbols must be in 0..999, got {value}", err


async def test_both_hosts_list_them_in_exchange_info(wide: BinanceSim) -> None:
    spot, fut = Rest(wide, "spot"), Rest(wide, "futures")
    try:
        listed_spot = json_of(await spot.public("GET", "/api/v3/exchangeInfo"))["symbols"]
        listed_fut = json_of(await fut.public("GET", "/fapi/v1/exchangeInfo"))["symbols"]
    finally:
        await spot.close()
        await fut.close()
    for listed in (listed_spot, listed_fut):
        names = [s["symbol"] for s in listed]
        assert names[:2] == ["BTCUSDT", "ETHUSDT"] and names[2:] == NAMES
        sym = next(s for s in listed if s["symbol"] == "SYM016USDT")
        price = next(f for f in sym["filters"] if f["filterType"] == "PRICE_FILTER")
        assert Decimal(price["tickSize"]) == Decimal("0.01") and sym["status"] == "TRADING"


async def test_a_synthetic_perp_streams_its_book_and_trades(wide: BinanceSim) -> None:
    ws = await WsClient.connect(wide.urls.futures_ws + "/public/stream?streams=sym005usdt@depth5@100ms")
    fut = Rest(wide, "futures")
    try:
        frame = await ws.wait_for(lambda m: "u" in m.get("data", {}), what="a SYM005USDT depth frame")
        bid, ask = Decimal(frame["data"]["b"][0][0]), Decimal(frame["data"]["a"][0][0])
        assert 0 < bid < ask
        reply = await fut.signed("POST", "/fapi/v1/order", symbol="SYM005USDT", side="BUY", type="MARKET", quantity="1")
        assert reply.status_code == 200, reply.text
        assert json_of(reply)["status"] in ("NEW", "FILLED")
    finally:
        await ws.close()
        await fut.close()


async def test_the_firehose_spreads_its_rate_over_every_subscribed_symbol(wide: BinanceSim) -> None:
    streams = "/".join(f"{n.lower()}@depth5@100ms" for n in NAMES)
    ws = await WsClient.connect(wide.urls.futures_ws + f"/public/stream?streams={streams}")
    async with httpx.AsyncClient(base_url=wide.urls.futures_rest) as http:
        try:
            state = (await http.post("/_sim/bench/firehose", json={"rate": 3200})).json()
            assert len(state["streams"]) == 16

            def per_symbol() -> dict[str, int]:
                counts: dict[str, int] = {}
                for m in ws.messages:
                    if isinstance(m, dict) and "u" in m.get("data", {}):
                        counts[m["stream"]] = counts.get(m["stream"], 0) + 1
                return counts

            await eventually(
                lambda: len(per_symbol()) == 16 and min(per_symbol().values()) >= 20,
                what="firehose frames on all 16 streams",
            )
            await http.delete("/_sim/bench/firehose")
            counts = per_symbol()
            assert max(counts.values()) - min(counts.values()) <= max(counts.values()) // 2 + 5, counts
        finally:
            await ws.close()


def _book_topics(endpoint: str, want: int, timeout_s: float) -> set[bytes]:
    ctx = zmq.Context()
    sock: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"ob|binance|perp|")
    sock.connect(endpoint)
    seen: set[bytes] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < want and time.monotonic() < deadline:
            if sock.poll(200):
                seen.add(sock.recv_multipart()[0])
    finally:
        sock.close(0)
        ctx.term()
    return seen


def test_a_runner_subscribed_to_sixteen_synthetic_perps_publishes_a_book_for_each(
    redis_url: str, tmp_path: Path
) -> None:
    port = free_port_pair()
    with BinanceSim.in_thread(port_base=port, seed=3, config=with_extra_symbols(None, 16)):
        runner = start_runner(
            redis_url,
            tmp_path,
            "bn-wide",
            "--sim-connect",
            f"127.0.0.1:{port}",
            "--symbols",
            ",".join(NAMES),
            "--kinds",
            "perp",
        )
        try:
            record: Any = runner.record(timeout=60)
            topics = _book_topics(record.pub_endpoint, 16, 30)
        finally:
            runner.stop()
    assert topics == {f"ob|binance|perp|{n}|".encode() for n in NAMES}
