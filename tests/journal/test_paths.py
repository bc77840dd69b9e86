"""Where journals live and how --journal / --data-dir resolve."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from strategy_client.journal import (
    DATA_DIR_ENV,
    Journal,
    JournalUnavailable,
    ProcessInfo,
    default_data_dir,
    journal_file,
    journal_files,
    resolve_data_dir,
    resolve_target,
)


def test_data_dir_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"  # --data-dir wins
    assert resolve_data_dir(None) == tmp_path / "env"  # then $TRADEBUS_DATA_DIR
    monkeypatch.delenv(DATA_DIR_ENV)
    assert resolve_data_dir(None) == default_data_dir()  # then the per-user data dir
    assert default_data_dir() == Path(platformdirs.user_data_dir("tradebus", appauthor=False))


def test_default_data_dir_is_the_xdg_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / ".local" / "share" / "tradebus"


def test_each_process_has_its_own_file(tmp_path: Path) -> None:
    assert journal_file("runner:binance:main", tmp_path) == tmp_path / "runner-binance-main.sqlite3"
    assert journal_file("strategy:spot perp/x", tmp_path).name == "strategy-spot-perp-x.sqlite3"


def test_targets_from_urls(tmp_path: Path) -> None:
    t = resolve_target(None, stream="runner:okx:a", data_dir=tmp_path)
    assert (t.dialect, t.path) == ("sqlite", str(tmp_path / "runner-okx-a.sqlite3"))
    t = resolve_target("postgresql://127.0.0.1:5432/test?schema=desk_1&application_name=x", stream="s")
    assert (t.dialect, t.schema) == ("postgresql", "desk_1")
    assert "schema" not in t.conninfo and "application_name=x" in t.conninfo
    assert t.sqlalchemy_url.startswith("postgresql+psycopg://127.0.0.1:5432/test")
    assert resolve_target("postgres://h/db", stream="s").schema == "tradebus"
    assert resolve_target(f"sqlite:///{tmp_path}/j.db", stream="s").path == f"{tmp_path}/j.db"
    assert resolve_target(str(tmp_path / "bare.sqlite3"), stream="s").path == str(tmp_path / "bare.sqlite3")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql://h/db", "unknown scheme 'mysql'"),
        ("postgresql://h/db?schema=Bad-Name", "lower-case SQL identifier"),
        ("sqlite://", "names no file"),
    ],
)
def test_bad_urls_get_one_clear_line(url: str, needle: str) -> None:
    with pytest.raises(JournalUnavailable) as err:
        resolve_target(url, stream="s")
    assert needle in err.value.line and "\n" not in err.value.line


def test_history_on_a_missing_journal_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(JournalUnavailable) as err:
        Journal.open(stream="strategy:spotperp", data_dir=tmp_path)
    assert "no journal at" in err.value.line and "strategy:spotperp" in err.value.line
    assert journal_files(tmp_path) == []


def test_journal_files_and_streams(tmp_path: Path) -> None:
    a = Journal.open(process=ProcessInfo(role="runner", name="okx:a"), data_dir=tmp_path)
    b = Journal.open(process=ProcessInfo(role="strategy", name="spotperp"), data_dir=tmp_path)
    a.close()
    b.close()
    files = journal_files(tmp_path)
    assert [f.name for f in files] == ["runner-okx-a.sqlite3", "strategy-spotperp.sqlite3"]
    j = Journal.open(str(files[1]), stream="strategy:spotperp")
    try:
        assert j.streams() == ["strategy:spotperp"]
    finally:
        j.close()
