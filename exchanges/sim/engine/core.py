"""EngineCore: the shared state of one simulated venue and the commit of an engine call.

Modules that change state (matching, settlement, trading, market) take the core; the
``SimVenue`` facade owns it. A *transaction* is one public engine call: changes mark what they
touched, and ``commit`` turns that into ``BalancesChanged``/``BookUpdated`` events, closes the
books' update-id batches and delivers every queued event.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from strategy_client.model import MarketKind

from .accounts import Account, FuturesAccount, SpotWallet
from .book import MatchingBook
from .bus import EventBus
from .clock import SimClock
from .config import SimConfig, SymbolSpec
from .errors import RejectReason, SimReject
from .events import BalanceReason, BalancesChanged, BookUpdated
from .margin import MarginSummary, position_view, summarize
from .store import OrderStore
from .views import AssetBalance, PositionView, PublicTrade

__all__ = ["EngineCore", "MARKET_MAKER", "BookId"]

MARKET_MAKER = "__mm__"
"""The account that owns the synthetic liquidity (readable like any account)."""

BookId = tuple[MarketKind, str]
ZERO = Decimal(0)


class EngineCore:
    def __init__(self, config: SimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.specs: dict[BookId, SymbolSpec] = {}
        self.perp_specs: dict[str, SymbolSpec] = {}
        self.books: dict[BookId, MatchingBook] = {}
        self.tapes: dict[BookId, deque[PublicTrade]] = {}
        for i, spec in enumerate(config.symbols):
            key = (spec.kind, spec.symbol)
            if key in self.specs:
                raise ValueError(f"symbol {spec.symbol} listed twice for {spec.kind.value}")
            if spec.tick_size <= 0 or spec.step_size <= 0:
                raise ValueError(f"{spec.symbol}: tick and step sizes must be positive")
            self.specs[key] = spec
            if spec.kind is MarketKind.PERP:
                self.perp_specs[spec.symbol] = spec
            # distinct id ranges per book make mixed-up ids visible in client tests
            self.books[key] = MatchingBook(
                spec.kind,
                spec.symbol,
                first_update_id=1_000_000 * (i + 1),
                first_trade_id=100_000 * (i + 1) + 1,
            )
            self.tapes[key] = deque(maxlen=max(1, config.public_trades_kept))
        self.store = OrderStore(max_final=config.max_final_orders, max_fills=config.max_final_orders)
        self.bus = EventBus()
        self.accounts: dict[str, Account] = {}
        self.fees: dict[MarketKind, dict[str, Decimal]] = {MarketKind.SPOT: {}, MarketKind.PERP: {}}
        self.marks: dict[str, Decimal] = {}
        self.refs: dict[BookId, Decimal] = {}
        self.reduce_only_open: dict[tuple[str, str], dict[int, None]] = {}
        self._tran_id = 0
        # per-transaction touch sets
        self.touched_spot: dict[str, set[str]] = {}
        self.touched_futures: dict[str, set[str]] = {}
        self.touched_books: dict[BookId, MatchingBook] = {}
        assets = {a for s in config.symbols for a in (s.base, s.quote)}
        self.accounts[MARKET_MAKER] = Account(
            MARKET_MAKER,
            SpotWallet(dict.fromkeys(sorted(assets), ZERO), checked=False),
            FuturesAccount({s.quote: ZERO for s in self.perp_specs.values()}, record_income=False),
            is_market_maker=True,
        )

    # --- lookups ---------------------------------------------------------------------------

    def spec(self, kind: MarketKind, symbol: str) -> SymbolSpec:
        spec = self.specs.get((kind, symbol))
        if spec is None:
            raise SimReject(RejectReason.UNKNOWN_SYMBOL, f"{kind.value} {symbol}")
        return spec

    def perp_spec(self, symbol: str) -> SymbolSpec:
        spec = self.perp_specs.get(symbol)
        if spec is None:
            raise SimReject(RejectReason.UNKNOWN_SYMBOL, f"perp {symbol}")
        return spec

    def account(self, account_id: str) -> Account:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise SimReject(RejectReason.UNKNOWN_ACCOUNT, account_id)
        return acct

    def next_tran_id(self) -> int:
        self._tran_id += 1
        return self._tran_id

    def leverage(self, account: Account, symbol: str) -> int:
        return account.futures.leverage.get(symbol, self.config.default_leverage)

    def margin(self, account: Account, asset: str) -> MarginSummary:
        return summarize(
            account.futures,
            asset,
            self.perp_specs,
            self.marks,
            self.config.default_leverage,
            self.config.maint_margin_rate,
        )

    def position_view(
        self, account: Account, symbol: str, summary: MarginSummary | None = None
    ) -> PositionView:
        spec = self.perp_specs[symbol]
        if summary is None:
            summary = self.margin(account, spec.quote)
        return position_view(
            symbol,
            spec,
            account.futures.positions.get(symbol),
            self.leverage(account, symbol),
            self.marks[symbol],
            summary,
            self.config.maint_margin_rate,
        )

    # --- transactions ----------------------------------------------------------------------

    def touch_spot(self, account: Account, *assets: str) -> None:
        if account.is_market_maker:
            return
        touched = self.touched_spot.get(account.account_id)
        if touched is None:
            touched = self.touched_spot[account.account_id] = set()
        touched.update(assets)

    def touch_futures(self, account: Account, symbol: str) -> None:
        if account.is_market_maker:
            return
        touched = self.touched_futures.get(account.account_id)
        if touched is None:
            touched = self.touched_futures[account.account_id] = set()
        touched.add(symbol)

    def touch_book(self, book: MatchingBook) -> None:
        self.touched_books[(book.kind, book.symbol)] = book

    def commit(self, ts_ms: int, reason: BalanceReason = BalanceReason.ORDER) -> None:
        """Emit balance and book events for what this call touched, then deliver everything."""
        bus = self.bus
        active = bus.active
        if self.touched_spot:
            if active:
                for acc_id, assets in self.touched_spot.items():
                    wallet = self.accounts[acc_id].spot
                    balances = {}
                    for asset in sorted(assets):
                        free, locked = wallet.balance(asset)
                        balances[asset] = AssetBalance(
                            asset=asset, free=free, locked=locked, wallet=free + locked
                        )
                    bus.emit(
                        BalancesChanged(
                            account=acc_id,
                            kind=MarketKind.SPOT,
                            reason=reason,
                            balances=balances,
                            positions=[],
                            funding=[],
                            ts_ms=ts_ms,
                        )
                    )
            self.touched_spot = {}
        if self.touched_futures:
            if active:
                for acc_id, symbols in self.touched_futures.items():
                    bus.emit(self.futures_balances_event(acc_id, sorted(symbols), reason, ts_ms))
            self.touched_futures = {}
        if self.touched_books:
            for book in self.touched_books.values():
                diff = book.flush()
                if diff is None:
                    continue
                book.ts_ms = ts_ms
                if active:
                    bus.emit(
                        BookUpdated(
                            kind=book.kind,
                            symbol=book.symbol,
                            update_id=diff.update_id,
                            first_update_id=diff.first_update_id,
                            prev_update_id=diff.prev_update_id,
                            bids=diff.bids,
                            asks=diff.asks,
                            ts_ms=ts_ms,
                        )
                    )
            self.touched_books = {}
        bus.deliver()

    def futures_balances_event(
        self, acc_id: str, symbols: list[str], reason: BalanceReason, ts_ms: int, change: Decimal = ZERO
    ) -> BalancesChanged:
        account = self.accounts[acc_id]
        assets = sorted({self.perp_specs[s].quote for s in symbols}) if symbols else []
        balances = {}
        summaries: dict[str, MarginSummary] = {}
        for asset in assets:
            summary = summaries[asset] = self.margin(account, asset)
            balances[asset] = AssetBalance(
                asset=asset,
                free=summary.available,
                locked=summary.initial_margin,
                wallet=summary.wallet,
                change=change,
            )
        positions = [self.position_view(account, s, summaries[self.perp_specs[s].quote]) for s in symbols]
        return BalancesChanged(
            account=acc_id,
            kind=MarketKind.PERP,
            reason=reason,
            balances=balances,
            positions=positions,
            funding=[],
            ts_ms=ts_ms,
        )
