"""The Redis registration record of a runner, and the key schema.

Key: ``tradebus:runner:<name>`` (``name`` defaults to the exchange, e.g. ``binance``; a second
runner for the same exchange registers under another name such as ``binance-b``). Value: the
JSON of :class:`RunnerRecord`. The key carries a TTL (``REGISTRATION_TTL_S``) that the runner's
heartbeat renews every ``HEARTBEAT_S``; a runner that dies disappears when the TTL runs out,
one that stops cleanly deletes its key. Clients find runners with ``SCAN MATCH tradebus:runner:*``.
"""

from __future__ import annotations

import msgspec

from ..model import Exchange

__all__ = [
    "KEY_PREFIX",
    "REGISTRATION_TTL_S",
    "HEARTBEAT_S",
    "RunnerRecord",
    "runner_key",
    "encode_record",
    "decode_record",
]

KEY_PREFIX = "tradebus:runner:"
REGISTRATION_TTL_S = 10
HEARTBEAT_S = 3.0


class RunnerRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    exchange: Exchange
    pub_endpoint: str
    router_endpoint: str
    pid: int
    host: str
    version: str
    protocol_version: int
    started_at_ms: int
    status: str = "starting"  # starting | ready | degraded | stopping
    mode: str = "live"  # live | paper
    venue: str = "sim"  # sim | testnet | live
    heartbeat_ms: int = 0
    symbols: tuple[str, ...] = ()
    #: the runner's CURVE server public key (Z85); "" = plaintext sockets. A client uses it only
    #: if it trusts the key from outside Redis (docs/security.md)
    curve_key: str = ""
    #: random id of this runner instance (also in every reply header, ``ep``)
    epoch: str = ""
    #: the same ROUTER and PUB on ``ipc://`` (a socket file on ``host``); "" = none. A client on
    #: ``host`` that can reach the file uses them (strategy_client/endpoints.py); older clients
    #: ignore the fields
    router_ipc: str = ""
    pub_ipc: str = ""
    #: the venue rate-limit budgets the runner spends, by Redis name (``binance-spot@host``):
    #: ``runner ls`` shows their headroom (docs/runner.md)
    rate_scopes: tuple[str, ...] = ()


def runner_key(name: str) -> str:
    return f"{KEY_PREFIX}{name}"


_dec = msgspec.json.Decoder(RunnerRecord)


def encode_record(record: RunnerRecord) -> bytes:
    return msgspec.json.encode(record)


def decode_record(data: bytes) -> RunnerRecord:
    return _dec.decode(data)
