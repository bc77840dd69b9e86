"""kill -9 of a writing process: everything it was told is journaled is there after a restart.

A child process writes intents and appends fills in a loop and prints a line for each intent
that ``write_intent`` returned from and for each fill whose ``on_commit`` ran. The parent kills
it with SIGKILL at a random point, reopens the journal and finds every printed id.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from strategy_client.journal import Journal

from ..integration.conftest import ROOT
from .conftest import Backend

CHILD = """
import asyncio, sys
from decimal import Decimal
from strategy_client.journal import FillRecord, Journal, ProcessInfo
from tests.journal.factories import fill, request

url = sys.argv[1] or None
j = Journal.open(url, process=ProcessInfo(role="runner", name="binance:main"), data_dir=sys.argv[2])
round_ = sys.argv[3]

def committed(tid):
    sys.stdout.write(f"C {tid}\\n"); sys.stdout.flush()

async def main():
    async with j.running():
        for i in range(1_000_000):
            cid = f"k{round_}-{i}"
            j.write_intent(request(cid))
            sys.stdout.write(f"I {cid}\\n"); sys.stdout.flush()
            tid = f"t{round_}-{i}"
            await j.append(FillRecord(fill=fill(cid, tid)), on_commit=lambda t=tid: committed(t))
            if i % 7 == 0:
                await asyncio.sleep(0)

asyncio.run(main())
"""


@pytest.mark.parametrize("rounds", [4])
def test_kill_9_loses_nothing_that_was_reported_journaled(backend: Backend, tmp_path: Path, rounds: int) -> None:
    rng = random.Random(1313)
    reported_intents: set[str] = set()
    reported_fills: set[str] = set()
    for r in range(rounds):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, backend.url or "", str(backend.data_dir), str(r)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.stdout is not None
        target = rng.randint(50, 400)
        for seen, line in enumerate(proc.stdout, start=1):
            kind, ident = line.split()
            (reported_intents if kind == "I" else reported_fills).add(ident)
            if seen >= target:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        for line in proc.stdout:  # lines written before the kill landed
            kind, ident = line.split()
            (reported_intents if kind == "I" else reported_fills).add(ident)
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()

    j = Journal.open(backend.url, stream="runner:binance:main", data_dir=backend.data_dir)
    try:
        intents = {o.client_id for o in j.unresolved_orders()}
        fill_rows = [f.trade_id for f in j.history_fills()]
        fills = set(fill_rows)
        runs = j.runs()
    finally:
        j.close()
    assert reported_intents and reported_fills
    assert reported_intents <= intents, sorted(reported_intents - intents)[:5]
    assert reported_fills <= fills, sorted(reported_fills - fills)[:5]
    assert len(fill_rows) == len(fills)  # no fill twice
    assert len(runs) == rounds and all(run.stopped_ms is None for run in runs)  # killed: never stopped
