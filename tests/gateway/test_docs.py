"""docs/gateway.md's examples run as written: the curl commands (each must answer 2xx) and the
WebSocket script, against a real gateway and runner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway.conftest import BTC, GatewayProc
from tests.integration.conftest import ROOT

DOC = ROOT / "docs" / "gateway.md"


def _blocks(lang: str) -> list[str]:
    text = DOC.read_text()
    examples = text[text.index("## Examples") :]
    examples = examples[: examples.find("\n## ", 1)]  # up to the next section
    return re.findall(rf"```{lang}\n(.*?)```", examples, re.S)


def _commands(block: str) -> list[str]:
    lines = (raw.strip() for raw in block.replace("\\\n", " ").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture()
def env(gw: GatewayProc) -> dict[str, str]:
    return {**os.environ, "GW": gw.url, "KEY": gw.keys["trade"]}


def test_curl_examples(gw: GatewayProc, env: dict[str, str], tmp_path: Path) -> None:
    if subprocess.run(["which", "curl"], capture_output=True).returncode != 0:
        pytest.skip("no curl on this machine")
    (block,) = _blocks("bash")
    commands = _commands(block)
    assert commands[0].startswith("export GW=") and sum(c.startswith("curl ") for c in commands) >= 9
    outputs = []
    for cmd in commands[1:]:
        # as written, except that a 4xx/5xx answer fails the command (curl --fail-with-body)
        script = f'curl() {{ command curl --fail-with-body "$@"; }}\n{cmd}'
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
        outputs.append((cmd, done.stdout))
    by = {cmd.split("$GW")[-1].split()[0].strip("\"'"): out for cmd, out in outputs}
    preview = json.loads(by["/api/v1/orders/preview"])
    assert preview["order"]["qty"] == "0.012" and preview["order"]["price"] == "50000.0"
    placed = json.loads(by["/api/v1/orders?wait=5"])
    assert placed["status"] == "succeeded", placed
    canceled = json.loads(by["/api/v1/orders/cancel-all?wait=5"])
    assert placed["client_id"] in {o["client_id"] for o in canceled["result"]["canceled"]}
    assert json.loads((tmp_path / "openapi.json").read_text())["openapi"] == "3.1.0"
    # the same Idempotency-Key again: the same command, no second order
    (submit,) = [c for c, _ in outputs if "Idempotency-Key" in c]
    again = subprocess.run(["bash", "-c", submit], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert json.loads(again.stdout)["id"] == placed["id"]
    with gw.client("read") as c:
        assert [
            o for o in c.get("/api/v1/orders", params={"key": BTC}).json() if o["client_id"] == placed["client_id"]
        ] == []


def test_websocket_example(env: dict[str, str], tmp_path: Path) -> None:
    (code,) = _blocks("python")
    script = tmp_path / "stream_example.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5 and lines[0].startswith("subscribed")
    assert any(line.startswith(("snapshot", "event")) for line in lines[1:])
