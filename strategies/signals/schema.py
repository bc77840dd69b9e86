"""The trading signal a model service publishes, and why one is refused (docs/bus.md, "Signals").

A signal is one JSON object (UTF-8; MessagePack is taken too, by content type) decoded straight
into :class:`Signal`: unknown fields are ignored, a field of the wrong type or out of its range is
a :class:`msgspec.ValidationError` — the signal is *malformed*. Prices and sizes are decimal
strings (``"64250.5"``; a JSON number is taken as written). Times are epoch milliseconds.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from strategy_client.model import Side

__all__ = [
    "SIGNAL_ID_PATTERN",
    "Signal",
    "Urgency",
    "RejectReason",
    "SignalRejected",
    "decode_signal",
]

#: a signal id: what the client order ids are derived from (1–64 of ``[A-Za-z0-9._:-]``)
SIGNAL_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
SignalId = Annotated[str, msgspec.Meta(pattern=SIGNAL_ID_PATTERN)]
Unit = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
TtlMs = Annotated[int, msgspec.Meta(gt=0, le=86_400_000)]
Text = Annotated[str, msgspec.Meta(max_length=128)]


class Urgency(StrEnum):
    """How soon the order must fill: ``low`` rests post-only (maker), ``normal`` takes the
    touch when the spread is tight and rests a limit otherwise, ``high`` crosses at once."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """``{"id": "m-1", "instrument": "binance:perp:BTCUSDT", "side": "buy", "notional": "500",
    "ts_ms": 1765100000000}`` — everything else has a default."""

    v: Annotated[int, msgspec.Meta(ge=1, le=1)] = 1
    id: SignalId
    instrument: Annotated[str, msgspec.Meta(min_length=3, max_length=64)]  # exchange:market:SYMBOL
    side: Side
    strength: Unit = 1.0  # scales a risk-budget size
    confidence: Unit = 1.0  # below --min-confidence: rejected
    qty: Decimal | None = None  # target size in base units …
    notional: Decimal | None = None  # … or in quote (at most one of the two)
    limit_price: Decimal | None = None  # never pay more (buy) / take less (sell) than this
    price: Decimal | None = None  # the price the signal was made at (slippage is measured against it)
    stop_loss: Decimal | None = None  # closed reduce-only when the reference price reaches it
    take_profit: Decimal | None = None
    urgency: Urgency = Urgency.NORMAL
    ts_ms: Annotated[int, msgspec.Meta(gt=0)]  # when the signal was made
    ttl_ms: TtlMs = 30_000  # expired after ts_ms + ttl_ms: not acted on; a resting order is cancelled then
    source: Text = ""

    def __post_init__(self) -> None:
        for name in ("qty", "notional", "limit_price", "price", "stop_loss", "take_profit"):
            value = getattr(self, name)
            if value is not None and (not value.is_finite() or value <= 0):
                raise ValueError(f"{name} must be a positive decimal, got {value}")
        if self.qty is not None and self.notional is not None:
            raise ValueError("give qty or notional, not both")
        ref = self.limit_price or self.price
        if ref is not None:
            sl, tp = self.stop_loss, self.take_profit
            below, above = (sl, tp) if self.side is Side.BUY else (tp, sl)
            if below is not None and below >= ref:
                raise ValueError(f"{'stop_loss' if self.side is Side.BUY else 'take_profit'} must be below {ref}")
            if above is not None and above <= ref:
                raise ValueError(f"{'take_profit' if self.side is Side.BUY else 'stop_loss'} must be above {ref}")

    @property
    def expires_ms(self) -> int:
        return self.ts_ms + self.ttl_ms


class RejectReason(StrEnum):
    MALFORMED = "malformed"  # not a signal (decode or a field's constraint): dead-lettered
    EXPIRED = "expired"  # past ts_ms + ttl_ms when taken: dead-lettered
    UNKNOWN_INSTRUMENT = "unknown_instrument"  # no runner knows it: dead-lettered
    INVALID = "invalid"  # a valid signal no order can carry (too small, no size, low confidence)
    RISK = "risk"  # the runner's pre-trade risk gate refused the order
    VENUE = "venue"  # the venue refused the order
    UNAVAILABLE = "unavailable"  # the runner did not answer (the instrument could not be looked up)
    PAUSED = "paused"  # the strategy is paused: it opens nothing
    STOPPING = "stopping"

    @property
    def poison(self) -> bool:
        """Parked in the dead-letter queue/subject (the message itself is bad, not the market)."""
        return self in (RejectReason.MALFORMED, RejectReason.EXPIRED, RejectReason.UNKNOWN_INSTRUMENT)


class SignalRejected(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason, self.detail = reason, detail


_JSON = msgspec.json.Decoder(Signal)
_MSGPACK = msgspec.msgpack.Decoder(Signal)


def decode_signal(body: bytes, content_type: str = "") -> Signal:
    """The signal in ``body``; :class:`SignalRejected` (malformed) when it is not one."""
    try:
        if content_type.endswith("msgpack"):
            return _MSGPACK.decode(body)
        return _JSON.decode(body)
    except (msgspec.DecodeError, ValueError) as exc:
        raise SignalRejected(RejectReason.MALFORMED, str(exc)[:300]) from None
