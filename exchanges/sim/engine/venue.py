"""SimVenue: the facade venue dialects call. Synchronous, no I/O; time comes from the clock.

Every mutating call is atomic: it either raises ``SimReject`` having changed nothing, or
completes and then delivers its events to the listeners (see ``events.py`` for the order).
Orders returned are snapshots: later changes are seen through ``get_order`` or events.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from strategy_client.model import MarketKind, OrderType, Side, TimeInForce

from .accounts import Account, FuturesAccount, SpotWallet
from .amend import amend_order
from .clock import SimClock, WallClock
from .config import SimConfig, SymbolSpec
from .core import MARKET_MAKER, EngineCore
from .errors import RejectReason, SimReject
from .events import BalanceReason, BalancesChanged, LeverageChanged, SimEvent
from .margin import MarginSummary
from .market import MarketModel
from .orders import SimFill, SimOrder
from .trading import cancel_all, cancel_order, place_order
from .views import (
    AssetBalance,
    BookView,
    FundingRecord,
    FuturesAccountView,
    IncomeRecord,
    IncomeType,
    MarkView,
    PositionView,
    PublicTrade,
)

__all__ = ["SimVenue", "MARKET_MAKER"]

ZERO = Decimal(0)
M = TypeVar("M", bound=MarketModel)


class SimVenue:
    """One simulated venue: its books, accounts, market model and listeners.

    ::

        venue = SimVenue(SimConfig(funding_interval_ms=60_000), clock=ManualClock())
        venue.add_account("key-1")
        venue.listen(on_event)
        order = venue.place_order("key-1", MarketKind.PERP, "BTCUSDT", Side.BUY, OrderType.MARKET,
                                  TimeInForce.GTC, Decimal("0.01"), None, "my-id-1")
        clock.advance(100); venue.step()   # the dialect calls step() from its own loop
    """

    def __init__(self, config: SimConfig | None = None, *, clock: SimClock | None = None) -> None:
        self._core = core = EngineCore(config or SimConfig(), clock or WallClock())
        now = core.clock.now_ms()
        self._market = MarketModel(core, now)
        self._market.requote_all()
        core.commit(now)

    # --- set-up ----------------------------------------------------------------------------

    def use_market(self, make: Callable[[EngineCore, int], M], clock: SimClock | None = None) -> M:
        """Replace the market model (and the clock) before anyone trades: ``make(core, now)``
        builds it (a replay's ``ReplayMarket``, exchanges/sim/replay.py); its books are quoted now."""
        core = self._core
        if clock is not None:
            core.clock = clock
        now = core.clock.now_ms()
        self._market = market = make(core, now)
        try:
            market.requote_all()
        finally:
            core.commit(now)
        return market

    @property
    def config(self) -> SimConfig:
        return self._core.config

    @property
    def clock(self) -> SimClock:
        return self._core.clock

    def add_account(self, account_id: str) -> None:
        """Create an account funded from the config (spot and futures); no-op if it exists."""
        core = self._core
        if not account_id:
            raise SimReject(RejectReason.UNKNOWN_ACCOUNT, "an account id must not be empty")
        if account_id in core.accounts:
            return
        cfg = core.config
        core.accounts[account_id] = Account(
            account_id,
            SpotWallet(cfg.starting_balances),
            FuturesAccount(cfg.futures_starting_balance, max_income=cfg.max_income_records),
            is_market_maker=False,
        )

    def has_account(self, account_id: str) -> bool:
        return account_id in self._core.accounts

    def instruments(self, kind: MarketKind) -> list[SymbolSpec]:
        return [s for s in self._core.config.symbols if s.kind is kind]

    def spec(self, kind: MarketKind, symbol: str) -> SymbolSpec:
        return self._core.spec(kind, symbol)

    # --- market data -----------------------------------------------------------------------

    def book(self, kind: MarketKind, symbol: str, depth: int = 100) -> BookView:
        self._core.spec(kind, symbol)
        book = self._core.books[(kind, symbol)]
        return BookView(
            bids=book.bids.levels(depth),
            asks=book.asks.levels(depth),
            update_id=book.update_id,
            ts_ms=book.ts_ms or self._market.now_ms,
        )

    def mark(self, symbol: str) -> MarkView:
        return self._market.mark_view(symbol)

    def marks(self) -> list[MarkView]:
        return [self._market.mark_view(s) for s in self._core.perp_specs]

    def reference_price(self, kind: MarketKind, symbol: str) -> Decimal:
        """The price filters and MARKET notionals use: mark for perps, fair price for spot."""
        self._core.spec(kind, symbol)
        return self._core.refs[(kind, symbol)]

    def basis_bps(self, symbol: str) -> float:
        """The perp's current basis over the index, in bps (the model's, before tick rounding)."""
        self._core.perp_spec(symbol)
        return self._market.process.basis_bps(symbol)

    def funding_history(
        self, symbol: str, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[FundingRecord]:
        self._core.perp_spec(symbol)
        return self._market.schedules[symbol].query(start_ms, end_ms, limit)

    def recent_trades(self, kind: MarketKind, symbol: str, limit: int = 500) -> list[PublicTrade]:
        """The public tape, oldest first (at most ``config.public_trades_kept``)."""
        self._core.spec(kind, symbol)
        tape = self._core.tapes[(kind, symbol)]
        if limit <= 0:
            return []
        return list(tape)[-limit:]

    # --- trading ---------------------------------------------------------------------------

    def place_order(
        self,
        account: str,
        kind: MarketKind,
        symbol: str,
        side: Side,
        type: OrderType,
        tif: TimeInForce,
        qty: Decimal | None,
        price: Decimal | None,
        client_order_id: str,
        reduce_only: bool = False,
        quote_qty: Decimal | None = None,
    ) -> SimOrder:
        core = self._core
        now = core.clock.now_ms()
        try:
            order = place_order(
                core,
                account,
                kind,
                symbol,
                side,
                type,
                tif,
                qty,
                price,
                client_order_id,
                reduce_only,
                quote_qty,
                now,
            )
            return order.snapshot()
        finally:
            core.commit(now)

    def cancel_order(
        self,
        account: str,
        kind: MarketKind,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> SimOrder:
        core = self._core
        now = core.clock.now_ms()
        try:
            return cancel_order(core, account, kind, symbol, order_id, client_order_id, now).snapshot()
        finally:
            core.commit(now)

    def amend_order(
        self,
        account: str,
        kind: MarketKind,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> SimOrder:
        """A resting LIMIT order's new total ``qty`` and/or ``price`` (None keeps it), same id;
        see ``amend.py`` for queue priority and crossing."""
        core = self._core
        now = core.clock.now_ms()
        try:
            return amend_order(core, account, kind, symbol, order_id, client_order_id, qty, price, now).snapshot()
        finally:
            core.commit(now)

    def cancel_all(self, account: str, kind: MarketKind, symbol: str) -> list[SimOrder]:
        core = self._core
        now = core.clock.now_ms()
        try:
            return [o.snapshot() for o in cancel_all(core, account, kind, symbol, now)]
        finally:
            core.commit(now)

    def get_order(
        self,
        account: str,
        kind: MarketKind,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> SimOrder:
        """An open or final order, by id or by client id (the latest order with that id)."""
        core = self._core
        core.account(account)
        core.spec(kind, symbol)
        if order_id is None and client_order_id is None:
            raise SimReject(RejectReason.INVALID_ORDER, "give an order id or a client order id")
        order = core.store.find(account, kind, symbol, order_id, client_order_id)
        if order is None:
            raise SimReject(RejectReason.UNKNOWN_ORDER, f"{order_id or client_order_id}")
        return order.snapshot()

    def open_orders(self, account: str, kind: MarketKind, symbol: str | None = None) -> list[SimOrder]:
        core = self._core
        core.account(account)
        if symbol is not None:
            core.spec(kind, symbol)
        return [o.snapshot() for o in core.store.open_orders(account, kind, symbol)]

    def all_orders(
        self,
        account: str,
        kind: MarketKind,
        symbol: str,
        *,
        from_order_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[SimOrder]:
        """Open and final orders of one book (Binance allOrders), ascending by id. With
        ``from_order_id`` the first ``limit`` from that id, otherwise the latest ``limit``;
        ``start_ms``/``end_ms`` filter on creation time."""
        core = self._core
        core.account(account)
        core.spec(kind, symbol)
        if limit <= 0:
            return []
        orders = [
            o
            for o in core.store.all_orders(account, kind, symbol)
            if (from_order_id is None or o.order_id >= from_order_id)
            and (start_ms is None or o.created_ms >= start_ms)
            and (end_ms is None or o.created_ms <= end_ms)
        ]
        chosen = orders[:limit] if from_order_id is not None else orders[-limit:]
        return [o.snapshot() for o in chosen]

    def trades(
        self,
        account: str,
        kind: MarketKind,
        symbol: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        from_id: int | None = None,
        limit: int | None = None,
    ) -> list[SimFill]:
        """The account's fills on one book, ascending. With ``from_id``/``start_ms`` the first
        ``limit`` from there, otherwise the latest ``limit`` (all when ``limit`` is None)."""
        core = self._core
        core.account(account)
        core.spec(kind, symbol)
        fills = [
            f
            for f in core.store.fills(account, kind, symbol)
            if (start_ms is None or f.ts_ms >= start_ms)
            and (end_ms is None or f.ts_ms <= end_ms)
            and (from_id is None or f.trade_id >= from_id)
        ]
        if limit is None:
            return fills
        if limit <= 0:
            return []
        if from_id is not None or start_ms is not None:
            return fills[:limit]
        return fills[-limit:]

    # --- accounts --------------------------------------------------------------------------

    def spot_balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        wallet = self._core.account(account).spot
        return {asset: wallet.balance(asset) for asset in wallet.assets()}

    def futures_account(self, account: str, asset: str | None = None) -> FuturesAccountView:
        """The cross-margin totals for ``asset`` (default: the first perp's settle asset)."""
        core = self._core
        acct = core.account(account)
        if asset is None:
            asset = next(iter(core.perp_specs.values())).quote if core.perp_specs else "USDT"
        summary = core.margin(acct, asset)
        positions = [p for p in self._position_views(acct, include_flat=False) if p.margin_asset == asset]
        return FuturesAccountView(
            asset=asset,
            wallet=summary.wallet,
            unrealized=summary.unrealized,
            margin_balance=summary.margin_balance,
            available=summary.available,
            initial_margin=summary.initial_margin,
            position_initial_margin=summary.position_im,
            open_order_initial_margin=summary.order_im,
            maint_margin=summary.maint,
            positions=positions,
            ts_ms=core.clock.now_ms(),
        )

    def positions(self, account: str, include_flat: bool = False) -> list[PositionView]:
        """Positions with a size or open orders (every perp with ``include_flat``)."""
        return self._position_views(self._core.account(account), include_flat=include_flat)

    def _position_views(self, acct: Account, *, include_flat: bool) -> list[PositionView]:
        core = self._core
        out = []
        summaries: dict[str, MarginSummary] = {}
        for symbol, spec in core.perp_specs.items():
            pos = acct.futures.positions.get(symbol)
            exp = acct.futures.exposure.get(symbol)
            if not include_flat and (pos is None or pos.size == 0) and (exp is None or exp.empty):
                continue
            summary = summaries.get(spec.quote)
            if summary is None:
                summary = summaries[spec.quote] = core.margin(acct, spec.quote)
            out.append(core.position_view(acct, symbol, summary))
        return out

    def leverage(self, account: str, symbol: str) -> int:
        self._core.perp_spec(symbol)
        return self._core.leverage(self._core.account(account), symbol)

    def set_leverage(self, account: str, symbol: str, leverage: int) -> int:
        """1..max_leverage; refused (INSUFFICIENT_MARGIN) if the position and open orders
        would then need more initial margin than the margin balance holds."""
        core = self._core
        acct = core.account(account)
        spec = core.perp_spec(symbol)
        if not 1 <= leverage <= core.config.max_leverage:
            raise SimReject(
                RejectReason.INVALID_LEVERAGE, f"leverage {leverage} not in 1..{core.config.max_leverage}"
            )
        levs = acct.futures.leverage
        old = levs.get(symbol)
        levs[symbol] = leverage
        if old is None or leverage < old:
            summary = core.margin(acct, spec.quote)
            if summary.initial_margin > 0 and summary.available < 0:
                if old is None:
                    del levs[symbol]
                else:
                    levs[symbol] = old
                raise SimReject(RejectReason.INSUFFICIENT_MARGIN, f"leverage {leverage} needs more margin")
        now = core.clock.now_ms()
        if core.bus.active:
            core.bus.emit(LeverageChanged(account=account, symbol=symbol, leverage=leverage, ts_ms=now))
        core.commit(now)
        return leverage

    def income(
        self,
        account: str,
        symbol: str | None = None,
        income_type: IncomeType | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[IncomeRecord]:
        acct = self._core.account(account)
        return acct.futures.query_income(symbol, income_type, start_ms, end_ms, limit)

    def fees_collected(self, kind: MarketKind) -> dict[str, Decimal]:
        """Fees the venue has charged so far, per asset."""
        return dict(self._core.fees[kind])

    def deposit(self, account: str, kind: MarketKind, asset: str, amount: Decimal) -> None:
        """Credit (negative: withdraw from the free/available balance) an account's wallet."""
        core = self._core
        acct = core.account(account)
        if not amount.is_finite() or amount == 0:
            raise SimReject(RejectReason.INVALID_QTY, f"amount {amount}")
        now = core.clock.now_ms()
        if kind is MarketKind.SPOT:
            if amount < 0:
                acct.spot.require(asset, -amount)
            acct.spot.add(asset, amount)
            core.touch_spot(acct, asset)
            core.commit(now, BalanceReason.DEPOSIT)
            return
        if amount < 0 and core.margin(acct, asset).available < -amount:
            raise SimReject(RejectReason.INSUFFICIENT_BALANCE, f"{asset}: available below {-amount}")
        acct.futures.credit(asset, amount)
        acct.futures.add_income(
            IncomeRecord(
                tran_id=core.next_tran_id(),
                symbol="",
                income_type=IncomeType.TRANSFER,
                income=amount,
                asset=asset,
                info="deposit" if amount > 0 else "withdraw",
                time_ms=now,
            )
        )
        if core.bus.active:
            summary = core.margin(acct, asset)
            core.bus.emit(
                BalancesChanged(
                    account=account,
                    kind=MarketKind.PERP,
                    reason=BalanceReason.DEPOSIT,
                    balances={
                        asset: AssetBalance(
                            asset=asset,
                            free=summary.available,
                            locked=summary.initial_margin,
                            wallet=summary.wallet,
                            change=amount,
                        )
                    },
                    positions=[],
                    funding=[],
                    ts_ms=now,
                )
            )
        core.commit(now)

    # --- time ------------------------------------------------------------------------------

    def step(self) -> None:
        """Advance prices to ``clock.now_ms()`` (settling funding on the way), re-quote the
        synthetic liquidity and match resting user orders the market moved into."""
        core = self._core
        now = core.clock.now_ms()
        try:
            self._market.advance_to(now)
            self._market.requote_all()
        finally:
            core.commit(now)
        self._market.emit_marks()
        core.bus.deliver()

    def listen(self, callback: Callable[[SimEvent], None]) -> Callable[[], None]:
        """Receive every event; returns a function that unsubscribes."""
        return self._core.bus.subscribe(callback)

    @property
    def listener_errors(self) -> int:
        return self._core.bus.listener_errors

    # --- controls --------------------------------------------------------------------------

    def set_basis_bps(self, symbol: str, bps: float, *, jump: bool = True) -> None:
        """Set the perp's basis target (the OU mean) in bps over the index; with ``jump`` the
        basis moves there at once (the book is re-quoted now), otherwise it drifts there."""
        core = self._core
        spec = core.perp_spec(symbol)
        self._market.process.set_basis(symbol, bps, jump=jump)
        self._control(lambda: self._market.requote((spec.kind, symbol)))

    def set_funding_rate(self, symbol: str, rate: Decimal | None) -> None:
        """Pin the funding rate (not clamped); None hands it back to the process."""
        self._core.perp_spec(symbol)
        self._market.process.pin_funding(symbol, rate)

    def move_index(self, underlying: str, pct: float) -> None:
        """Jump the shared price path of ``underlying`` by ``pct`` percent (spot and perp
        follow; books are re-quoted now, so resting orders may fill)."""
        if underlying not in self._market.process.underlyings():
            raise SimReject(RejectReason.UNKNOWN_SYMBOL, f"underlying {underlying}")
        if pct <= -100:
            raise SimReject(RejectReason.INVALID_PRICE, "an index cannot fall by 100 % or more")
        self._market.process.move_index(underlying, pct)
        self._control(lambda: self._market.requote_underlying(underlying))

    def set_liquidity(self, kind: MarketKind, symbol: str, level_qty: Decimal) -> None:
        """Quantity per synthetic level on one book (0 empties the market maker's side)."""
        self._core.spec(kind, symbol)
        if not level_qty.is_finite() or level_qty < 0:
            raise SimReject(RejectReason.INVALID_QTY, f"level_qty {level_qty}")
        self._market.liquidity[(kind, symbol)] = level_qty
        self._control(lambda: self._market.requote((kind, symbol)))

    def settle_funding_now(self, symbol: str) -> None:
        """Settle funding at once at the current rate and mark (the schedule is unchanged)."""
        self._core.perp_spec(symbol)
        now = self._core.clock.now_ms()
        try:
            self._market.settle_funding(symbol, now)
        finally:
            self._core.commit(now)

    def pause(self, paused: bool = True) -> None:
        """Freeze (or release) the random walk; time, funding and matching go on."""
        self._market.process.paused = paused

    @property
    def paused(self) -> bool:
        return self._market.process.paused

    def _control(self, requote: Callable[[], None]) -> None:
        core = self._core
        now = core.clock.now_ms()
        try:
            self._market.refresh_prices()
            requote()
        finally:
            core.commit(now)
        self._market.emit_marks()
        core.bus.deliver()
