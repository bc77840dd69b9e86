"""Client order ids for OKX: ``clOrdId`` is 1-32 letters and digits, case-sensitive (reference §5).

tradebus client ids may contain ``- _ . : /`` (the runner makes ``tb-<ms hex>-<random>``), so
the adapter sends a reversible encoding: ``Z`` escapes, ``Z0`` = ``-``, ``Z1`` = ``Z``, ``Z2`` =
``_``, ``Z3`` = ``.``, ``Z4`` = ``:``, ``Z5`` = ``/``. An id of letters and digits without ``Z``
is sent unchanged. Ids coming back are decoded, so callers only ever see their own id.
:class:`ClientIdFactory` makes ids that need no escaping.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable

__all__ = ["to_okx", "from_okx", "ClientIdFactory", "OKX_CLIENT_ID_RE", "ENCODABLE_RE"]

OKX_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
ENCODABLE_RE = re.compile(r"^[A-Za-z0-9\-_.:/]{1,32}$")
_ESCAPES = {"-": "Z0", "Z": "Z1", "_": "Z2", ".": "Z3", ":": "Z4", "/": "Z5"}
_UNESCAPES = {v[1]: k for k, v in _ESCAPES.items()}
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def to_okx(client_id: str) -> str:
    """The ``clOrdId`` to send; ValueError when it cannot fit OKX's 32 letters and digits."""
    if not ENCODABLE_RE.match(client_id):
        raise ValueError(f"client id {client_id!r} must be 1-32 characters of [A-Za-z0-9-_.:/]")
    encoded = "".join(_ESCAPES.get(c, c) for c in client_id)
    if len(encoded) > 32:
        raise ValueError(f"client id {client_id!r} is {len(encoded)} characters once encoded for OKX (max 32)")
    return encoded


def from_okx(cl_ord_id: str) -> str:
    """The client id a ``clOrdId`` encodes (ids that are not valid encodings come back as they are)."""
    if "Z" not in cl_ord_id:
        return cl_ord_id
    out: list[str] = []
    chars = iter(cl_ord_id)
    for c in chars:
        if c != "Z":
            out.append(c)
            continue
        nxt = next(chars, "")
        if nxt not in _UNESCAPES:
            return cl_ord_id
        out.append(_UNESCAPES[nxt])
    return "".join(out)


def _b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


class ClientIdFactory:
    """Collision-safe ids of letters and digits: ``<prefix><session><ms base36><counter base36>``
    (a 10-hex-digit random session per factory; at most 32 characters)."""

    def __init__(self, prefix: str = "tb", *, wall_ms: Callable[[], int] | None = None) -> None:
        if not re.fullmatch(r"[a-y0-9]{1,6}", prefix):
            raise ValueError(f"client id prefix must be 1-6 chars of [a-y0-9], got {prefix!r}")
        self._prefix = prefix
        self._session = secrets.token_hex(5)
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._counter = itertools.count()

    def __call__(self) -> str:
        cid = f"{self._prefix}{self._session}{_b36(self._wall_ms())}{_b36(next(self._counter))}"
        return cid[:32]
