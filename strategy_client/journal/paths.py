"""Where journals live, and how a ``--journal`` / ``--data-dir`` pair becomes a target.

Resolution of the data directory: an explicit ``--data-dir`` value, else ``$TRADEBUS_DATA_DIR``,
else the per-user data directory (``~/.local/share/tradebus`` on Linux, as platformdirs names
it). Each process writes its own SQLite file there, named after the process
(``runner-binance-main.sqlite3``, ``strategy-spotperp.sqlite3``), so processes never contend for
one file's write lock. ``--journal postgresql://…`` puts every process in one PostgreSQL schema
instead (``?schema=NAME``, default ``tradebus``); rows carry the process name (``stream``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from .errors import JournalUnavailable

__all__ = [
    "DATA_DIR_ENV",
    "JournalTarget",
    "default_data_dir",
    "resolve_data_dir",
    "journal_file",
    "journal_files",
    "resolve_target",
    "stream_file_name",
]

DATA_DIR_ENV = "TRADEBUS_DATA_DIR"
DEFAULT_PG_SCHEMA = "tradebus"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/tradebus`` on Linux)."""
    import platformdirs  # noqa: PLC0415 - importing the client loads no journal driver (a test holds it)

    return Path(platformdirs.user_data_dir("tradebus", appauthor=False))


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit`` (``--data-dir``), else ``$TRADEBUS_DATA_DIR``, else :func:`default_data_dir`."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_DIR_ENV, "")
    if env:
        return Path(env).expanduser()
    return default_data_dir()


def stream_file_name(stream: str) -> str:
    """``runner:binance:main`` → ``runner-binance-main.sqlite3`` (safe on every filesystem)."""
    safe = _SAFE.sub("-", stream.replace(":", "-")).strip("-.")
    if not safe:
        raise ValueError(f"journal name {stream!r} has no usable characters")
    return f"{safe}.sqlite3"


def journal_file(stream: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    return resolve_data_dir(data_dir) / stream_file_name(stream)


def journal_files(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The SQLite journals in the data directory (for ``history`` without a name)."""
    root = resolve_data_dir(data_dir)
    return sorted(root.glob("*.sqlite3")) if root.is_dir() else []


class JournalTarget(msgspec.Struct, frozen=True, kw_only=True):
    """Where one journal is: a SQLite file or a PostgreSQL schema."""

    dialect: str  # "sqlite" | "postgresql"
    path: str = ""  # sqlite: the file
    conninfo: str = ""  # postgresql: the URL without our own ``schema`` parameter
    schema: str = ""  # postgresql: the schema holding the tables

    def describe(self) -> str:
        if self.dialect == "sqlite":
            return self.path
        parts = urlsplit(self.conninfo)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        return f"postgresql://{host}{port}{parts.path} (schema {self.schema})"

    @property
    def sqlalchemy_url(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        parts = urlsplit(self.conninfo)
        return urlunsplit(("postgresql+psycopg", *parts[1:]))


def resolve_target(
    journal: str | None = None,
    *,
    stream: str,
    data_dir: str | os.PathLike[str] | None = None,
) -> JournalTarget:
    """Turn ``--journal`` (a URL, a ``sqlite:///file`` or nothing) into a :class:`JournalTarget`.

    With no ``journal`` the target is ``<data dir>/<stream file>`` in SQLite.
    """
    if journal is None or journal == "":
        return JournalTarget(dialect="sqlite", path=str(journal_file(stream, data_dir)))
    parts = urlsplit(journal)
    scheme = parts.scheme.lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = DEFAULT_PG_SCHEMA
        rest: list[tuple[str, str]] = []
        for k, v in query:
            if k == "schema":
                schema = v
            else:
                rest.append((k, v))
        if not _SCHEMA_RE.match(schema):
            raise JournalUnavailable(
                f"journal schema {schema!r} must be a lower-case SQL identifier (letters, digits, _)"
            )
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), parts.fragment))
        return JournalTarget(dialect="postgresql", conninfo=conninfo, schema=schema)
    if scheme == "sqlite":
        # sqlite:///relative/file or sqlite:////absolute/file, as SQLAlchemy spells them
        path = journal[len("sqlite:///") :] if journal.startswith("sqlite:///") else ""
        if not path:
            raise JournalUnavailable(f"journal URL {journal!r} names no file (write sqlite:///path/to/file.sqlite3)")
        return JournalTarget(dialect="sqlite", path=str(Path(path).expanduser()))
    if scheme == "" and journal:
        # a bare path: a SQLite file
        return JournalTarget(dialect="sqlite", path=str(Path(journal).expanduser()))
    raise JournalUnavailable(
        f"journal URL {journal!r}: unknown scheme {parts.scheme!r} (use postgresql://… or sqlite:///file, "
        "or leave it out for SQLite under the data directory)"
    )
