"""Account state: spot wallets (free/locked per asset) and futures accounts (wallet, one-way
positions, leverage, open-order exposure, income). Pure bookkeeping, no market knowledge; the
position and exposure arithmetic is the shared ledger core's (``strategy_client.model.ledger``)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from decimal import Decimal

from strategy_client.model.ledger import Exposure, NetPosition

from .errors import RejectReason, SimReject
from .views import IncomeRecord, IncomeType

__all__ = ["SpotWallet", "Position", "Exposure", "FuturesAccount", "Account"]

ZERO = Decimal(0)

Position = NetPosition
"""The engine's position is the shared ledger core's (``strategy_client.model.ledger``)."""


class SpotWallet:
    """Free and locked balances. User wallets are checked; the market maker's may go negative."""

    __slots__ = ("free", "locked", "checked")

    def __init__(self, balances: dict[str, Decimal], *, checked: bool = True) -> None:
        self.free: dict[str, Decimal] = {a: Decimal(v) for a, v in balances.items()}
        self.locked: dict[str, Decimal] = {}
        self.checked = checked

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        return self.free.get(asset, ZERO), self.locked.get(asset, ZERO)

    def assets(self) -> list[str]:
        return sorted(set(self.free) | set(self.locked))

    def total(self, asset: str) -> Decimal:
        return self.free.get(asset, ZERO) + self.locked.get(asset, ZERO)

    def require(self, asset: str, amount: Decimal) -> None:
        if self.checked and self.free.get(asset, ZERO) < amount:
            raise SimReject(
                RejectReason.INSUFFICIENT_BALANCE,
                f"{asset}: need {amount}, free {self.free.get(asset, ZERO)}",
            )

    def lock(self, asset: str, amount: Decimal) -> None:
        self.require(asset, amount)
        self.free[asset] = self.free.get(asset, ZERO) - amount
        self.locked[asset] = self.locked.get(asset, ZERO) + amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount

    def add(self, asset: str, amount: Decimal) -> None:
        """Credit (or, negative, debit) the free balance without a check."""
        self.free[asset] = self.free.get(asset, ZERO) + amount


class FuturesAccount:
    """Cross-margin futures account in one-way mode."""

    __slots__ = (
        "wallet",
        "positions",
        "leverage",
        "exposure",
        "income",
        "_income_times",
        "record_income",
        "max_income",
    )

    def __init__(
        self, balances: dict[str, Decimal], *, record_income: bool = True, max_income: int = 1_000_000
    ) -> None:
        self.wallet: dict[str, Decimal] = {a: Decimal(v) for a, v in balances.items()}
        self.positions: dict[str, Position] = {}
        self.leverage: dict[str, int] = {}
        self.exposure: dict[str, Exposure] = {}
        self.income: list[IncomeRecord] = []
        self._income_times: list[int] = []
        self.record_income = record_income
        self.max_income = max(1, max_income)

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position()
        return pos

    def size(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.size if pos is not None else ZERO

    def exposure_of(self, symbol: str) -> Exposure:
        exp = self.exposure.get(symbol)
        if exp is None:
            exp = self.exposure[symbol] = Exposure()
        return exp

    def credit(self, asset: str, amount: Decimal) -> None:
        self.wallet[asset] = self.wallet.get(asset, ZERO) + amount

    def add_income(self, record: IncomeRecord) -> None:
        if not self.record_income:
            return
        self.income.append(record)
        self._income_times.append(record.time_ms)
        excess = len(self.income) - self.max_income
        if excess > self.max_income // 10:  # trim in chunks: amortised O(1)
            del self.income[:excess]
            del self._income_times[:excess]

    def query_income(
        self,
        symbol: str | None,
        income_type: IncomeType | None,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
    ) -> list[IncomeRecord]:
        """Ascending by time. With ``start_ms`` the first ``limit`` matches from it, without
        it the latest ``limit`` matches (up to ``end_ms``)."""
        if limit <= 0:
            return []
        lo = 0 if start_ms is None else bisect_left(self._income_times, start_ms)
        hi = len(self._income_times) if end_ms is None else bisect_right(self._income_times, end_ms)
        rng = range(lo, hi) if start_ms is not None else range(hi - 1, lo - 1, -1)
        out: list[IncomeRecord] = []
        for i in rng:
            rec = self.income[i]
            if symbol is not None and rec.symbol != symbol:
                continue
            if income_type is not None and rec.income_type is not income_type:
                continue
            out.append(rec)
            if len(out) >= limit:
                break
        if start_ms is None:
            out.reverse()
        return out


class Account:
    """One API key's spot wallet and futures account."""

    __slots__ = ("account_id", "spot", "futures", "is_market_maker")

    def __init__(
        self, account_id: str, spot: SpotWallet, futures: FuturesAccount, *, is_market_maker: bool
    ) -> None:
        self.account_id = account_id
        self.spot = spot
        self.futures = futures
        self.is_market_maker = is_market_maker
