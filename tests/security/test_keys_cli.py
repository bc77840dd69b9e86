"""``runner keys generate|show``: files 0600, the allow-list line, no secret on the terminal."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from exchange_runner.cli import app
from strategy_client.security import AccessList, Role, load_keypair


def test_generate_writes_0600_pairs_and_an_allow_list_line(tmp_path: Path) -> None:
    cli = CliRunner()
    allow = tmp_path / "allow.txt"
    done = cli.invoke(
        app, ["keys", "generate", "alice", "--dir", str(tmp_path / "k"), "--allow-file", str(allow), "--role", "trade"]
    )
    assert done.exit_code == 0, done.output
    pair = load_keypair(tmp_path / "k" / "alice.key_secret")
    for name in ("alice.key", "alice.key_secret"):
        assert stat.S_IMODE((tmp_path / "k" / name).stat().st_mode) == 0o600
    assert pair.public in done.output and pair.secret not in done.output
    entry = AccessList(allow).lookup(pair.public)
    assert entry is not None and entry.role is Role.TRADE and entry.label == "alice"
    shown = cli.invoke(app, ["keys", "show", str(tmp_path / "k" / "alice.key_secret")])
    assert shown.exit_code == 0 and shown.output.strip() == pair.public
    again = cli.invoke(app, ["keys", "generate", "alice", "--dir", str(tmp_path / "k")])
    assert again.exit_code == 2 and "not overwriting" in again.output
    bad = cli.invoke(app, ["keys", "generate", "bob", "--dir", str(tmp_path / "k"), "--role", "owner"])
    assert bad.exit_code == 2 and "not one of read, trade, admin" in bad.output
