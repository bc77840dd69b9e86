"""Every Python example in docs/client.md runs as written, against a real runner."""

from __future__ import annotations

import re

import pytest

from ..integration.conftest import ROOT, RunnerProc

DOC = ROOT / "docs" / "client.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_has_examples() -> None:
    assert len(python_blocks()) >= 5


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_doc_example_runs(
    index: int,
    runner_a: RunnerProc,
    client_redis: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Plain code (no running loop), like a script; Redis comes from $REDIS_URL as documented."""
    monkeypatch.setenv("REDIS_URL", client_redis)
    source = python_blocks()[index]
    exec(compile(source, f"{DOC.name}[python block {index}]", "exec"), {"__name__": "__doc_example__"})
    out = capsys.readouterr().out
    assert out.strip(), "every example prints what it shows"


def test_readme_example_runs(runner_a: RunnerProc, client_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", client_redis)
    section = (ROOT / "README.md").read_text().split("## Use from Python / Jupyter", 1)[1]
    source = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    ns: dict[str, object] = {}
    exec(compile(source, "README.md[Use from Python / Jupyter]", "exec"), ns)
    rows = ns["rows"]
    assert isinstance(rows, list) and rows[-1]["order.status"] == "filled"
