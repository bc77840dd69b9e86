"""The signal → order chain: ``strategy signals`` (docs/bus.md, "Signals").

Signals (:mod:`.schema`) arrive on a RabbitMQ queue or a NATS JetStream subject (:mod:`.bus`);
each is validated, sized and typed (:mod:`.plan`), journaled once (idempotent by signal id),
passed through the runner's pre-trade risk gate and followed to its end (:mod:`.engine`);
enriched order events and rejections go back to the broker (:mod:`.events`).
"""

from __future__ import annotations

from .plan import OrderPlan, PlanConfig, client_id, plan_order
from .schema import RejectReason, Signal, SignalRejected, Urgency, decode_signal

__all__ = [
    "OrderPlan",
    "PlanConfig",
    "RejectReason",
    "Signal",
    "SignalRejected",
    "Urgency",
    "client_id",
    "decode_signal",
    "plan_order",
]
