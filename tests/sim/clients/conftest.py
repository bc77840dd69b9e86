"""Fixtures for the third-party client matrix: the three offline venues over TLS, each in a
background thread, with a local CA made once per session, and the environment a client reads
to trust it (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchanges.binance.sim import BinanceSim, BinanceSimOptions, ThreadedBinanceSim
from exchanges.bybit.sim import BybitSim, BybitSimOptions, ThreadedBybitSim
from exchanges.okx.sim import OkxSim, OkxSimOptions, ThreadedOkxSim
from exchanges.sim.tls import TlsFiles, local_tls
from tests.helpers import free_port, free_port_pair


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return local_tls(tmp_path_factory.mktemp("data") / "sim-tls")


@pytest.fixture
def trust_env(tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What a user exports so that their clients trust the venue's CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca))
    return tls.ca


@pytest.fixture(scope="module")
def binance_tls(tls: TlsFiles) -> Iterator[ThreadedBinanceSim]:
    options = BinanceSimOptions(enforce_rate_limits=False)
    with BinanceSim.in_thread(port_base=free_port_pair(), seed=3, options=options, tls=tls) as sim:
        yield sim


@pytest.fixture(scope="module")
def bybit_tls(tls: TlsFiles) -> Iterator[ThreadedBybitSim]:
    options = BybitSimOptions(enforce_rate_limits=False)
    with BybitSim.in_thread(port=free_port(), seed=3, options=options, tls=tls) as sim:
        yield sim


@pytest.fixture(scope="module")
def okx_tls(tls: TlsFiles) -> Iterator[ThreadedOkxSim]:
    options = OkxSimOptions(enforce_rate_limits=False, ws_connects_per_s=0)
    with OkxSim.in_thread(port=free_port(), seed=3, options=options, tls=tls) as sim:
        yield sim
