"""The instruments the offline OKX venue lists, and the contract arithmetic (reference §5, §9).

The engine trades every instrument in **base units** under the canonical symbol (``BTCUSDT``,
spot and perp), exactly as the Binance dialect does, so both venues started with the same seed
follow one price path. OKX's own view is per ``instId``: ``BTC-USDT`` (SPOT, sizes in BTC) and
``BTC-USDT-SWAP`` (SWAP, sizes in **contracts** of ``ctVal`` BTC). This module holds both views
and converts exactly between them: ``base = contracts × ctVal``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from exchanges.sim.engine import DEFAULT_SYMBOLS, SymbolSpec
from strategy_client.model import MarketKind

__all__ = ["OkxInstrument", "Catalog", "OKX_SYMBOLS", "INSTRUMENTS", "inst_type_of"]

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class OkxInstrument:
    """One ``instId`` with OKX's parameters (venue units) and the engine spec (base units)."""

    inst_id: str
    inst_type: str  # "SPOT" or "SWAP"
    inst_id_code: int
    base: str
    quote: str
    tick_sz: Decimal
    lot_sz: Decimal  # venue units: base for spot, contracts for swaps
    min_sz: Decimal
    max_lmt_sz: Decimal
    max_mkt_sz: Decimal
    max_mkt_amt: Decimal  # spot: most quote currency one market order may spend
    ct_val: Decimal = ONE  # base units per contract (1 for spot)
    max_lever: int = 1
    list_time_ms: int = 1_548_133_413_000

    @property
    def kind(self) -> MarketKind:
        return MarketKind.SPOT if self.inst_type == "SPOT" else MarketKind.PERP

    @property
    def symbol(self) -> str:
        """The engine's (and tradebus') canonical symbol, e.g. ``BTCUSDT``."""
        return self.base + self.quote

    @property
    def is_swap(self) -> bool:
        return self.inst_type == "SWAP"

    def to_base(self, size: Decimal) -> Decimal:
        """Venue size (contracts for a swap) → base units, exact."""
        return size * self.ct_val if self.is_swap else size

    def to_venue(self, qty: Decimal) -> Decimal:
        """Base units → venue size (contracts for a swap), exact."""
        return qty / self.ct_val if self.is_swap else qty

    def spec(self, template: SymbolSpec) -> SymbolSpec:
        """The engine spec: ``template``'s market model with OKX's filters in base units."""
        return SymbolSpec(
            symbol=self.symbol,
            kind=self.kind,
            base=self.base,
            quote=self.quote,
            tick_size=self.tick_sz,
            step_size=self.to_base(self.lot_sz),
            min_qty=self.to_base(self.min_sz),
            max_qty=self.to_base(self.max_lmt_sz),
            market_max_qty=self.to_base(self.max_mkt_sz),
            min_notional=ZERO,  # OKX has no minimum notional: minSz only (51020)
            min_price=self.tick_sz,
            max_price=Decimal("10000000"),
            percent_price_up=Decimal("1.05"),
            percent_price_down=Decimal("0.95"),
            start_price=template.start_price,
            underlying=template.underlying,
            max_open_orders=500,  # pending orders per instrument (reference §4)
            level_qty=template.level_qty,
            level_spacing_ticks=_spacing(template, self.tick_sz),
        )


def _spacing(template: SymbolSpec, tick: Decimal) -> int:
    """Keep the template's ladder spacing in price (not in ticks) when the tick differs."""
    if not template.level_spacing_ticks:
        return 0
    width = template.tick_size * template.level_spacing_ticks
    return max(1, int(width / tick))


def inst_type_of(kind: MarketKind) -> str:
    return "SPOT" if kind is MarketKind.SPOT else "SWAP"


INSTRUMENTS: tuple[OkxInstrument, ...] = (
    OkxInstrument(
        inst_id="BTC-USDT",
        inst_type="SPOT",
        inst_id_code=1,
        base="BTC",
        quote="USDT",
        tick_sz=Decimal("0.1"),
        lot_sz=Decimal("0.00000001"),
        min_sz=Decimal("0.00001"),
        max_lmt_sz=Decimal("9999999999"),
        max_mkt_sz=Decimal("1000000"),
        max_mkt_amt=Decimal("1000000"),
        max_lever=10,
    ),
    OkxInstrument(
        inst_id="ETH-USDT",
        inst_type="SPOT",
        inst_id_code=2,
        base="ETH",
        quote="USDT",
        tick_sz=Decimal("0.01"),
        lot_sz=Decimal("0.000001"),
        min_sz=Decimal("0.0001"),
        max_lmt_sz=Decimal("9999999999"),
        max_mkt_sz=Decimal("1000000"),
        max_mkt_amt=Decimal("1000000"),
        max_lever=10,
    ),
    OkxInstrument(
        inst_id="BTC-USDT-SWAP",
        inst_type="SWAP",
        inst_id_code=10459,
        base="BTC",
        quote="USDT",
        tick_sz=Decimal("0.1"),
        lot_sz=Decimal("0.01"),
        min_sz=Decimal("0.01"),
        max_lmt_sz=Decimal("100000000"),
        max_mkt_sz=Decimal("12000"),
        max_mkt_amt=ZERO,
        ct_val=Decimal("0.01"),
        max_lever=100,
        list_time_ms=1_573_557_408_000,
    ),
    OkxInstrument(
        inst_id="ETH-USDT-SWAP",
        inst_type="SWAP",
        inst_id_code=10461,
        base="ETH",
        quote="USDT",
        tick_sz=Decimal("0.01"),
        lot_sz=Decimal("0.01"),
        min_sz=Decimal("0.01"),
        max_lmt_sz=Decimal("100000000"),
        max_mkt_sz=Decimal("20000"),
        max_mkt_amt=ZERO,
        ct_val=Decimal("0.1"),
        max_lever=100,
        list_time_ms=1_573_557_408_000,
    ),
)


def _okx_symbols() -> tuple[SymbolSpec, ...]:
    templates = {(s.kind, s.symbol): s for s in DEFAULT_SYMBOLS}
    return tuple(inst.spec(templates[(inst.kind, inst.symbol)]) for inst in INSTRUMENTS)


OKX_SYMBOLS: tuple[SymbolSpec, ...] = _okx_symbols()
"""Engine specs of every listed instrument (``SimConfig.symbols`` of the OKX venue)."""


class Catalog:
    """The listed instruments of one running venue, by ``instId``, ``instIdCode`` and engine key."""

    def __init__(self, specs: Iterable[SymbolSpec], instruments: Iterable[OkxInstrument] = INSTRUMENTS) -> None:
        listed = {(s.kind, s.symbol) for s in specs}
        self._by_id: dict[str, OkxInstrument] = {}
        self._by_code: dict[int, OkxInstrument] = {}
        self._by_key: dict[tuple[MarketKind, str], OkxInstrument] = {}
        for inst in instruments:
            if (inst.kind, inst.symbol) not in listed:
                continue
            self._by_id[inst.inst_id] = inst
            self._by_code[inst.inst_id_code] = inst
            self._by_key[(inst.kind, inst.symbol)] = inst

    def all(self, inst_type: str | None = None) -> list[OkxInstrument]:
        return [i for i in self._by_id.values() if inst_type is None or i.inst_type == inst_type]

    def by_id(self, inst_id: str) -> OkxInstrument | None:
        return self._by_id.get(inst_id)

    def by_code(self, code: int) -> OkxInstrument | None:
        return self._by_code.get(code)

    def by_key(self, kind: MarketKind, symbol: str) -> OkxInstrument | None:
        return self._by_key.get((kind, symbol))

    def swaps(self) -> list[OkxInstrument]:
        return self.all("SWAP")
