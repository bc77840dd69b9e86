"""The ``books`` channel checksum (reference §6), computed by the simulator and checked by the
adapter: CRC32 (as a signed 32-bit integer) of the top 25 levels per side, interleaved
``bidPx:bidSz:askPx:askSz:...`` — when one side runs out the other continues alone — using
the price and size strings exactly as received.

OKX has sent ``checksum: 0`` since 2026-06-23 (production); a ``0`` therefore means "not
provided" and is never treated as a mismatch.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

__all__ = ["CHECKSUM_LEVELS", "checksum_text", "book_checksum"]

CHECKSUM_LEVELS = 25


def checksum_text(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> str:
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    return ":".join(parts)


def book_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Signed CRC32 of ``checksum_text``; ``bids`` best first (descending), ``asks`` ascending."""
    crc = zlib.crc32(checksum_text(bids, asks).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc
