"""The CLI docs stay true (issue 21): every option docs/manual.md and docs/runner.md name
exists in the real console scripts' --help, the documented exit statuses are the real ones, and
the commands shown in docs/runner.md and docs/simulator-bybit.md run."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from exchange_runner.ports import free_port

from .conftest import ROOT

BIN = Path(sys.executable).parent
DOCS = ROOT / "docs"
OPTION = re.compile(r"--[a-z][a-z-]*")


def script(name: str) -> str:
    return shutil.which(name, path=str(BIN)) or name


def run(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "250"},
    )


def section(path: Path, heading: str) -> str:
    text = path.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_manual_options_exist() -> None:
    documented = set(OPTION.findall(section(DOCS / "manual.md", "Options")))
    assert {"--exchange", "--redis-url", "--runner", "--history"} <= documented
    help_text = run(script("strategy"), "manual", "--help").stdout
    missing = sorted(o for o in documented if not re.search(rf"{o}(?![a-z-])", help_text))
    assert missing == [], f"docs/manual.md documents options `strategy manual` does not have: {missing}"


def test_manual_exit_statuses_are_the_documented_ones() -> None:
    text = (DOCS / "manual.md").read_text()
    assert "**2** the REPL could not start" in text
    unknown = run(script("strategy"), "manual", "--exchange", "kraken", stdin="balance\n")
    assert unknown.returncode == 2 and "unknown exchange 'kraken'" in unknown.stdout + unknown.stderr
    no_redis = run(script("strategy"), "manual", "--redis-url", f"redis://127.0.0.1:{free_port()}/0", stdin="x\n")
    assert no_redis.returncode == 2, no_redis.stdout + no_redis.stderr


def _runner_help_texts() -> str:
    commands = [
        ["binance"],
        ["okx"],
        ["ls"],
        ["risk", "show"],
        ["keys", "generate"],
        ["config", "show", "binance"],
        ["history", "orders"],
    ]
    texts = [run(script("runner"), "--help").stdout]
    texts += [run(script("runner"), *c, "--help").stdout for c in commands]
    return "\n".join(texts)


def test_runner_doc_options_exist() -> None:
    documented = set(OPTION.findall((DOCS / "runner.md").read_text()))
    documented.discard("--paper")  # the strategies' flag, named for comparison
    help_text = _runner_help_texts()
    missing = sorted(o for o in documented if not re.search(rf"{o}(?![a-z-])", help_text))
    assert missing == [], f"docs/runner.md names options no `runner` command has: {missing}"


def test_runner_doc_commands_run() -> None:
    text = (DOCS / "runner.md").read_text()
    shown = re.findall(r"^runner config show .*$", text, flags=re.M)
    assert shown, "docs/runner.md shows a `runner config show` command"
    for line in shown:
        out = run(script("runner"), *line.split()[1:])
        assert out.returncode == 0, (line, out.stderr)
        assert out.stdout.startswith("# runner ")
    version = run(script("runner"), "--version")
    assert version.returncode == 0 and version.stdout.startswith("runner (tradebus) ")


def test_bybit_simulator_commands_run() -> None:
    block = section(DOCS / "simulator-bybit.md", "Run it")
    commands = re.findall(r"^(python -m [\w.]+(?: bybit)?) --port-base \d+", block, flags=re.M)
    assert commands == ["python -m exchanges.sim bybit", "python -m exchanges.bybit.sim"], commands
    assert "once the lead wires" not in block
    for command in commands:
        port = free_port()
        args = [sys.executable, *command.split()[1:], "--port-base", str(port)]
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert proc.stdout is not None
            seen = []
            for line in proc.stdout:  # it prints its endpoints once it serves
                seen.append(line)
                if f"ws://127.0.0.1:{port}/v5/private" in line:
                    break
            else:
                raise AssertionError(f"{command} ended without serving: {''.join(seen)}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
