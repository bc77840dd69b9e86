"""The gateway's database: API keys (hashed), the command outbox and the audit log.

SQLite ``<data dir>/gateway-<name>.sqlite3`` by default, or a PostgreSQL schema
(``--journal postgresql://…?schema=NAME``), resolved like a journal
(:func:`strategy_client.journal.resolve_target`) and created/upgraded by the journal's alembic
machinery with the gateway's own revisions (``gateway/migrations``) and version table.

Every method is synchronous and short; the gateway runs them on one worker thread
(:class:`gateway.db.Db`), so the event loop never waits on a disk or a server.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa

from strategy_client.journal import JournalError, JournalTarget, resolve_target
from strategy_client.journal.migrate import engine as journal_engine
from strategy_client.journal.migrate import upgrade

from .models import ApiKeyInfo, AuditRow, CommandStatus, CommandView, Problem, Role

__all__ = [
    "HEAD",
    "KEY_PREFIX",
    "GatewayStore",
    "StoreError",
    "IdempotencyConflict",
    "NewCommand",
    "KeyRow",
    "split_key",
    "gateway_target",
]

HEAD = "g0001"
VERSION_TABLE = "gateway_alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
KEY_PREFIX = "tbk"
OPEN_STATUSES = (CommandStatus.ACCEPTED.value, CommandStatus.RUNNING.value)

_meta = sa.MetaData()
api_keys = sa.Table(
    "gw_api_keys",
    _meta,
    sa.Column("key_id", sa.Text, primary_key=True),
    sa.Column("role", sa.Text),
    sa.Column("label", sa.Text),
    sa.Column("secret_hash", sa.Text),
    sa.Column("created_ms", sa.BigInteger),
    sa.Column("revoked_ms", sa.BigInteger, nullable=True),
)
commands = sa.Table(
    "gw_commands",
    _meta,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("key_id", sa.Text),
    sa.Column("idempotency_key", sa.Text, nullable=True),
    sa.Column("fingerprint", sa.Text),
    sa.Column("kind", sa.Text),
    sa.Column("request", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("client_id", sa.Text),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer),
    sa.Column("created_ms", sa.BigInteger),
    sa.Column("updated_ms", sa.BigInteger),
)
audit = sa.Table(
    "gw_audit",
    _meta,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("ts_ms", sa.BigInteger),
    sa.Column("key_id", sa.Text),
    sa.Column("method", sa.Text),
    sa.Column("path", sa.Text),
    sa.Column("body", sa.Text),
    sa.Column("status", sa.Integer),
    sa.Column("outcome", sa.Text),
    sa.Column("command_id", sa.Text, nullable=True),
    sa.Column("remote", sa.Text),
)


class StoreError(Exception):
    """The gateway's database failed; ``str()`` is one line naming it."""


class IdempotencyConflict(Exception):
    """An ``Idempotency-Key`` already names a command with another request."""

    def __init__(self, existing: CommandView) -> None:
        super().__init__(f"idempotency key {existing.idempotency_key!r} names command {existing.id} (another request)")
        self.existing = existing


class KeyRow(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    role: Role
    label: str
    secret_hash: str
    revoked: bool


class NewCommand(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    key_id: str
    request: Any  # JSON-able
    idempotency_key: str | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(text: str) -> tuple[str, str] | None:
    """``tbk_<id>_<secret>`` → (id, secret); None when it is not shaped like a key."""
    parts = text.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def gateway_target(journal: str | None, data_dir: str | os.PathLike[str] | None, name: str) -> JournalTarget:
    """Where the gateway's tables live: the journal URL's schema, else ``<data dir>/gateway-<name>.sqlite3``."""
    return resolve_target(journal, stream=f"gateway:{name}", data_dir=data_dir)


def _fingerprint(kind: str, request: Any) -> str:
    return hashlib.sha256(kind.encode() + b"\0" + msgspec.json.encode(request, order="deterministic")).hexdigest()


def command_client_id(command_id: str) -> str:
    """The client order id of a command's order: ``gw`` + 30 hex digits of the command id."""
    return "gw" + command_id.replace("-", "")[:30]


class GatewayStore:
    def __init__(self, target: JournalTarget) -> None:
        self.target = target
        self.where = target.describe()
        try:
            if target.dialect == "sqlite":
                Path(target.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"gateway database {self.where}: {exc}") from exc
        self.engine: Any = journal_engine(target, pooled=True)
        if target.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        if self._revision() != HEAD:  # empty or older: alembic creates or upgrades the tables
            try:
                upgrade(
                    target, HEAD, script_location=MIGRATIONS, version_table=VERSION_TABLE, lock_name="tradebus-gateway"
                )
            except JournalError as exc:
                self.engine.dispose()
                raise StoreError(exc.line) from exc

    def _revision(self) -> str | None:
        """The schema's revision (None: no tables yet) — one query, no alembic import."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
                return None if found is None else str(found)
        except sa.exc.SQLAlchemyError:
            return None

    @classmethod
    def open(cls, journal: str | None, data_dir: str | os.PathLike[str] | None, name: str = "gateway") -> GatewayStore:
        return cls(gateway_target(journal, data_dir, name))

    def close(self) -> None:
        self.engine.dispose()

    def _run(self, fn: Any) -> Any:
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            first = (str(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc).strip().splitlines() or ["?"])[0]
            raise StoreError(f"gateway database {self.where}: {first}") from exc

    # -- API keys ---------------------------------------------------------------------------
    def create_key(self, role: Role, label: str = "") -> tuple[ApiKeyInfo, str]:
        """A new key: its row and the key text (shown once; only its hash is stored)."""
        secret = secrets.token_urlsafe(32)  # 256 bits
        now = _now_ms()
        for _ in range(5):  # the 32-bit id is public and short: a collision takes another
            key_id = secrets.token_hex(4)
            row = {
                "key_id": key_id,
                "role": role.value,
                "label": label,
                "secret_hash": _hash(secret),
                "created_ms": now,
            }
            try:
                self._run(lambda c, row=row: c.execute(api_keys.insert().values(**row)))
            except sa.exc.IntegrityError:
                continue
            return ApiKeyInfo(key_id=key_id, role=role, label=label, created_ms=now), f"{KEY_PREFIX}_{key_id}_{secret}"
        raise StoreError(f"gateway database {self.where}: no free key id after 5 tries")

    def list_keys(self) -> list[ApiKeyInfo]:
        rows = self._run(lambda c: c.execute(api_keys.select().order_by(api_keys.c.created_ms)).all())
        return [
            ApiKeyInfo(
                key_id=r.key_id, role=Role(r.role), label=r.label, created_ms=r.created_ms, revoked_ms=r.revoked_ms
            )
            for r in rows
        ]

    def revoke_key(self, key_id: str) -> bool:
        res = self._run(
            lambda c: c.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_ms.is_(None))
                .values(revoked_ms=_now_ms())
            )
        )
        return bool(res.rowcount)

    def verify_key(self, text: str) -> KeyRow | None:
        """The key's row when ``text`` is a live key (constant-time compare of the hashes)."""
        parts = split_key(text)
        if parts is None:
            return None
        key_id, secret = parts
        row = self._run(lambda c: c.execute(api_keys.select().where(api_keys.c.key_id == key_id)).first())
        if row is None or row.revoked_ms is not None:
            return None
        if not hmac.compare_digest(row.secret_hash, _hash(secret)):
            return None
        return KeyRow(
            key_id=row.key_id, role=Role(row.role), label=row.label, secret_hash=row.secret_hash, revoked=False
        )

    # -- the command outbox -----------------------------------------------------------------
    def accept(self, new: NewCommand) -> tuple[CommandView, bool]:
        """Write a command to the outbox; (view, True) — or the earlier command of the same
        idempotency key and request, (view, False). :class:`IdempotencyConflict` for the same key
        with another request."""
        fp = _fingerprint(new.kind, new.request)
        if new.idempotency_key is not None:
            earlier = self._by_idempotency(new.key_id, new.idempotency_key)
            if earlier is not None:
                return self._same(earlier, fp)
        cid = str(uuid.uuid4())
        now = _now_ms()
        values = {
            "id": cid,
            "key_id": new.key_id,
            "idempotency_key": new.idempotency_key,
            "fingerprint": fp,
            "kind": new.kind,
            "request": msgspec.json.encode(new.request).decode(),
            "status": CommandStatus.ACCEPTED.value,
            "client_id": command_client_id(cid),
            "attempts": 0,
            "created_ms": now,
            "updated_ms": now,
        }
        try:
            self._run(lambda c: c.execute(commands.insert().values(**values)))
        except sa.exc.IntegrityError:  # the same key raced in from another request
            assert new.idempotency_key is not None
            earlier = self._by_idempotency(new.key_id, new.idempotency_key)
            if earlier is None:
                raise StoreError(f"gateway database {self.where}: command insert refused") from None
            return self._same(earlier, fp)
        view = self.get(cid)
        assert view is not None
        return view, True

    def _same(self, earlier: tuple[CommandView, str], fp: str) -> tuple[CommandView, bool]:
        view, old_fp = earlier
        if old_fp != fp:
            raise IdempotencyConflict(view)
        return view, False

    def _by_idempotency(self, key_id: str, idem: str) -> tuple[CommandView, str] | None:
        row = self._run(
            lambda c: c.execute(
                commands.select().where(commands.c.key_id == key_id, commands.c.idempotency_key == idem)
            ).first()
        )
        return None if row is None else (_view(row), row.fingerprint)

    def get(self, command_id: str) -> CommandView | None:
        row = self._run(lambda c: c.execute(commands.select().where(commands.c.id == command_id)).first())
        return None if row is None else _view(row)

    def latest(self, limit: int = 50) -> list[CommandView]:
        rows = self._run(
            lambda c: c.execute(commands.select().order_by(commands.c.created_ms.desc()).limit(limit)).all()
        )
        return [_view(r) for r in rows]

    def open_commands(self) -> list[CommandView]:
        """Accepted or running commands, oldest first (the processor's poll)."""
        rows = self._run(
            lambda c: c.execute(
                commands.select().where(commands.c.status.in_(OPEN_STATUSES)).order_by(commands.c.created_ms)
            ).all()
        )
        return [_view(r) for r in rows]

    def unknown_commands(self) -> list[CommandView]:
        rows = self._run(
            lambda c: c.execute(commands.select().where(commands.c.status == CommandStatus.UNKNOWN.value)).all()
        )
        return [_view(r) for r in rows]

    def claim(self, command_id: str, expect: CommandStatus) -> bool:
        """``expect`` → running (attempts + 1), atomically; False when someone else moved it."""
        res = self._run(
            lambda c: c.execute(
                commands.update()
                .where(commands.c.id == command_id, commands.c.status == expect.value)
                .values(status=CommandStatus.RUNNING.value, attempts=commands.c.attempts + 1, updated_ms=_now_ms())
            )
        )
        return bool(res.rowcount)

    def finish(self, command_id: str, status: CommandStatus, result: Any = None, error: Problem | None = None) -> None:
        values = {
            "status": status.value,
            "result": None if result is None else msgspec.json.encode(result).decode(),
            "error": None if error is None else msgspec.json.encode(error).decode(),
            "updated_ms": _now_ms(),
        }
        self._run(lambda c: c.execute(commands.update().where(commands.c.id == command_id).values(**values)))

    # -- the audit log ----------------------------------------------------------------------
    def audit(
        self,
        *,
        key_id: str,
        method: str,
        path: str,
        body: str,
        status: int,
        outcome: str,
        command_id: str | None,
        remote: str,
    ) -> None:
        values = {
            "ts_ms": _now_ms(),
            "key_id": key_id,
            "method": method,
            "path": path,
            "body": body[:4096],
            "status": status,
            "outcome": outcome[:500],
            "command_id": command_id,
            "remote": remote,
        }
        self._run(lambda c: c.execute(audit.insert().values(**values)))

    def audit_rows(self, limit: int = 100) -> list[AuditRow]:
        rows = self._run(lambda c: c.execute(audit.select().order_by(audit.c.id.desc()).limit(limit)).all())
        return [AuditRow(**r._asdict()) for r in rows]


_problem_dec = msgspec.json.Decoder(Problem)


def _view(row: Any) -> CommandView:
    return CommandView(
        id=row.id,
        kind=row.kind,
        status=CommandStatus(row.status),
        key_id=row.key_id,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        attempts=row.attempts,
        client_id=row.client_id,
        request=msgspec.json.decode(row.request),
        result=None if row.result is None else msgspec.json.decode(row.result),
        error=None if row.error is None else _problem_dec.decode(row.error),
        idempotency_key=row.idempotency_key,
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
