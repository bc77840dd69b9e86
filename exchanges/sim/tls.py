"""TLS for the offline venues: ``https://`` and ``wss://`` on the same ports as plain.

:func:`local_tls` makes (on first use) and reuses a local certificate authority and a server
certificate signed by it for ``127.0.0.1``, ``::1``, ``localhost`` and any other host asked
for, under ``<data dir>/sim-tls/``; :func:`own_tls` takes a certificate and key you bring.
:class:`TlsFiles` gives the server's and a trusting client's :class:`ssl.SSLContext`.

Clients trust the local CA with ``SSL_CERT_FILE=<dir>/ca.pem`` (OpenSSL-based: Python's
default context, websockets, aiohttp — read when their context is made),
``REQUESTS_CA_BUNDLE=<dir>/ca.pem`` (requests), or an explicit context
(:meth:`TlsFiles.client_context`); docs/simulator.md shows each.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LOCAL_HOSTS", "TlsFiles", "default_tls_dir", "local_tls", "own_tls"]

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
DATA_DIR_ENV = "TRADEBUS_DATA_DIR"  # the same variable the journal reads (strategy_client.journal.paths)
_CA_DAYS = 3650
_SERVER_DAYS = 365
_RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A server certificate and key in PEM files; ``ca`` the CA file a client trusts to reach it
    (the local CA when made here, else the certificate itself, which a self-signed one needs)."""

    cert: Path
    key: Path
    ca: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts ``ca`` (host names checked, as any client does)."""
        return ssl.create_default_context(cafile=str(self.ca))


def default_tls_dir(data_dir: str | Path | None = None) -> Path:
    """``<data dir>/sim-tls``: ``data_dir``, else ``$TRADEBUS_DATA_DIR``, else the per-user data dir."""
    base = data_dir or os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir("tradebus", appauthor=False)
    return Path(base).expanduser() / "sim-tls"


def own_tls(cert: str | Path, key: str | Path, ca: str | Path | None = None) -> TlsFiles:
    """Your own certificate and key (ValueError naming the file when they cannot be loaded)."""
    files = TlsFiles(cert=Path(cert), key=Path(key), ca=Path(ca) if ca is not None else Path(cert))
    try:
        files.server_context()
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load certificate {files.cert} with key {files.key}: {exc}") from None
    return files


def local_tls(tls_dir: str | Path | None = None, hosts: Iterable[str] = ()) -> TlsFiles:
    """The local CA and a server certificate under ``tls_dir`` (default :func:`default_tls_dir`).

    The CA is made once and kept, so a client that trusts ``ca.pem`` keeps trusting it; the
    server certificate is made again when missing, within a week of expiry, or not covering
    every one of :data:`LOCAL_HOSTS` and ``hosts`` (wildcard binds are left out).
    """
    folder = Path(tls_dir) if tls_dir is not None else default_tls_dir()
    folder.mkdir(parents=True, exist_ok=True)
    names = _names([*LOCAL_HOSTS, *hosts])
    files = TlsFiles(cert=folder / "server.pem", key=folder / "server.key", ca=folder / "ca.pem")
    ca_key, ca_cert = _load_or_make_ca(folder)
    if not _server_cert_fits(files.cert, files.key, ca_cert, names):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _server_cert(key, ca_key, ca_cert, names)
        _write_key(files.key, key)
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def _names(hosts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for host in hosts:
        if host and host not in ("0.0.0.0", "::") and host not in out:
            out.append(host)
    return out


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _load_or_make_ca(folder: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, cert_path = folder / "ca.key", folder / "ca.pem"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc - _now() > _RENEW_BEFORE:
            return key, cert
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tradebus offline venues local CA")])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _server_cert(
    key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, names: list[str]
) -> x509.Certificate:
    now = _now()
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(min(now + dt.timedelta(days=_SERVER_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _server_cert_fits(cert_path: Path, key_path: Path, ca: x509.Certificate, names: list[str]) -> bool:
    """The kept server certificate is signed by ``ca``, valid a week more, covers ``names``, and
    ``key_path`` holds its key."""
    if not (cert_path.exists() and key_path.exists()):
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if cert.issuer != ca.subject or cert.not_valid_after_utc - _now() < _RENEW_BEFORE:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if key.public_key() != cert.public_key():
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return all(_san(n) in san for n in names)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
