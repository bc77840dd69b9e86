"""The rules the code states, enforced by the test command (docs/contributing.md).

* the import contracts in ``pyproject.toml`` (``[tool.importlinter]``): the layering
  model ← wire ← client, venues independent, the simulator engine venue-free, strategies on the
  client only — run with ``lint-imports`` exactly as a developer runs it;
* ``ruff check`` with the project's rule set, and ``mypy`` (strict, unused ignores reported).

Each runs the real tool over the whole tree and fails with its output.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*cmd: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}: pip install -e '.[dev]'")
    return str(path)


def test_import_contracts_hold() -> None:
    done = _run(_tool("lint-imports"), "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


@pytest.mark.timeout(600)
def test_ruff_check_passes() -> None:
    done = _run(_tool("ruff"), "check", ".", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.timeout(900)
def test_mypy_passes() -> None:
    # packages and strictness from [tool.mypy]; the cache lives in .mypy_cache as for a developer
    done = _run(_tool("mypy"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_allowlist_contract_reports_what_is_outside_it(tmp_path: Path) -> None:
    """The project's own contract type (tests/import_allowlist.py) on a package made here:
    the standard library, the allowed module and ``msgspec`` pass, the rest is named with its line."""
    pkg = tmp_path / "demo"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "wire.py").write_text("")
    (pkg / "other.py").write_text("")
    (pkg / "model" / "__init__.py").write_text(
        textwrap.dedent(
            """\
            import json
            import msgspec
            from demo import wire
            from demo import other
            import zmq
            """
        )
    )
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [tool.importlinter]
            root_packages = ["demo"]
            include_external_packages = true
            contract_types = ["allowlist: tests.import_allowlist.AllowlistContract"]

            [[tool.importlinter.contracts]]
            name = "model on wire and msgspec only"
            type = "allowlist"
            source_modules = ["demo.model"]
            allowed_modules = ["demo.wire"]
            allowed_external = ["msgspec"]
            """
        )
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": str(BIN)}
    done = _run(_tool("lint-imports"), "--no-cache", cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "demo.model -> demo.other (l.4)" in done.stdout, done.stdout
    assert "demo.model -> zmq (l.5)" in done.stdout, done.stdout
    assert "-> json" not in done.stdout and "-> msgspec" not in done.stdout and "-> demo.wire" not in done.stdout
