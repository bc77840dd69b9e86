"""strategy_client stands alone: a research environment can install and use it without the
runner or the venue adapters."""

from __future__ import annotations

import subprocess
import sys

from ..integration.conftest import ROOT

PROBE = """
import importlib, pkgutil, sys
import strategy_client
for info in pkgutil.walk_packages(strategy_client.__path__, "strategy_client."):
    importlib.import_module(info.name)
for name in strategy_client.__all__:
    getattr(strategy_client, name)
leaked = sorted(n for n in sys.modules if n.split(".")[0] in ("exchange_runner", "exchanges"))
print("modules:", sum(n.startswith("strategy_client") for n in sys.modules))
print("leaked:", leaked)
sys.exit(1 if leaked else 0)
"""


def test_strategy_client_imports_nothing_from_the_runner_or_the_adapters() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "leaked: []" in out.stdout
    assert int(out.stdout.split("modules:")[1].split()[0]) >= 20  # the walk really imported the package


def test_importing_the_model_stays_cheap() -> None:
    """The runner and the simulators import strategy_client.model: that must not pull in the
    client's sockets and Redis (the package exports load on first use)."""
    probe = (
        "import sys, strategy_client.model, strategy_client.wire\n"
        "heavy = [m for m in ('redis', 'zmq', 'strategy_client.router') if m in sys.modules]\n"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
