"""The runner's ``ipc://`` endpoints: its ROUTER and PUB on Unix sockets, beside ``tcp://``.

A strategy on the runner's host skips the TCP stack (``strategy_client/endpoints.py`` picks
``ipc://`` when the record's host is its own and the socket file is reachable). The sockets live
in a directory of this runner's own, ``<base>/<name>-<random>/`` with ``router`` and ``pub`` in
it, created mode 0700 (only this user may connect) and removed when the runner stops. ``<base>``
is ``$TRADEBUS_IPC_DIR``, else ``$XDG_RUNTIME_DIR/tradebus``, else ``<tmp>/tradebus-<uid>``
(created 0700; one owned by another user, or open to others, is refused: no ``ipc://``).
A runner killed with SIGKILL cannot remove its directory; the next runner to bind in the same
base removes every directory whose ``router`` socket file nobody listens on any more (a connect
is refused), or that has none a minute after it was made.

No ``ipc://`` where libzmq has none (Windows) or the path would not fit a Unix socket address;
the runner then advertises ``tcp://`` only (one log line). CURVE options are set on the socket
before it binds, so they hold on every endpoint of it.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq
from loguru import logger

__all__ = ["IPC_DIR_ENV", "IpcEndpoints", "ipc_base", "sweep_stale"]

IPC_DIR_ENV = "TRADEBUS_IPC_DIR"
MAX_PATH = 100  # a Unix socket path: 108 bytes on Linux, 104 on macOS, with room for the name
UNBOUND_GRACE_S = 60.0  # a directory without its router socket this long is a runner that never bound


def ipc_base() -> Path:
    """Where the runners' ipc directories go (see the module doc)."""
    explicit = os.environ.get(IPC_DIR_ENV, "")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "tradebus"
    return Path(tempfile.gettempdir()) / f"tradebus-{os.getuid()}"


def _private_dir(base: Path) -> str | None:
    """``base`` created 0700 if missing; None (and why, logged) if it is not this user's alone."""
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = base.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        logger.warning("ipc: {} is not a directory of this user's alone; tcp:// only", base)
        return None
    return str(base)


def _stale(directory: str) -> bool:
    """Nobody listens on ``directory``'s router socket (a runner killed without cleaning up)."""
    path = os.path.join(directory, "router")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # a live runner's full backlog answers EAGAIN: not stale
    try:
        probe.connect(path)
    except FileNotFoundError:
        try:
            return time.time() - os.stat(directory).st_mtime > UNBOUND_GRACE_S
        except OSError:
            return False
    except ConnectionRefusedError:
        return True
    except OSError:  # not a socket we may reach: leave it
        return False
    finally:
        probe.close()
    return False


def sweep_stale(base: str) -> int:
    """Remove the directories of dead runners in ``base``; how many."""
    removed = 0
    with os.scandir(base) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and _stale(entry.path):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed


class IpcEndpoints:
    """Binds a ROUTER and a PUB on ``ipc://`` in a fresh private directory; :meth:`close` removes it."""

    def __init__(self, name: str, base: Path | None = None) -> None:
        self.name = name
        self.base = base if base is not None else ipc_base()
        self.dir: str | None = None
        self.router = ""
        self.pub = ""

    def bind(self, router: zmq.Socket[Any], pub: zmq.Socket[Any]) -> tuple[str, str]:
        """``(router_endpoint, pub_endpoint)``, or ``("", "")`` when ``ipc://`` is not available."""
        if not zmq.has("ipc"):
            return "", ""
        try:
            base = _private_dir(self.base)
            if base is None:
                return "", ""
            if swept := sweep_stale(base):
                logger.info("ipc: removed {} directories of runners that are gone from {}", swept, base)
            self.dir = tempfile.mkdtemp(prefix=f"{self.name[:40]}-", dir=base)  # mode 0700
        except OSError as exc:
            logger.warning("ipc: cannot create a directory in {} ({}); tcp:// only", self.base, exc)
            return "", ""
        if len(self.dir) + len("/router") > MAX_PATH:
            logger.warning("ipc: {} is too long for a Unix socket path; tcp:// only (set ${})", self.dir, IPC_DIR_ENV)
            self.close()
            return "", ""
        router_ep, pub_ep = f"ipc://{self.dir}/router", f"ipc://{self.dir}/pub"
        try:
            router.bind(router_ep)
            pub.bind(pub_ep)
        except zmq.ZMQError as exc:
            logger.warning("ipc: cannot bind in {} ({}); tcp:// only", self.dir, exc)
            self.close()
            return "", ""
        self.router, self.pub = router_ep, pub_ep
        return router_ep, pub_ep

    def close(self) -> None:
        """Remove the directory and its socket files (the sockets may already be closed)."""
        directory, self.dir = self.dir, None
        self.router = self.pub = ""
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
