"""What an xdist worker printed before it died reaches the run's report.

A worker's own output goes nowhere a CI log shows: execnet points its stdout at /dev/null, and a
test's stderr is pytest's capture file. So when a worker ends in the middle of a test — past its
timeout, an abort in C code (a libzmq assertion), a segfault — the report said only "worker
'gw0' crashed while running …". Here each worker writes to a file of the run: faulthandler's dump
on a fatal signal, and on a timeout every thread's stack and every unfinished asyncio task's
(a hung ``await`` shows only the event loop's ``select`` in the main thread's stack). The main
process appends that file to the crashed test's report; an empty file says the worker was killed
from outside (SIGKILL, the kernel's out-of-memory killer).
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import shutil
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any, TextIO

import pytest

_DIR_KEY = "tradebus_worker_output_dir"
_OUT = pytest.StashKey[TextIO]()
_DIR = pytest.StashKey[Path]()
_TAIL_CHARS = 30_000


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None:
        if config.pluginmanager.hasplugin("xdist"):
            config.stash[_DIR] = Path(tempfile.mkdtemp(prefix="tradebus-pytest-workers-"))
        return
    where = workerinput.get(_DIR_KEY)
    if where is None:
        return
    out = open(Path(where) / f"{workerinput['workerid']}.txt", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    config.stash[_OUT] = out
    faulthandler.enable(file=out, all_threads=True)  # after pytest's own (trylast): this file wins


def pytest_unconfigure(config: pytest.Config) -> None:
    where = config.stash.get(_DIR, None)
    if where is not None:
        shutil.rmtree(where, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    where = node.config.stash.get(_DIR, None)
    if where is not None:
        node.workerinput[_DIR_KEY] = str(where)


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem: str, report: pytest.TestReport, sched: Any) -> None:
    node = getattr(report, "node", None)
    gateway = getattr(node, "gateway", None)
    where = node.config.stash.get(_DIR, None) if node is not None and gateway is not None else None
    if where is None or gateway is None:
        return
    path = Path(where) / f"{gateway.id}.txt"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    if len(text) > _TAIL_CHARS:
        text = "…" + text[-_TAIL_CHARS:]
    said = text.strip() or (
        "(nothing: no timeout and no fatal signal Python could report — killed from outside, "
        "e.g. SIGKILL or the out-of-memory killer)"
    )
    report.longrepr = f"{report.longrepr}\n\nwhat worker {gateway.id!r} wrote before it ended:\n{said}"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """In a worker, a test past its timeout writes its stacks to the worker's file, then ends
    the worker (as pytest-timeout's ``thread`` method does, whose own print is lost there)."""
    out = item.config.stash.get(_OUT, None)
    if out is None or settings.method != "thread":
        return None
    timer = threading.Timer(settings.timeout, _timed_out, (item.nodeid, settings.timeout, out))
    timer.name = f"timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]
    timer.start()
    return True


def _timed_out(nodeid: str, timeout: float, out: TextIO) -> None:
    try:
        out.write(f"\n+++ Timeout: {nodeid} ran past {timeout} s +++\n")
        names = {t.ident: t.name for t in threading.enumerate()}
        me = threading.get_ident()
        for ident, frame in sys._current_frames().items():
            if ident != me:
                out.write(f"\n~~~ thread {names.get(ident, '?')} ({ident}) ~~~\n")
                out.write("".join(traceback.format_stack(frame)))
        tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
        for task in tasks:
            out.write(f"\n~~~ asyncio task {task.get_name()} ~~~\n")
            task.print_stack(file=out)
        out.write("+++ Timeout +++\n")
        out.flush()
    finally:
        os._exit(1)
