"""MarketModel: drives the price process through time, keeps marks and reference prices,
re-quotes the market maker's ladders and settles funding when due."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from strategy_client.model import MarketKind, Side
from strategy_client.model.ledger import funding_payment

from .book import Resting
from .config import SymbolSpec
from .core import MARKET_MAKER, BookId, EngineCore
from .events import BalanceReason, BalancesChanged, FundingSettled, MarkUpdated
from .funding import FundingSchedule, first_funding_ms
from .liquidity import quote_ladder, to_tick
from .matching import match
from .prices import PriceProcess
from .views import AssetBalance, FundingPaymentView, IncomeRecord, IncomeType, MarkView

__all__ = ["MarketModel", "MAX_CATCH_UP"]

ZERO = Decimal(0)
MAX_CATCH_UP = 1000
"""Most funding times one ``step`` settles; beyond that the schedules skip ahead to now."""


class MarketModel:
    def __init__(self, core: EngineCore, now_ms: int) -> None:
        self.core = core
        cfg = core.config
        self.process = PriceProcess(cfg, now_ms)
        self.schedules: dict[str, FundingSchedule] = {
            sym: FundingSchedule(sym, cfg.funding_interval_ms, now_ms, self.process.index(spec.underlying))
            for sym, spec in core.perp_specs.items()
        }
        self.liquidity: dict[BookId, Decimal] = {}
        self.now_ms = now_ms
        self.refresh_prices()

    # --- prices ----------------------------------------------------------------------------

    def refresh_prices(self) -> None:
        """Recompute the Decimal marks and reference prices from the process."""
        core = self.core
        for key, spec in core.specs.items():
            price = to_tick(self.process.fair(spec), spec.tick_size, ROUND_HALF_EVEN)
            core.refs[key] = price
            if spec.kind is MarketKind.PERP:
                core.marks[spec.symbol] = price

    def _advance(self, to_ms: int) -> None:
        dt = to_ms - self.process.last_ms
        self.process.advance(to_ms)
        for sym, sched in self.schedules.items():
            sched.sample_index(self.process.index(self.core.perp_specs[sym].underlying), dt)
        self.now_ms = max(self.now_ms, to_ms)
        self.refresh_prices()

    def advance_to(self, now_ms: int) -> None:
        """Evolve to ``now_ms``, settling every funding due on the way at its own time."""
        settled = 0
        while self.schedules:
            due = min(s.next_ms for s in self.schedules.values())
            if due > now_ms:
                break
            if settled >= MAX_CATCH_UP:
                for s in self.schedules.values():
                    s.next_ms = first_funding_ms(now_ms, s.interval_ms)
                break
            self._advance(due)
            for sym, sched in self.schedules.items():
                if sched.next_ms <= due:
                    self.settle_funding(sym, sched.next_ms)
                    sched.next_ms += sched.interval_ms
            settled += 1
        self._advance(now_ms)

    def mark_view(self, symbol: str) -> MarkView:
        core = self.core
        spec = core.perp_spec(symbol)
        sched = self.schedules[symbol]
        tick = spec.tick_size
        return MarkView(
            symbol=symbol,
            mark=core.marks[symbol],
            index=to_tick(self.process.index(spec.underlying), tick, ROUND_HALF_EVEN),
            estimated_settle=to_tick(sched.estimated_settle(), tick, ROUND_HALF_EVEN),
            funding_rate=self.process.funding_rate(symbol),
            next_funding_ms=sched.next_ms,
            interest_rate=core.config.interest_rate,
            funding_interval_ms=sched.interval_ms,
            ts_ms=self.now_ms,
        )

    def emit_marks(self) -> None:
        bus = self.core.bus
        if bus.active:
            for symbol in self.schedules:
                bus.emit(MarkUpdated(symbol=symbol, mark=self.mark_view(symbol)))

    # --- funding ---------------------------------------------------------------------------

    def settle_funding(self, symbol: str, ts_ms: int) -> None:
        """Every position pays ``size x mark x rate`` (positive rate: longs pay shorts)."""
        core = self.core
        spec = core.perp_spec(symbol)
        rate = self.process.funding_rate(symbol)
        mark = core.marks[symbol]
        self.schedules[symbol].record(rate, mark, ts_ms)
        bus = core.bus
        if bus.active:
            bus.emit(FundingSettled(symbol=symbol, rate=rate, mark=mark, ts_ms=ts_ms))
        asset = spec.quote
        for account in core.accounts.values():
            futures = account.futures
            pos = futures.positions.get(symbol)
            if pos is None or pos.size == 0:
                continue
            amount = funding_payment(pos.size, mark, rate)
            futures.credit(asset, amount)
            if account.is_market_maker:
                continue
            futures.add_income(
                IncomeRecord(
                    tran_id=core.next_tran_id(),
                    symbol=symbol,
                    income_type=IncomeType.FUNDING_FEE,
                    income=amount,
                    asset=asset,
                    info="",
                    time_ms=ts_ms,
                )
            )
            if bus.active:
                summary = core.margin(account, asset)
                balance = AssetBalance(
                    asset=asset, free=summary.available, locked=summary.initial_margin, wallet=summary.wallet
                )
                payment = FundingPaymentView(
                    symbol=symbol,
                    asset=asset,
                    amount=amount,
                    rate=rate,
                    mark=mark,
                    size=pos.size,
                    ts_ms=ts_ms,
                )
                bus.emit(
                    BalancesChanged(
                        account=account.account_id,
                        kind=MarketKind.PERP,
                        reason=BalanceReason.FUNDING_FEE,
                        balances={asset: balance},
                        positions=[],
                        funding=[payment],
                        ts_ms=ts_ms,
                    )
                )

    # --- liquidity -------------------------------------------------------------------------

    def level_qty(self, spec: SymbolSpec) -> Decimal:
        cfg = self.core.config
        qty = self.liquidity.get((spec.kind, spec.symbol))
        if qty is None:
            qty = spec.level_qty or cfg.level_qty.get(spec.underlying, cfg.default_level_qty)
        units = (qty / spec.step_size).to_integral_value(rounding=ROUND_FLOOR)
        return (units * spec.step_size).quantize(spec.step_size) if units > 0 else ZERO

    def requote(self, key: BookId) -> None:
        """Replace the market maker's ladder around the current fair price. New levels that
        cross resting user orders trade with them first (the users are makers)."""
        core = self.core
        spec = core.specs[key]
        cfg = core.config
        ladder = quote_ladder(
            self.process.fair(spec),
            tick=spec.tick_size,
            half_spread_bps=cfg.half_spread_bps,
            spacing_ticks=spec.level_spacing_ticks or cfg.level_spacing_ticks,
            levels=cfg.depth_levels,
            qty=self.level_qty(spec),
            min_price=spec.min_price,
            max_price=spec.max_price,
        )
        qty = ladder.qty
        self.apply_ladder(key, {p: qty for p in ladder.bids}, {p: qty for p in ladder.asks})

    def apply_ladder(self, key: BookId, bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal]) -> None:
        """Make the market maker's levels of one book exactly ``bids``/``asks`` (price → qty).
        Levels at unchanged prices keep their queue place and are topped up or cut; new levels
        that cross resting user orders trade with them first (the users are makers)."""
        core = self.core
        spec = core.specs[key]
        book = core.books[key]
        mm = core.accounts[MARKET_MAKER]
        ts = self.now_ms
        for side, wanted in ((Side.BUY, bids), (Side.SELL, asks)):
            entries = book.mm_entries(side)
            for price, entry in list(entries.items()):
                if price not in wanted:
                    book.cancel(entry)
                    core.touch_book(book)
        for side, wanted in ((Side.BUY, bids), (Side.SELL, asks)):
            entries = book.mm_entries(side)
            book_side = book.side(side)
            for price, qty in wanted.items():
                kept = entries.get(price)
                if kept is not None:
                    if kept.qty < qty:
                        book_side.grow(kept, qty - kept.qty)
                        core.touch_book(book)
                    elif kept.qty > qty:
                        book.fill(kept, kept.qty - qty)
                        core.touch_book(book)
                    continue
                left = qty
                if book.would_cross(side, price):
                    left -= match(core, book, spec, mm, None, side, price, qty, ts)
                if left > 0:
                    entry = Resting(MARKET_MAKER, None, side, price, left)
                    book_side.add(entry)
                    entries[price] = entry
                    core.touch_book(book)

    def requote_all(self) -> None:
        for key in self.core.books:
            self.requote(key)

    def requote_underlying(self, underlying: str) -> None:
        for key, spec in self.core.specs.items():
            if spec.underlying == underlying:
                self.requote(key)
