"""tradebus keys ↔ OKX instruments, and exact contract arithmetic (reference §9).

``InstrumentKey.symbol`` is canonical BASEQUOTE (``BTCUSDT``) with kind ``spot`` (OKX
``BTC-USDT``) or ``perp`` (``BTC-USDT-SWAP``). Quantities in the domain model are in base units
on every venue; an OKX swap sizes in contracts of ``ctVal × ctMult`` base units, so
``base = sz × ctVal × ctMult`` and ``sz = base / (ctVal × ctMult)`` — exact in Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from exchanges.errors import InvalidRequest
from strategy_client.model import InstrumentKey, MarketKind, to_plain

__all__ = ["VenueInstrument", "SymbolMap"]

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class VenueInstrument:
    """What the adapter needs to speak about one instrument to OKX."""

    key: InstrumentKey
    inst_id: str
    inst_type: str  # "SPOT" or "SWAP"
    tick_sz: Decimal
    lot_sz: Decimal  # venue units
    min_sz: Decimal  # venue units
    ct_val: Decimal = ONE  # base units per contract (ctVal × ctMult); 1 for spot
    inst_id_code: int | None = None
    settle: str = ""

    @property
    def is_swap(self) -> bool:
        return self.inst_type == "SWAP"

    @property
    def family(self) -> str:
        """``BTC-USDT``: the index (and ``instFamily``) of this instrument."""
        parts = self.inst_id.split("-")
        return "-".join(parts[:2])

    def to_base(self, size: Decimal) -> Decimal:
        return size * self.ct_val

    def to_venue(self, qty: Decimal) -> Decimal:
        """Base units → venue size; InvalidRequest unless a whole number of lots."""
        size = qty / self.ct_val
        if size <= 0 or size % self.lot_sz != 0:
            step = self.lot_sz * self.ct_val
            raise InvalidRequest(
                f"{self.key}: quantity {to_plain(qty)} is not a positive multiple of the step {to_plain(step)} "
                f"(lotSz {to_plain(self.lot_sz)} × ctVal {to_plain(self.ct_val)})",
                venue="okx",
            )
        return size


class SymbolMap:
    """The loaded instruments, by key and by ``instId``."""

    def __init__(self, instruments: Iterable[VenueInstrument] = ()) -> None:
        self._by_key: dict[InstrumentKey, VenueInstrument] = {}
        self._by_id: dict[str, VenueInstrument] = {}
        for inst in instruments:
            self._by_key[inst.key] = inst
            self._by_id[inst.inst_id] = inst

    def __len__(self) -> int:
        return len(self._by_key)

    def by_id(self, inst_id: str) -> VenueInstrument | None:
        return self._by_id.get(inst_id)

    def by_key(self, key: InstrumentKey) -> VenueInstrument | None:
        return self._by_key.get(key)

    def require(self, key: InstrumentKey) -> VenueInstrument:
        inst = self._by_key.get(key)
        if inst is None:
            raise InvalidRequest(f"{key} is not an OKX instrument this adapter has loaded", venue="okx")
        return inst

    def of_kind(self, kind: MarketKind) -> list[VenueInstrument]:
        return [i for i in self._by_key.values() if i.key.kind is kind]

    def all(self) -> list[VenueInstrument]:
        return list(self._by_key.values())
