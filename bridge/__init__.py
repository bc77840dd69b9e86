"""tradebus bridge: runner events to NATS JetStream and RabbitMQ with outbox semantics, and a
latest-state cache in Redis (docs/bus.md). Imports only ``strategy_client`` of tradebus, plus
the broker clients (nats-py, aio-pika) and redis."""

from .app import Bridge, BridgeConfig, BridgeStatus, status_key
from .envelope import BUS_VERSION, Envelope, PayloadFormat, message_id, routing_key
from .sinks import NatsOptions, NatsSink, RabbitOptions, RabbitSink

__all__ = [
    "BUS_VERSION",
    "Bridge",
    "BridgeConfig",
    "BridgeStatus",
    "Envelope",
    "NatsOptions",
    "NatsSink",
    "PayloadFormat",
    "RabbitOptions",
    "RabbitSink",
    "message_id",
    "routing_key",
    "status_key",
]
