"""Who may trade: CURVE keypairs, the permission model, the client's trust in runner records.

Shared by the runner (``exchange_runner.security``) and every client; imports only pyzmq and
the wire schema. See docs/security.md.
"""

from __future__ import annotations

from .access import AccessEntry, AccessList, AccessListError, Role, denied_message, required_role
from .client import ClientSecurity, CurveClient, SecurityConfigError, TrustStore
from .keys import CurveKeyError, KeyError_, KeyPair, generate_keypair, load_keypair, load_public_key, write_keypair
from .redact import redact_url

__all__ = [
    "AccessEntry",
    "AccessList",
    "AccessListError",
    "ClientSecurity",
    "CurveClient",
    "CurveKeyError",
    "KeyError_",  # CurveKeyError's old name, for code that imports it
    "KeyPair",
    "Role",
    "SecurityConfigError",
    "TrustStore",
    "denied_message",
    "generate_keypair",
    "load_keypair",
    "load_public_key",
    "redact_url",
    "required_role",
    "write_keypair",
]
