"""Which of a runner's endpoints a client connects to: ``ipc://`` on the runner's host, else ``tcp://``.

A runner binds its ROUTER and PUB on ``tcp://`` and, where the platform has Unix sockets, also
on ``ipc://`` paths in a private directory of its own (``exchange_runner/ipc.py``); its record
advertises both (``router_ipc`` / ``pub_ipc``; a record without them, or a client that does not
know them, uses ``tcp://`` as before). A client takes the ``ipc://`` endpoint when

* its transport is ``auto`` (the default; ``tcp`` forces ``tcp://``: the ``transport`` option of
  :class:`~strategy_client.ZmqRouter`, else ``$TRADEBUS_TRANSPORT``),
* the record's ``host`` is this host's name, and
* the socket file exists and this process may reach it (the directory is the runner user's
  alone, mode 0700) — a stale path, another container with the same host name, or another user
  gets ``tcp://``.

CURVE (docs/security.md) is a property of the sockets, not of the transport: the same keys and
the same ZAP allow-list apply on ``ipc://``.
"""

from __future__ import annotations

import os
import socket
import stat
from typing import Literal

from .wire import RunnerRecord

__all__ = ["TRANSPORT_ENV", "TRANSPORTS", "Transport", "pub_endpoint", "resolve_transport", "router_endpoint"]

TRANSPORT_ENV = "TRADEBUS_TRANSPORT"
Transport = Literal["auto", "tcp"]
TRANSPORTS: tuple[Transport, ...] = ("auto", "tcp")


def resolve_transport(option: str | None = None) -> Transport:
    """``option`` if given, else ``$TRADEBUS_TRANSPORT``, else ``auto``; anything else: ValueError."""
    value = (option if option is not None else os.environ.get(TRANSPORT_ENV, "")).strip().lower() or "auto"
    if value not in TRANSPORTS:
        source = "transport" if option is not None else f"${TRANSPORT_ENV}"
        raise ValueError(f"{source} must be one of {', '.join(TRANSPORTS)}, got {value!r}")
    return value


def _reachable_ipc(endpoint: str, host: str) -> bool:
    if not endpoint.startswith("ipc://") or host != socket.gethostname():
        return False
    try:
        return stat.S_ISSOCK(os.stat(endpoint[len("ipc://") :]).st_mode)
    except OSError:  # gone (stale), or a directory this user may not enter
        return False


def router_endpoint(rec: RunnerRecord, transport: Transport = "auto") -> str:
    """The endpoint of ``rec``'s ROUTER this process should connect to."""
    if transport == "auto" and _reachable_ipc(rec.router_ipc, rec.host):
        return rec.router_ipc
    return rec.router_endpoint


def pub_endpoint(rec: RunnerRecord, transport: Transport = "auto") -> str:
    """The endpoint of ``rec``'s PUB this process should subscribe to."""
    if transport == "auto" and _reachable_ipc(rec.pub_ipc, rec.host):
        return rec.pub_ipc
    return rec.pub_endpoint
