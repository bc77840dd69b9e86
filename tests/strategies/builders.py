"""Builders for the arbitrage tests: instruments, books, funding rates and pairs."""

from __future__ import annotations

from decimal import Decimal

from strategies.arbitrage.pair import ArbPair, FeeRates, Leg, LegId
from strategy_client.model import (
    BookLevel,
    Exchange,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderBook,
)

D = Decimal
HOUR = 3_600_000
SPOT = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
BYBIT_PERP = InstrumentKey(Exchange.BYBIT, "BTCUSDT", MarketKind.PERP)
OKX_SWAP = InstrumentKey(Exchange.OKX, "BTC-USDT-SWAP", MarketKind.PERP)


def instrument(
    key: InstrumentKey,
    *,
    step: str = "0.001",
    tick: str = "0.1",
    min_qty: str | None = None,
    min_notional: str = "0",
    contract_size: str = "1",
) -> Instrument:
    return Instrument(
        key=key,
        base="BTC",
        quote="USDT",
        settle="USDT" if key.kind is MarketKind.PERP else "",
        tick_size=D(tick),
        step_size=D(step),
        min_qty=D(min_qty if min_qty is not None else step),
        min_notional=D(min_notional),
        contract_size=D(contract_size),
    )


SPOT_FEES = FeeRates(taker=D("0.001"), maker=D("0.001"))
PERP_FEES = FeeRates(taker=D("0.0005"), maker=D("0.0002"))


def spot_perp_pair(
    *,
    spot_step: str = "0.00001",
    perp_step: str = "0.001",
    spot_fees: FeeRates = SPOT_FEES,
    perp_fees: FeeRates = PERP_FEES,
    spot_min_notional: str = "5",
    perp_min_notional: str = "100",
) -> ArbPair:
    return ArbPair(
        a=Leg(
            id=LegId.A,
            instrument=instrument(SPOT, step=spot_step, tick="0.01", min_notional=spot_min_notional),
            fees=spot_fees,
        ),
        b=Leg(
            id=LegId.B,
            instrument=instrument(PERP, step=perp_step, tick="0.1", min_notional=perp_min_notional),
            fees=perp_fees,
        ),
    )


def perp_perp_pair() -> ArbPair:
    return ArbPair(
        a=Leg(id=LegId.A, instrument=instrument(PERP), fees=FeeRates()),
        b=Leg(id=LegId.B, instrument=instrument(BYBIT_PERP), fees=FeeRates(taker=D("0.00055"))),
    )


def book(
    key: InstrumentKey,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    *,
    ts_ns: int = 1_000_000_000_000,
    seq: int = 1,
) -> OrderBook:
    return OrderBook(
        key=key,
        bids=tuple(BookLevel(D(p), D(q)) for p, q in bids),
        asks=tuple(BookLevel(D(p), D(q)) for p, q in asks),
        venue_ts_ms=ts_ns // 1_000_000,
        local_ts_ns=ts_ns,
        sequence=seq,
    )


def funding(
    key: InstrumentKey,
    rate: str,
    *,
    interval_h: int = 8,
    next_ms: int = 8 * HOUR,
    mark: str = "100000",
) -> FundingRate:
    return FundingRate(
        key=key,
        rate=D(rate),
        interval_ms=interval_h * HOUR,
        next_funding_ts_ms=next_ms,
        mark_price=D(mark),
        index_price=D(mark),
        ts_ms=1,
    )
