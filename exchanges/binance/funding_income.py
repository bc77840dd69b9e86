"""Binance USD-M funding payments from the income history.

A funding settlement pushes ``ACCOUNT_UPDATE`` with ``m:"FUNDING_FEE"``; in cross margin it
carries only the margin asset's balance change (``B``) — no symbol — so the payment cannot be
attributed from the stream (``ws_parse.parse_account_update`` builds one only when a symbol is
named). The venue's own record is the income history: ``GET /fapi/v1/income?incomeType=FUNDING_FEE``
(``[{symbol, incomeType, income, asset, time, tranId}]``, ``income`` negative = paid; see
/work/shared/docs/exchanges/binance.md). :func:`with_funding_income` wraps the user-event stream:
on a FUNDING_FEE update that names no payment it asks the income history for the payments since
the last one seen and attaches them (``AccountUpdate.funding``), one per symbol and settlement,
each ``tranId`` once. A failed query leaves the update as it came and is retried at the next
FUNDING_FEE update (the cursor only moves on success), so a payment is late, never lost while
the runner runs. Payments settled while the runner was not running are not fetched here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Protocol

import msgspec
from loguru import logger

from exchanges.base import AccountUpdate, UserEvent
from exchanges.errors import ExchangeError
from strategy_client.model import Exchange, FundingPayment, InstrumentKey, MarketKind

from .rest_schemas import Income

__all__ = ["FundingIncome", "with_funding_income", "OVERLAP_MS"]

#: The income query starts this long before the newest payment seen (late-visible records).
OVERLAP_MS = 60_000
_SEEN_MAX = 4096


class IncomeApi(Protocol):
    def income(
        self,
        symbol: str | None = None,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> Awaitable[list[Income]]: ...


class FundingIncome:
    """The FUNDING_FEE income records not yet reported, as :class:`FundingPayment` values."""

    def __init__(
        self, rest: IncomeApi, *, since_ms: int | None = None, now_ms: Callable[[], int] | None = None
    ) -> None:
        """``now_ms``: the venue's clock (the adapter's server clock; default the local one) — the
        history is read from ``OVERLAP_MS`` before it at start, on the venue's time (a replaying
        venue's clock is the recording's, far from ours)."""
        self.rest = rest
        clock = now_ms or (lambda: int(time.time() * 1000))
        self.since_ms = since_ms if since_ms is not None else clock() - OVERLAP_MS
        self._seen: deque[int] = deque(maxlen=_SEEN_MAX)
        self._seen_set: set[int] = set()
        self.queries = 0
        self.failures = 0

    async def fetch(self) -> tuple[FundingPayment, ...]:
        self.queries += 1
        records = await self.rest.income(income_type="FUNDING_FEE", start_ms=self.since_ms, limit=1000)
        out: list[FundingPayment] = []
        newest = self.since_ms
        for r in sorted(records, key=lambda r: (r.time, r.tranId)):
            if r.incomeType != "FUNDING_FEE" or not r.symbol or r.income == Decimal(0):
                continue
            newest = max(newest, r.time)
            if r.tranId in self._seen_set:
                continue
            self._remember(r.tranId)
            key = InstrumentKey(Exchange.BINANCE, r.symbol, MarketKind.PERP)
            out.append(FundingPayment(key=key, amount=r.income, asset=r.asset, ts_ms=r.time))
        self.since_ms = max(self.since_ms, newest - OVERLAP_MS)
        return tuple(out)

    def _remember(self, tran_id: int) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(tran_id)
        self._seen_set.add(tran_id)


async def with_funding_income(events: AsyncIterator[UserEvent], income: FundingIncome) -> AsyncIterator[UserEvent]:
    """``events`` with funding payments attached to FUNDING_FEE updates that name none."""
    async for ev in events:
        if (
            isinstance(ev, AccountUpdate)
            and ev.kind is MarketKind.PERP
            and ev.reason == "funding_fee"
            and not ev.funding
        ):
            try:
                payments = await income.fetch()
            except ExchangeError as exc:
                income.failures += 1
                logger.warning("binance funding payments: income history not read ({}); asking at the next one", exc)
            else:
                if payments:
                    yield msgspec.structs.replace(ev, funding=payments)
                    continue
        yield ev
