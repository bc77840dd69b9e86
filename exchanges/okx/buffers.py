"""The OKX WebSocket streams' frame, plus the shared buffer/backoff/tally (``exchanges.wsutil``).

:class:`BoundedBuffer` overflow policies:

- ``Overflow.DROP_OLDEST`` (market data): when full, the oldest *droppable* item is discarded
  and counted in ``dropped``; a newer update supersedes it (and the book integrity checks
  notice the gap and resync). Status items are never dropped.
- ``Overflow.BLOCK`` (private data): nothing is ever dropped; the reader waits for space,
  which stops reading the socket and pushes back on the venue over TCP.
"""

from __future__ import annotations

import msgspec

from exchanges.wsutil import Backoff, BoundedBuffer, ErrorTally, Overflow

__all__ = ["Overflow", "Frame", "BoundedBuffer", "Backoff", "ErrorTally"]

class Frame(msgspec.Struct, frozen=True, gc=False):
    """One data message as received. ``generation`` numbers the connection (1, 2...)."""

    source: str
    data: bytes
    recv_ns: int
    generation: int
