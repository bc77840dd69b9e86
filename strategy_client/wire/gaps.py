"""Wire shapes of gap reports: a subscriber tells the runner which events it did not get.

ZeroMQ drops an event silently for a subscriber whose queue is full (its high-water mark), and
only that subscriber can see it: a hole in a topic's sequence numbers. The client library's
subscriber reports the holes it sees (coalesced, a few requests a second at most) with
:class:`ReportGap`; the runner counts them in ``tradebus_publish_dropped_total{topic,client}``
and answers :class:`GapAck` (docs/protocol.md, "report_gap").

``messages.py`` imports these classes into its ``Request`` and ``Reply`` unions (this module
imports only msgspec and the registry, so there is no import cycle); they use the same tag fields.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .commands import Query, Routing, Scope, command

__all__ = [
    "MAX_GAP_RANGES",
    "CLIENT_KIND_PATTERN",
    "GapRange",
    "ReportGap",
    "GapAck",
]

#: Ranges one report may carry (one per topic after coalescing; a client with more topics
#: in trouble sends the rest in its next report).
MAX_GAP_RANGES = 256
#: A client kind is a metric label: short, lower case.
CLIENT_KIND_PATTERN = r"^[a-z0-9_-]{1,32}$"
_MAX_TOPIC = 160
_SEQ = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class _Req(msgspec.Struct, frozen=True, kw_only=True, tag_field="method"):
    pass


class _Rep(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class GapRange(msgspec.Struct, frozen=True, array_like=True):
    """On ``topic``, ``lost`` events numbered ``first_missing..last_missing`` were not received
    (``lost`` < the span when several holes on the topic were coalesced into one range)."""

    topic: Annotated[bytes, msgspec.Meta(min_length=2, max_length=_MAX_TOPIC)]
    first_missing: _SEQ
    last_missing: _SEQ
    lost: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class GapAck(_Rep, frozen=True, tag="gap_ack"):
    """``counted``: events of the report the runner counted; ``refused``: ranges it did not
    count (a topic it never published, or numbers beyond what it has published)."""

    counted: int
    refused: int = 0


@command(route=Routing.CALLER, scope=Scope.RUNNER, idempotent=False)  # counted twice if sent twice
class ReportGap(_Req, Query[GapAck], frozen=True, tag="report_gap"):
    """Events this subscriber lost since its previous report (role ``read``)."""

    gaps: Annotated[tuple[GapRange, ...], msgspec.Meta(min_length=1, max_length=MAX_GAP_RANGES)]
    client_kind: Annotated[str, msgspec.Meta(pattern=CLIENT_KIND_PATTERN)] = "client"
