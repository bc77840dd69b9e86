"""A benchmark child's side of the harness protocol (``benchlib.procs``): commands on stdin,
one JSON line per answer on stdout, and the event loop it runs on."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

__all__ = ["run_async", "serve_stdin"]


def serve_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, answers: Mapping[str, Callable[[], Any]]) -> None:
    """Read command lines on a daemon thread: a line naming one of ``answers`` is answered with
    one JSON line of its value (computed on the loop); ``quit`` or the end of stdin sets ``stop``."""

    def command(line: str) -> None:
        if line in answers:
            print(json.dumps(answers[line]()), flush=True)
        elif line == "quit":
            stop.set()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(command, line.strip())
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read, name="commands", daemon=True).start()


def run_async(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop (what strategies use) or, without it, the default loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
