"""CURVE keypairs: generate, write (secret 0600), load from a file or a Z85 string.

Files use ZeroMQ's certificate format (ZPL, as ``zmq.auth.create_certificates`` writes it):
``<name>.key`` holds the public key, ``<name>.key_secret`` the public and the secret key.
A secret is never part of ``repr`` or ``str`` of a :class:`KeyPair`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import zmq

__all__ = [
    "CurveKeyError",
    "KeyPair",
    "generate_keypair",
    "write_keypair",
    "load_keypair",
    "load_public_key",
    "check_z85",
]

_Z85_KEY = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_LINE = re.compile(r'^\s*(public-key|secret-key)\s*=\s*"([^"]*)"\s*$')


class CurveKeyError(ValueError):
    """A key or key file that cannot be used (one line, never the secret itself)."""


KeyError_ = CurveKeyError  # its name until the lint rules came in: code that imports it keeps working


def check_z85(text: str, what: str) -> str:
    """``text`` if it is a Z85 CURVE key (40 characters), else :class:`CurveKeyError`."""
    if not _Z85_KEY.match(text):
        raise CurveKeyError(f"{what} is not a Z85-encoded CURVE key (40 characters)")
    return text


class KeyPair:
    """A CURVE keypair, both halves Z85 text; ``secret`` may be empty (a public key only)."""

    __slots__ = ("public", "secret")

    def __init__(self, public: str, secret: str = "") -> None:
        self.public = check_z85(public, "public key")
        self.secret = check_z85(secret, "secret key") if secret else ""
        if secret and zmq.curve_public(secret.encode()).decode() != public:
            raise CurveKeyError("the public key does not belong to the secret key")

    @classmethod
    def from_secret(cls, secret: str) -> KeyPair:
        check_z85(secret, "secret key")
        return cls(zmq.curve_public(secret.encode()).decode(), secret)

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public!r}, secret={'<set>' if self.secret else '<none>'})"

    __str__ = __repr__


def generate_keypair() -> KeyPair:
    public, secret = zmq.curve_keypair()
    return KeyPair(public.decode(), secret.decode())


def _cert(pair: KeyPair, *, with_secret: bool, comment: str) -> str:
    lines = [f"#   {comment}", "#   ZeroMQ CURVE certificate (tradebus); see docs/security.md", "", "metadata", "curve"]
    lines.append(f'    public-key = "{pair.public}"')
    if with_secret:
        lines.append(f'    secret-key = "{pair.secret}"')
    return "\n".join(lines) + "\n"


def _write_new(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)  # whatever the umask


def write_keypair(directory: Path, name: str, pair: KeyPair | None = None) -> tuple[Path, Path]:
    """Write ``<name>.key`` (public) and ``<name>.key_secret`` (both keys), both mode 0600;
    an existing file is never overwritten (:class:`CurveKeyError`). Returns (public, secret) paths."""
    if not re.match(r"^[A-Za-z0-9_.-]+$", name):
        raise CurveKeyError(f"key name {name!r}: use letters, digits, '.', '_' or '-'")
    pair = pair or generate_keypair()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    public, secret = directory / f"{name}.key", directory / f"{name}.key_secret"
    for path in (public, secret):
        if path.exists():
            raise CurveKeyError(f"{path} exists; not overwriting a key (remove it first)")
    _write_new(secret, _cert(pair, with_secret=True, comment=f"{name}: SECRET - keep this file private"), 0o600)
    _write_new(public, _cert(pair, with_secret=False, comment=f"{name}: public key"), 0o600)
    return public, secret


def _read_cert(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise CurveKeyError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    found: dict[str, str] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            found[m.group(1)] = m.group(2)
    if "public-key" not in found and "secret-key" not in found:
        stripped = text.strip()
        if _Z85_KEY.match(stripped):  # a bare Z85 key on one line
            return {"public-key": stripped}
        raise CurveKeyError(f"{path} holds no CURVE key (expected a ZeroMQ certificate)")
    return found


def load_keypair(path: Path) -> KeyPair:
    """The keypair in a secret certificate file (``*.key_secret``)."""
    found = _read_cert(path)
    secret = found.get("secret-key", "")
    if not secret:
        raise CurveKeyError(f"{path} holds no secret key (is it the public .key file?)")
    try:
        return KeyPair.from_secret(secret) if "public-key" not in found else KeyPair(found["public-key"], secret)
    except CurveKeyError as exc:
        raise CurveKeyError(f"{path}: {exc}") from None


def load_public_key(path: Path) -> str:
    """The public key in a certificate file (public or secret one)."""
    found = _read_cert(path)
    if "public-key" in found:
        try:
            return check_z85(found["public-key"], f"{path}: public key")
        except CurveKeyError:
            raise
    return KeyPair.from_secret(found["secret-key"]).public
