"""What the bridge puts on a broker: the subject / routing key, the stable id, the headers and
the payload of one runner event (docs/bus.md).

* **Subject grammar** (NATS; the RabbitMQ routing key is the same without the prefix):
  ``<prefix>.<kind>.<exchange>.<runner>.<market>.<SYMBOL>`` for instrument topics
  (``tradebus.exec.binance.bn-a.perp.BTCUSDT``), ``<prefix>.<kind>.<exchange>.<runner>`` for the
  others (``tradebus.acct.binance.bn-a``). Tokens are the topic's parts with ``.``, ``*``, ``>``,
  ``#`` and whitespace replaced by ``_``.
* **Id** (``Nats-Msg-Id``, AMQP ``message_id``): ``<runner>/<topic>/j<jseq>`` for journaled events
  (the runner's journal sequence: the same id whether the event came live or from a replay),
  ``<runner>/<topic>/s<seq>-<sent_ns>`` for market data (never replayed; the send time keeps ids
  unique across runner restarts, whose per-topic numbers start over).
* **Payload**: JSON (default) or MessagePack of :class:`Envelope`; decimals are strings.
"""

from __future__ import annotations

import functools
import hashlib
import re
from enum import StrEnum

import msgspec

from strategy_client.events import Received
from strategy_client.wire import PROTOCOL_VERSION, Event, TopicKind

__all__ = [
    "BUS_VERSION",
    "Envelope",
    "Outgoing",
    "PayloadFormat",
    "encode_payload",
    "encoded",
    "headers_for",
    "message_id",
    "routing_key",
    "traceparent_for",
]

BUS_VERSION = 1  # the envelope's own version (docs/bus.md); the wire version is PROTOCOL_VERSION

_BAD_TOKEN = re.compile(r"[.*>#\s]")


class PayloadFormat(StrEnum):
    JSON = "json"
    MSGPACK = "msgpack"


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """One event as it is published (docs/bus.md, "Payload")."""

    v: int = BUS_VERSION
    id: str
    runner: str
    exchange: str
    topic: str  # the runner's ZeroMQ topic, e.g. "exec|binance|perp|BTCUSDT|"
    kind: str  # ob | exec | pos | fund | acct | status | risk
    key: str = ""  # the instrument's text form, "" for per-runner topics
    seq: int = 0  # per-topic sequence number (0 for events replayed from the journal)
    jseq: int = 0  # journal sequence (journaled events only), runner-wide, gapless
    sent_ns: int = 0  # the runner's clock at publish (journal time for replayed events)
    replayed: bool = False  # came from the runner's journal, not the live stream
    conflated: int = 0  # market data: newer-only delivery after an outage skipped this many events
    event: Event


class Outgoing(msgspec.Struct, kw_only=True):
    """One event ready for the sinks: its envelope, routing key and id."""

    envelope: Envelope
    key: str  # the routing key (subject without the prefix)
    id: str
    jseq: int
    topic: str
    recv_ns: int  # when the bridge took it (for the added-latency measure)
    encoded: dict[str, tuple[bytes, dict[str, str]]] = {}  # format → (payload, headers): encoded once for every sink


def encoded(out: Outgoing, fmt: PayloadFormat) -> tuple[bytes, dict[str, str]]:
    """The payload and headers of ``out`` in ``fmt``, computed once however many sinks send it."""
    hit = out.encoded.get(fmt)
    if hit is None:
        hit = out.encoded[fmt] = (encode_payload(out.envelope, fmt), headers_for(out, fmt))
    return hit


def _token(text: str) -> str:
    return _BAD_TOKEN.sub("_", text) or "_"


@functools.lru_cache(maxsize=8192)  # one per (runner, topic): the regex costs ~15 µs an event otherwise
def routing_key(runner: str, topic_text: str) -> str:
    """``<kind>.<exchange>.<runner>[.<market>.<SYMBOL>]`` from a ZeroMQ topic."""
    parts = [p for p in topic_text.split("|") if p]
    kind_exchange = [_token(p) for p in parts[:2]]
    rest = [_token(p) for p in parts[2:]]
    return ".".join([*kind_exchange, _token(runner), *rest])


def message_id(runner: str, topic_text: str, jseq: int, seq: int, sent_ns: int) -> str:
    if jseq:
        return f"{runner}/{topic_text}/j{jseq}"
    return f"{runner}/{topic_text}/s{seq}-{sent_ns}"


def traceparent_for(msg_id: str) -> str:
    """A W3C ``traceparent`` derived from the message id (runner events carry no trace context
    of their own): every copy of one event — live, replayed, re-sent — names the same trace, so
    a consumer's spans join it. Flags ``00``: not sampled by the bridge."""
    digest = hashlib.blake2b(msg_id.encode(), digest_size=24).hexdigest()
    return f"00-{digest[:32]}-{digest[32:48]}-00"


def headers_for(out: Outgoing, fmt: PayloadFormat) -> dict[str, str]:
    env = out.envelope
    headers = {
        "Tradebus-Id": out.id,
        "Tradebus-Bus-Version": str(BUS_VERSION),
        "Tradebus-Wire-Version": str(PROTOCOL_VERSION),
        "Tradebus-Runner": env.runner,
        "Tradebus-Topic": env.topic,
        "Tradebus-Event": _event_tag(env.event),
        "Content-Type": "application/json" if fmt is PayloadFormat.JSON else "application/msgpack",
        "traceparent": traceparent_for(out.id),
    }
    if env.jseq:
        headers["Tradebus-Jseq"] = str(env.jseq)
    if env.seq:
        headers["Tradebus-Seq"] = str(env.seq)
    return headers


_JSON = msgspec.json.Encoder(decimal_format="string")
_MSGPACK = msgspec.msgpack.Encoder(decimal_format="string")


def encode_payload(env: Envelope, fmt: PayloadFormat) -> bytes:
    return _JSON.encode(env) if fmt is PayloadFormat.JSON else _MSGPACK.encode(env)


def _event_tag(event: Event) -> str:
    tag = type(event).__struct_config__.tag
    return str(tag)


def outgoing_from_received(rec: Received, *, conflated: int = 0) -> Outgoing:
    return _outgoing(
        runner=rec.runner,
        topic_text=rec.topic,
        kind=rec.kind,
        exchange=rec.exchange.value,
        key=str(rec.key) if rec.key is not None else "",
        seq=rec.seq,
        jseq=rec.jseq,
        sent_ns=rec.sent_ns,
        recv_ns=rec.recv_ns,
        replayed=False,
        conflated=conflated,
        event=rec.event,
    )


def outgoing_replayed(
    runner: str,
    topic_text: str,
    kind: TopicKind,
    exchange: str,
    key: str,
    jseq: int,
    ts_ns: int,
    recv_ns: int,
    event: Event,
) -> Outgoing:
    return _outgoing(
        runner=runner,
        topic_text=topic_text,
        kind=kind,
        exchange=exchange,
        key=key,
        seq=0,
        jseq=jseq,
        sent_ns=ts_ns,
        recv_ns=recv_ns,
        replayed=True,
        conflated=0,
        event=event,
    )


def _outgoing(
    *,
    runner: str,
    topic_text: str,
    kind: TopicKind,
    exchange: str,
    key: str,
    seq: int,
    jseq: int,
    sent_ns: int,
    recv_ns: int,
    replayed: bool,
    conflated: int,
    event: Event,
) -> Outgoing:
    mid = message_id(runner, topic_text, jseq, seq, sent_ns)
    env = Envelope(
        id=mid,
        runner=runner,
        exchange=exchange,
        topic=topic_text,
        kind=kind.value,
        key=key,
        seq=seq,
        jseq=jseq,
        sent_ns=sent_ns,
        replayed=replayed,
        conflated=conflated,
        event=event,
    )
    return Outgoing(
        envelope=env, key=routing_key(runner, topic_text), id=mid, jseq=jseq, topic=topic_text, recv_ns=recv_ns
    )
