"""Permissions per client key, and the runner's allow-list of client keys.

Three roles, each including the one before: ``read`` (queries, subscriptions), ``trade``
(submit and cancel orders), ``admin`` (leverage, risk limits, trading state/kill switch and
any method the command registry does not know). Each command's role is declared with its
request in the wire registry (``@command(permission=...)``, ``strategy_client/wire/commands.py``).

The allow-list is a text file, one client per line::

    # role   public key (Z85, or the path of its .key file)   label
    trade    rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7          alice
    read     keys/notebook.key                                   notebook

Blank lines and ``#`` comments are ignored; a bad line makes the whole file refused with
its line number (the runner then keeps the list it had).
"""

from __future__ import annotations

import os
import re
from enum import IntEnum
from pathlib import Path

from ..wire.commands import BY_METHOD
from .keys import CurveKeyError, check_z85, load_public_key

__all__ = ["CLASSED_METHODS", "Role", "AccessEntry", "AccessList", "AccessListError", "required_role", "denied_message"]


class Role(IntEnum):
    READ = 1
    TRADE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


_COMMENT = re.compile(r"(^|\s)#.*$")

#: Method → role, from the command registry (``strategy_client/wire/commands.py``): each
#: command declares its permission next to its request.
_ROLES: dict[str, Role] = {method: Role[spec.permission.name] for method, spec in BY_METHOD.items()}
CLASSED_METHODS = frozenset(_ROLES)


def required_role(method: str) -> Role:
    """The role ``method`` needs; a method the registry does not know is admin-only."""
    return _ROLES.get(method, Role.ADMIN)


def denied_message(method: str, role: Role | None, label: str) -> str:
    need = required_role(method)
    who = f"client key {label!r}" if label else "this client key"
    has = f"role {role.label}" if role is not None else "no role (not in the allow-list)"
    return f"{method} needs role {need.label}; {who} has {has}"


class AccessEntry:
    __slots__ = ("role", "public", "label")

    def __init__(self, role: Role, public: str, label: str) -> None:
        self.role = role
        self.public = public
        self.label = label


class AccessListError(ValueError):
    pass


class AccessList:
    """Client public key (Z85) → :class:`AccessEntry`; ``reload_if_changed`` re-reads the file
    when its mtime or size changed. Extra entries (``add``) survive reloads (the runner's own
    health-check key)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.entries: dict[str, AccessEntry] = {}
        self._extra: dict[str, AccessEntry] = {}
        self._stamp: tuple[int, int] | None = None
        self.reloads = 0
        self.reload_errors = 0
        if path is not None:
            self.reload()

    def add(self, public: str, role: Role, label: str) -> None:
        entry = AccessEntry(role, check_z85(public, "public key"), label)
        self._extra[public] = entry
        self.entries[public] = entry

    def lookup(self, public: str) -> AccessEntry | None:
        return self.entries.get(public)

    def _stamp_now(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self) -> int:
        """Read the file now (:class:`AccessListError` on a bad file; the old list stays)."""
        if self.path is None:
            return len(self.entries)
        stamp = self._stamp_now()
        try:
            text = self.path.read_text()
        except OSError as exc:
            self.reload_errors += 1
            raise AccessListError(f"allow-list {self.path}: {exc.strerror or exc}") from None
        entries: dict[str, AccessEntry] = {}
        for n, raw in enumerate(text.splitlines(), 1):
            line = _COMMENT.sub("", raw).strip()  # '#' is also a Z85 character: comments start a word
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) < 2:
                self.reload_errors += 1
                raise AccessListError(f"allow-list {self.path} line {n}: expected 'ROLE KEY [LABEL]'")
            role_name, key = parts[0].lower(), parts[1]
            try:
                role = Role[role_name.upper()]
            except KeyError:
                self.reload_errors += 1
                raise AccessListError(
                    f"allow-list {self.path} line {n}: role {role_name!r} is not one of read, trade, admin"
                ) from None
            try:
                public = check_z85(key, "key") if len(key) == 40 else load_public_key(self.path.parent / key)
            except CurveKeyError as exc:
                self.reload_errors += 1
                raise AccessListError(f"allow-list {self.path} line {n}: {exc}") from None
            entries[public] = AccessEntry(role, public, parts[2].strip() if len(parts) > 2 else "")
        entries.update(self._extra)
        self.entries = entries
        self._stamp = stamp
        self.reloads += 1
        return len(entries)

    def changed(self) -> bool:
        return self.path is not None and self._stamp_now() != self._stamp
