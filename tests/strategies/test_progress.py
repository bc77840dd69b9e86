"""The progress display (issue 21): redrawn in place on a terminal, a few log lines elsewhere."""

from __future__ import annotations

import io

from strategies.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_one_line_redrawn_then_the_total() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress("loading", 3, out, tty=True, clock=clock, log=lambda line: out.write("LOG " + line))
    for what in ("a", "bb", "c"):
        clock.now += 0.5
        p.step(what)
    clock.now += 0.2
    p.finish()
    text = out.getvalue()
    assert "LOG" not in text
    assert text.split("\r")[1:] == [
        "loading: 1/3 (33%) a",
        "loading: 2/3 (66%) bb",
        "loading: 3/3 (100%) c",
        "loading: 3/3 done in 1.7s\n",
    ]


def test_elsewhere_log_lines_at_most_every_period_and_at_the_end() -> None:
    logged: list[str] = []
    out, clock = io.StringIO(), Clock()
    p = Progress("reconciling", 100, out, tty=False, clock=clock, log_every_s=5, log=logged.append)
    for _ in range(100):
        clock.now += 0.2  # 20 s in all: a line every 5 s, not 100 lines
        p.step("x")
    p.finish()
    assert out.getvalue() == ""
    assert logged[0] == "reconciling: 100 to do"
    assert logged[1:-1] == [f"reconciling: {n}/100 ({n}%) x" for n in (25, 50, 75)]
    assert logged[-1] == "reconciling: 100/100 done in 20.0s"
