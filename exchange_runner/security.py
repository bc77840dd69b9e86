"""The runner's door: CURVE server sockets, a ZAP handler admitting the allow-listed client
keys, and the per-request permission check (``authorize``).

* :meth:`ServerSecurity.apply` makes a socket a CURVE server (``ZAP_ENFORCE_DOMAIN``: no
  handler, no connection — fail closed) before it binds.
* :class:`ServerSecurity` serves ZAP (RFC 27) for every context it is started on, in one
  thread (ZAP requests come once per connection handshake, never per message). A key in the
  allow-list is admitted with its Z85 public key as ZeroMQ ``User-Id``; any other key is
  refused (``400``), counted by reason and logged once per key. Handshakes that fail before
  ZAP (a plaintext peer, a client with the wrong server key) are counted from the sockets'
  monitor events.
* :meth:`ServerSecurity.authorize` is the ROUTER's per-request check: the ``User-Id`` of the
  message → the key's role *now* (a key removed from the list loses its rights at the next
  request, not at the next connection) → ``None`` or the one-line ``forbidden`` message.
* The allow-list is re-read when its file changes (checked every second) and on SIGHUP
  (:meth:`reload`); a bad file is refused with its line number and the old list stays.

The runner's own health-check DEALER uses an ephemeral keypair admitted with role ``read``.
"""

from __future__ import annotations

import struct
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq
from loguru import logger
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from zmq.utils import z85

from strategy_client.security import (
    AccessList,
    AccessListError,
    CurveClient,
    CurveKeyError,
    KeyPair,
    Role,
    denied_message,
    generate_keypair,
    load_keypair,
    required_role,
)
from strategy_client.telemetry.logs import register_secret

from .config import ConfigError

if TYPE_CHECKING:
    from .config import RunnerConfig

__all__ = ["ServerSecurity", "ZAP_DOMAIN"]

ZAP_DOMAIN = "tradebus"
_ZAP_ENDPOINT = "inproc://zeromq.zap.01"
# (a refusal by ZAP is counted by the handler itself, as ``unknown_key``)
_HANDSHAKE_FAILED = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
_EVENT_NAMES = {
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed",  # e.g. a client with the wrong server key
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol_error",  # e.g. a plaintext peer on a CURVE socket
}
_HEAD = struct.Struct("=Hi")


class ServerSecurity:
    def __init__(self, keys: KeyPair, access: AccessList) -> None:
        if not keys.secret:
            raise ValueError("the runner's CURVE key has no secret half")
        self.keys = keys
        self.access = access
        self.self_keys = generate_keypair()  # the health check's DEALER
        register_secret(keys.secret)  # never in a log line
        register_secret(self.self_keys.secret)
        access.add(self.self_keys.public, Role.READ, "runner-self")
        self.admitted = 0
        self.denied: Counter[str] = Counter()  # ZAP refusals and failed handshakes, by reason
        self.forbidden: Counter[str] = Counter()  # requests refused for their role, by method
        self._logged: set[str] = set()
        self._zaps: list[zmq.Socket[bytes]] = []
        self._monitors: list[tuple[zmq.Socket[bytes], str]] = []
        self._ctl: zmq.Socket[bytes] | None = None
        self._ctl_peer: zmq.Socket[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._reload_asked = threading.Event()

    @classmethod
    def from_config(cls, cfg: RunnerConfig) -> ServerSecurity | None:
        """The runner's keys and allow-list (None when CURVE is off); :class:`ConfigError` names
        what is wrong with a key or the allow-list, never a secret."""
        if not cfg.curve:
            return None
        try:
            if cfg.curve_key_file:
                keys = load_keypair(Path(cfg.curve_key_file))
            else:
                keys = KeyPair.from_secret(cfg.curve_secret)
        except CurveKeyError as exc:
            where = "--curve-key" if cfg.curve_key_file else "$TRADEBUS_CURVE_SECRET"
            raise ConfigError(f"{where}: {exc}") from None
        try:
            access = AccessList(Path(cfg.allow_file))
        except AccessListError as exc:
            raise ConfigError(str(exc)) from None
        return cls(keys, access)

    # -- sockets ------------------------------------------------------------------------
    def serve_zap(self, ctx: zmq.Context[Any]) -> None:
        """Bind a ZAP handler in ``ctx`` (before any CURVE socket of ``ctx`` binds)."""
        zap: zmq.Socket[bytes] = zmq.Socket(ctx, zmq.REP)
        zap.setsockopt(zmq.LINGER, 0)
        zap.bind(_ZAP_ENDPOINT)
        self._zaps.append(zap)

    def apply(self, sock: zmq.Socket[Any], name: str) -> None:
        """Make ``sock`` a CURVE server whose handshakes are counted (call before ``bind``)."""
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret.encode())
        sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        addr = f"inproc://tradebus.auth.monitor.{name}.{id(sock)}"
        sock.monitor(addr, _HANDSHAKE_FAILED)
        ctx = sock.context
        mon: zmq.Socket[bytes] = zmq.Socket(ctx, zmq.PAIR)
        mon.setsockopt(zmq.LINGER, 0)
        mon.connect(addr)
        self._monitors.append((mon, name))

    def client(self) -> CurveClient:
        """CURVE settings for the runner's own health-check DEALER."""
        return CurveClient(self.self_keys, self.keys.public)

    # -- the thread ---------------------------------------------------------------------
    def start(self) -> None:
        ctx: zmq.Context[Any] = zmq.Context.instance()
        self._ctl = zmq.Socket(ctx, zmq.PAIR)
        self._ctl_peer = zmq.Socket(ctx, zmq.PAIR)
        addr = f"inproc://tradebus.auth.ctl.{id(self)}"
        self._ctl.bind(addr)
        self._ctl_peer.connect(addr)
        self._thread = threading.Thread(target=self._run, name="zap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close every socket this object made (before the contexts end).

        The thread closes the sockets it polls as it ends; a socket closed here while that thread
        still polls it would be used from two threads at once (undefined in libzmq, an assertion
        that aborts the process at best). So a thread that does not end in time keeps them, logged."""
        thread = self._thread
        if thread is not None and self._ctl_peer is not None:
            self._ctl_peer.send(b"stop")
            thread.join(10.0)
            if thread.is_alive():
                logger.error("auth: the ZAP thread did not stop within 10 s; its sockets are left open")
                return
            self._thread = None
        self._close(*self._zaps, *(m for m, _ in self._monitors), self._ctl, self._ctl_peer)
        self._ctl = self._ctl_peer = None

    def _close(self, *socks: zmq.Socket[bytes] | None) -> None:
        for sock in socks:
            if sock is not None and not sock.closed:
                sock.close(linger=0)
        self._zaps.clear()
        self._monitors.clear()

    def reload(self) -> None:
        """Ask for the allow-list to be re-read now (SIGHUP)."""
        self._reload_asked.set()
        self._reload(reason="SIGHUP")

    def _reload(self, reason: str) -> None:
        self._reload_asked.clear()
        try:
            n = self.access.reload()
        except AccessListError as exc:
            logger.error("auth: {}; keeping the {} keys admitted so far", exc, len(self.access.entries))
            return
        logger.info("auth: allow-list {} read ({}): {} keys", self.access.path, reason, n)

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._close(*self._zaps, *(m for m, _ in self._monitors))

    def _serve(self) -> None:
        poller = zmq.Poller()
        assert self._ctl is not None
        poller.register(self._ctl, zmq.POLLIN)
        for zap in self._zaps:
            poller.register(zap, zmq.POLLIN)
        monitors = dict(self._monitors)
        for mon in monitors:
            poller.register(mon, zmq.POLLIN)
        while True:
            try:
                ready = dict(poller.poll(1000))
            except zmq.ZMQError:
                return
            if self._ctl in ready:
                return
            for zap in self._zaps:
                if zap in ready:
                    self._answer(zap)
            for mon, name in monitors.items():
                if mon in ready:
                    self._on_monitor(mon, name)
            if self.access.changed():
                self._reload(reason="file changed")

    def _answer(self, zap: zmq.Socket[bytes]) -> None:
        try:
            msg = zap.recv_multipart(zmq.NOBLOCK)
        except zmq.ZMQError:
            return
        if len(msg) < 6:
            self.denied["bad_zap_request"] += 1
            return
        version, request_id, _domain, address, _identity, mechanism = msg[:6]
        credentials = msg[6:]
        status, text, user = b"400", b"not allowed", b""
        if version != b"1.0":
            self.denied["bad_zap_request"] += 1
        elif mechanism != b"CURVE" or not credentials or len(credentials[0]) != 32:
            self.denied["not_curve"] += 1
        else:
            public = z85.encode(credentials[0]).decode()
            entry = self.access.lookup(public)
            if entry is None:
                self.denied["unknown_key"] += 1
                if public not in self._logged and len(self._logged) < 1000:
                    self._logged.add(public)
                    logger.warning(
                        "auth: refused client key {} from {} (not in the allow-list)",
                        public,
                        address.decode(errors="replace"),
                    )
            else:
                self.admitted += 1
                status, text, user = b"200", b"OK", public.encode()
        try:
            zap.send_multipart([b"1.0", request_id, status, text, user, b""])
        except zmq.ZMQError as exc:  # the context is ending; the handshake ends with it
            logger.debug("auth: ZAP reply not sent: {}", exc)

    def _on_monitor(self, mon: zmq.Socket[bytes], name: str) -> None:
        while True:
            try:
                frames = mon.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:
                return
            if len(frames) < 2 or len(frames[0]) < _HEAD.size:
                continue
            event, _value = _HEAD.unpack_from(frames[0])
            reason = _EVENT_NAMES.get(event, "handshake_failed")
            self.denied[reason] += 1
            key = f"{name}:{reason}"
            if key not in self._logged:
                self._logged.add(key)
                logger.warning(
                    "auth: a handshake on the {} socket {} failed ({})",
                    name,
                    frames[1].decode(errors="replace"),
                    reason,
                )

    # -- per request --------------------------------------------------------------------
    def who(self, user: str) -> str:
        """A client key as people read it in events and logs: its allow-list label and the key's
        first characters (``desk-ui (rq:rM>Ua…)``); the key alone when it has no label."""
        entry = self.access.lookup(user)
        if entry is None or not entry.label:
            return user
        return f"{entry.label} ({user[:8]}…)"

    def authorize(self, user: str | None, method: str) -> str | None:
        """None if the key ``user`` may call ``method``; else the ``forbidden`` message (counted)."""
        entry = self.access.lookup(user) if user else None
        if entry is not None and entry.role >= required_role(method):
            return None
        self.forbidden[method] += 1
        return denied_message(method, entry.role if entry else None, entry.label if entry else "")

    def metric_families(self) -> Iterable[Metric]:
        denied = CounterMetricFamily(
            "tradebus_auth_denied", "Connections refused: unknown key, not CURVE, failed handshakes", labels=["reason"]
        )
        for reason, n in sorted(self.denied.items()):
            denied.add_metric([reason], n)
        yield denied
        admitted = CounterMetricFamily("tradebus_auth_admitted", "Client handshakes admitted by ZAP")
        admitted.add_metric([], self.admitted)
        yield admitted
        forbidden = CounterMetricFamily(
            "tradebus_auth_forbidden", "Requests refused because the key's role is too low", labels=["method"]
        )
        for method, n in sorted(self.forbidden.items()):
            forbidden.add_metric([method], n)
        yield forbidden
        keys = GaugeMetricFamily("tradebus_auth_keys", "Client keys in the allow-list now")
        keys.add_metric([], len(self.access.entries))
        yield keys
