"""What the signal chain publishes back to the broker (docs/bus.md, "Signals"): a rejection for
every signal it did not act on, an enriched order event for every change of an order a signal
placed, and the instance's lifecycle transitions. JSON; decimals are strings; times epoch ms.

Routing keys (RabbitMQ topic exchange; NATS subject = ``<prefix>.`` + the key):

| event | routing key |
|---|---|
| rejected | ``signals.rejected.<instance>`` |
| order | ``signals.order.<instance>.<exchange>.<market>.<SYMBOL>`` |
| lifecycle | ``signals.lifecycle.<instance>`` |
"""

from __future__ import annotations

import re
from decimal import Decimal

import msgspec

from strategy_client.journal.lifecycle import LifecycleEvent
from strategy_client.model import Fill, InstrumentKey, Order

__all__ = ["Latency", "SignalOrderEvent", "SignalRejectedEvent", "routing_key", "token", "ENCODER"]

ENCODER = msgspec.json.Encoder(decimal_format="string")
_BAD = re.compile(r"[.*>#\s]")


def token(text: str) -> str:
    """A routing key / subject token: ``.``, ``*``, ``>``, ``#`` and whitespace become ``_``."""
    return _BAD.sub("_", text) or "_"


def routing_key(kind: str, instance: str, key: InstrumentKey | None = None) -> str:
    parts = ["signals", kind, token(instance)]
    if key is not None:
        parts += [token(key.exchange.value), token(key.kind.value), token(key.symbol)]
    return ".".join(parts)


class Latency(msgspec.Struct, frozen=True, kw_only=True):
    signal_to_ack_ms: int | None = None  # the signal's ts_ms → the runner's answer (two clocks)
    received_to_submit_us: int | None = None  # taken off the broker → the order sent to the runner
    received_to_ack_us: int | None = None  # taken off the broker → the runner's answer (the venue's ack)


class SignalOrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    v: int = 1
    event: str = "order"
    id: str  # the message id: <instance>/<signal id>/<role>/<kind>/<filled qty> (one per state of the order)
    instance: str
    signal_id: str
    source: str
    role: str  # entry | stop_loss | take_profit
    kind: str  # the runner's order event: new, partial_fill, fill, cancel, reject, expire, unknown; or ack
    order: Order
    fill: Fill | None = None  # the fill this event reports
    fills: int = 0
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fees: dict[str, Decimal] = msgspec.field(default_factory=dict)  # by asset
    signal_price: Decimal | None = None  # the price slippage is measured against (signal's, else mid at receipt)
    slippage_bps: Decimal | None = None  # avg price vs signal price; positive = worse
    latency: Latency = msgspec.field(default_factory=Latency)
    why: str = ""  # how the order type was chosen
    final: bool = False
    ts_ms: int


class SignalRejectedEvent(msgspec.Struct, frozen=True, kw_only=True):
    v: int = 1
    event: str = "rejected"
    id: str  # <instance>/<signal id or message id>/rejected
    instance: str
    signal_id: str  # "" when the message was not a signal
    reason: str  # malformed | expired | unknown_instrument | invalid | risk | venue | paused | stopping
    detail: str
    dead_lettered: bool
    instrument: str = ""
    source: str = ""
    message_id: str = ""  # the broker's message id
    redelivered: bool = False
    ts_ms: int


class LifecycleMessage(msgspec.Struct, frozen=True, kw_only=True):
    v: int = 1
    event: str = "lifecycle"
    id: str
    lifecycle: LifecycleEvent
