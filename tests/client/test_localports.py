"""Local ports for embedded services: outside the ephemeral range, never handed out twice at once."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from strategy_client import localports
from strategy_client.localports import free_port, free_port_pair, unassigned_range

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_reservations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    return tmp_path / f"tradebus-ports-{os.getuid()}"


def test_ports_lie_outside_the_kernels_ephemeral_range() -> None:
    # The runner's own Redis connection (or any client socket on the machine) takes its local
    # port from the ephemeral range: a venue port found free there could be taken before the
    # venue binds it ("port in use" at a runner's start, seen in CI).
    lo, hi = localports._ephemeral_range()
    for _ in range(50):
        n = free_port_pair(count=3)
        assert all(not (lo <= p <= hi) for p in (n, n + 1, n + 2)), (n, lo, hi)
        assert n >= 10000
    ulo, uhi = unassigned_range()
    assert uhi < lo or ulo > hi


def test_a_handed_out_port_is_not_handed_out_again_while_reserved(own_reservations: Path) -> None:
    seen: set[int] = set()
    for _ in range(300):
        n = free_port_pair()
        assert n not in seen and n + 1 not in seen
        seen.update((n, n + 1))
    assert {int(p.name) for p in own_reservations.iterdir()} == seen


def test_a_port_bound_by_someone_else_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", free_port()))
    busy.listen()
    taken = busy.getsockname()[1]
    # Offer the bound port first, then a free one: the bound one must be passed over.
    offers = iter([taken, taken + 7])
    monkeypatch.setattr(random.Random, "randint", lambda self, a, b: next(offers))
    try:
        got = free_port(host="127.0.0.1")
    finally:
        busy.close()
    assert got == taken + 7


def test_a_stale_reservation_is_reclaimed(own_reservations: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = free_port()
    mark = own_reservations / str(n)
    monkeypatch.setattr(random.Random, "randint", lambda self, a, b: n)
    with pytest.raises(localports.PortsExhausted):
        free_port()  # still reserved: every try offers the same port
    old = time.time() - localports.RESERVE_S - 1
    os.utime(mark, (old, old))
    assert free_port() == n


def test_processes_allocating_at_once_get_distinct_ports(own_reservations: Path) -> None:
    code = (
        "import sys, tempfile; tempfile.tempdir = sys.argv[1]\n"
        "from strategy_client.localports import free_port_pair\n"
        "print(' '.join(str(free_port_pair()) for _ in range(40)))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(own_reservations.parent)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    ports: list[int] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        ports.extend(int(p) for p in out.split())
    spans = {p for n in ports for p in (n, n + 1)}
    assert len(spans) == 2 * len(ports)


def test_stale_reservations_are_swept_once_per_process(own_reservations: Path) -> None:
    n = free_port()
    old = time.time() - localports.RESERVE_S - 1
    own_reservations.mkdir(exist_ok=True)
    stale = own_reservations / "99999"  # no port has that name
    stale.touch()
    os.utime(stale, (old, old))
    localports._swept.discard(own_reservations)
    free_port()
    assert not stale.exists() and (own_reservations / str(n)).exists()
