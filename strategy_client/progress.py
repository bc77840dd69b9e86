"""Progress of a long operation: a line redrawn in place on a terminal, log lines otherwise.

On a TTY ``label: 3/12 (25%) what`` is redrawn with ``\\r`` at most every ``redraw_s`` and
finished with a newline; elsewhere (a pipe, a log file, a container) a log line at the start,
then at most every ``log_every_s``, and one at the end with the count and the time taken — so a
script's output is not flooded and a person at a terminal sees it move.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from loguru import logger

__all__ = ["Progress"]


class Progress:
    def __init__(
        self,
        label: str,
        total: int,
        out: TextIO,
        *,
        tty: bool | None = None,
        log_every_s: float = 5.0,
        redraw_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.log_every_s = log_every_s
        self.redraw_s = redraw_s
        self.clock = clock
        self.log = log or (lambda line: logger.info("{}", line))
        self.done = 0
        self.started = clock()
        self._last = -1e9
        self._width = 0
        if not self.tty:
            self.log(f"{label}: {total} to do")
            self._last = self.started

    def _line(self, what: str) -> str:
        pct = f" ({100 * self.done // self.total}%)" if self.total else ""
        return f"{self.label}: {self.done}/{self.total}{pct}" + (f" {what}" if what else "")

    def step(self, what: str = "") -> None:
        """One more done (``what``: the item just finished, shown beside the count)."""
        self.done += 1
        now = self.clock()
        if self.tty:
            if now - self._last >= self.redraw_s or self.done == self.total:
                self._last = now
                line = self._line(what)
                self.out.write("\r" + line.ljust(self._width))
                self._width = len(line)
                self.out.flush()
        elif now - self._last >= self.log_every_s and self.done < self.total:
            self._last = now
            self.log(self._line(what))

    def finish(self) -> None:
        line = f"{self.label}: {self.done}/{self.total} done in {self.clock() - self.started:.1f}s"
        if self.tty:
            self.out.write("\r" + line.ljust(self._width) + "\n")
            self.out.flush()
            return
        self.log(line)
