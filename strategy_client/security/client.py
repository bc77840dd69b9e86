"""The client's side: its own keypair and the runner keys it trusts.

A record in Redis is only a claim: anyone who can write Redis can write one. A client with
CURVE configured uses a record only if the server key it carries is one the client trusts
from outside Redis — a key file named after the runner (``<name>.key`` in
``TRADEBUS_TRUSTED_RUNNERS``) or one key pinned for every runner (``TRADEBUS_RUNNER_KEY``).
The CURVE handshake then proves that the endpoint holds that key's secret: a record pointing at
another endpoint reaches a process that cannot complete the handshake, and nothing is sent.

Environment (or the arguments of :meth:`ClientSecurity.from_env`):

* ``TRADEBUS_CLIENT_KEY_FILE`` — this client's secret certificate (``runner keys generate``),
  or ``TRADEBUS_CLIENT_SECRET`` — its Z85 secret key;
* ``TRADEBUS_TRUSTED_RUNNERS`` — a runner's public ``<name>.key`` file, or a directory of them;
* ``TRADEBUS_RUNNER_KEY`` — one Z85 runner public key trusted under any runner name.

With none of these set the client speaks plaintext, as before (loopback Quick start). With any
of them set, a record without a server key is refused too — unless ``TRADEBUS_ALLOW_PLAINTEXT=1``
(``allow_plaintext``), for a mix of CURVE runners and plaintext loopback ones; then anyone who
can write Redis can point this client at a plaintext endpoint of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zmq

from ..telemetry.logs import register_secret
from ..wire import RunnerRecord
from .keys import CurveKeyError, KeyPair, check_z85, load_keypair, load_public_key

__all__ = ["ClientSecurity", "CurveClient", "TrustStore", "SecurityConfigError"]

ENV_KEY_FILE = "TRADEBUS_CLIENT_KEY_FILE"
ENV_SECRET = "TRADEBUS_CLIENT_SECRET"
ENV_TRUSTED = "TRADEBUS_TRUSTED_RUNNERS"
ENV_RUNNER_KEY = "TRADEBUS_RUNNER_KEY"
ENV_ALLOW_PLAINTEXT = "TRADEBUS_ALLOW_PLAINTEXT"


class SecurityConfigError(ValueError):
    """Client keys or trusted keys that cannot be used (one line, never a secret)."""


class CurveClient:
    """What a client socket needs to connect to one runner over CURVE."""

    __slots__ = ("public", "secret", "server")

    def __init__(self, keys: KeyPair, server: str) -> None:
        self.public = keys.public
        self.secret = keys.secret
        self.server = server

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Set the CURVE client options; call before ``connect``."""
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server.encode())
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public.encode())
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret.encode())

    def __repr__(self) -> str:
        return f"CurveClient(public={self.public!r}, server={self.server!r})"


class TrustStore:
    """Runner name → trusted server public keys; ``any_name`` keys are trusted for every name."""

    def __init__(self, by_name: Mapping[str, frozenset[str]] | None = None, any_name: frozenset[str] = frozenset()):
        self.by_name = dict(by_name or {})
        self.any_name = any_name

    def __bool__(self) -> bool:
        return bool(self.by_name or self.any_name)

    def vouches(self, name: str, key: str) -> bool:
        return key in self.any_name or key in self.by_name.get(name, frozenset())

    @classmethod
    def load(cls, path: Path | None, pinned: str = "") -> TrustStore:
        by_name: dict[str, set[str]] = {}
        if path is not None:
            files = sorted(path.glob("*.key")) if path.is_dir() else [path]
            if path.is_dir() and not files:
                raise SecurityConfigError(f"trusted runner keys: no *.key file in {path}")
            for file in files:
                try:
                    by_name.setdefault(file.stem, set()).add(load_public_key(file))
                except CurveKeyError as exc:
                    raise SecurityConfigError(f"trusted runner keys: {exc}") from None
        anyk: frozenset[str] = frozenset()
        if pinned:
            try:
                anyk = frozenset({check_z85(pinned, f"${ENV_RUNNER_KEY}")})
            except CurveKeyError as exc:
                raise SecurityConfigError(str(exc)) from None
        return cls({k: frozenset(v) for k, v in by_name.items()}, anyk)


class ClientSecurity:
    """This client's keypair (or none) and the runner keys it trusts."""

    def __init__(
        self, keys: KeyPair | None = None, trust: TrustStore | None = None, *, allow_plaintext: bool = False
    ) -> None:
        if keys is not None and not keys.secret:
            raise SecurityConfigError("the client key has no secret half")
        if keys is not None:
            register_secret(keys.secret)  # never in a log line
        self.keys = keys
        self.trust = trust or TrustStore()
        self.allow_plaintext = allow_plaintext

    @property
    def required(self) -> bool:
        """Whether this client insists on CURVE (any key or trust configured)."""
        return self.keys is not None or bool(self.trust)

    def __repr__(self) -> str:
        return f"ClientSecurity(keys={self.keys!r}, trusted={sorted(self.trust.by_name)})"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        client_key: str | Path | KeyPair | None = None,
        trusted: str | Path | None = None,
        runner_key: str = "",
        allow_plaintext: bool | None = None,
    ) -> ClientSecurity:
        """Arguments first, then the environment (see the module doc)."""
        env = os.environ if env is None else env
        keys: KeyPair | None
        try:
            if isinstance(client_key, KeyPair):
                keys = client_key
            elif client_key:
                keys = load_keypair(Path(client_key))
            elif env.get(ENV_KEY_FILE):
                keys = load_keypair(Path(env[ENV_KEY_FILE]))
            elif env.get(ENV_SECRET):
                keys = KeyPair.from_secret(env[ENV_SECRET].strip())
            else:
                keys = None
        except CurveKeyError as exc:
            raise SecurityConfigError(f"client key: {exc}") from None
        trusted_path = trusted or env.get(ENV_TRUSTED) or None
        if trusted_path is not None and not Path(trusted_path).exists():
            raise SecurityConfigError(f"trusted runner keys: {trusted_path} does not exist")
        trust = TrustStore.load(
            Path(trusted_path) if trusted_path else None, runner_key or env.get(ENV_RUNNER_KEY, "").strip()
        )
        if allow_plaintext is None:
            allow_plaintext = env.get(ENV_ALLOW_PLAINTEXT, "").strip().lower() in ("1", "true", "yes")
        return cls(keys, trust, allow_plaintext=allow_plaintext)

    def check(self, record: RunnerRecord) -> str:
        """Why ``record`` may not be used ("" when it may)."""
        who = f"runner {record.name!r} (pid {record.pid} on {record.host})"
        if not record.curve_key:
            if self.required and not self.allow_plaintext:
                return (
                    f"{who} is registered without a CURVE server key; this client requires CURVE "
                    f"({ENV_ALLOW_PLAINTEXT}=1 accepts plaintext runners)"
                )
            return ""
        if self.keys is None:
            return (
                f"{who} requires CURVE: give this client a key ({ENV_KEY_FILE} or {ENV_SECRET}) "
                f"and trust the runner's key ({ENV_TRUSTED} or {ENV_RUNNER_KEY})"
            )
        if not self.trust.vouches(record.name, record.curve_key):
            return (
                f"{who} is registered with server key {record.curve_key[:8]}… that no trusted key names "
                f"({ENV_TRUSTED}/{record.name}.key or {ENV_RUNNER_KEY}); record refused"
            )
        return ""

    def curve_for(self, record: RunnerRecord) -> CurveClient | None:
        """The CURVE settings for ``record`` (None: plaintext). Call :meth:`check` first."""
        if not record.curve_key or self.keys is None:
            return None
        return CurveClient(self.keys, record.curve_key)
