"""FundingPoller: current funding rates of the perps, from the mark-price stream and REST.

The stream keeps the cache fresh; a REST poll every ``interval`` fills gaps (and is the only
source for venues without a stream). Every new rate is published as a FUNDING event and handed
to the PriceManager for mark/index reference prices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
from loguru import logger

from exchanges.base import ExchangeAdapter
from strategy_client.model import FundingRate, InstrumentKey
from strategy_client.wire import (
    FundingEvent,
    FundingRatesReply,
    FundingReply,
    GetFundingRate,
    GetFundingRates,
    TopicKind,
)

from ..publisher import Publisher
from ..refusals import NotAvailable
from .base import Actor

__all__ = ["FundingPoller", "FundingUpdate", "PollFunding"]


class FundingUpdate(msgspec.Struct, frozen=True):
    funding: FundingRate


class PollFunding(msgspec.Struct, frozen=True):
    pass


Msg = GetFundingRate | GetFundingRates | FundingUpdate | PollFunding


class FundingPoller(Actor[Msg]):
    ANSWERS = (GetFundingRate, GetFundingRates)

    def __init__(
        self,
        adapter: ExchangeAdapter,
        publisher: Publisher,
        perps: list[InstrumentKey],
        on_mark: Callable[[FundingRate], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        super().__init__("funding")
        self.adapter = adapter
        self.publisher = publisher
        self.perps = perps
        self.on_mark = on_mark
        self.rates: dict[InstrumentKey, FundingRate] = {}
        self.polls = 0

    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, GetFundingRate):
            return self._rate(msg.key)
        if isinstance(msg, GetFundingRates):  # what the stream and the poll brought; no venue call
            known = self.rates
            return FundingRatesReply(
                rates=tuple(known[k] for k in self.perps if k in known),
                missing=tuple(k for k in self.perps if k not in known),
            )
        if isinstance(msg, FundingUpdate):
            self._update(msg.funding)
            return None
        if isinstance(msg, PollFunding):
            self.spawn(self._poll(), "poll")
            return None
        raise TypeError(f"unexpected message {type(msg).__name__}")

    def _rate(self, key: InstrumentKey) -> FundingReply | asyncio.Future[FundingReply]:
        """The known rate of ``key``, else one fetched from the venue now."""
        known = self.rates.get(key)
        if known is not None:
            return FundingReply(funding=known)
        if key not in self.perps:
            raise NotAvailable(f"{key} is not a perpetual of this runner")

        async def fetch() -> FundingReply:
            rate = await self.adapter.fetch_funding_rate(key)
            await self.tell(FundingUpdate(rate))
            return FundingReply(funding=rate)

        return self._future(fetch(), f"fetch:{key}")

    def _update(self, rate: FundingRate) -> None:
        old = self.rates.get(rate.key)
        self.rates[rate.key] = rate
        if old is not None and old.ts_ms > rate.ts_ms:
            self.rates[rate.key] = old
            return
        self.publisher.publish(TopicKind.FUNDING, FundingEvent(funding=rate), rate.key)
        if self.on_mark is not None:
            self.spawn(self.on_mark(rate), "mark")

    async def _poll(self) -> None:
        self.polls += 1
        for key in self.perps:
            try:
                rate = await self.adapter.fetch_funding_rate(key)
            except Exception as exc:  # noqa: BLE001 - logged, next poll retries
                logger.warning("funding poll {} failed: {}", key, exc)
                continue
            await self.tell(FundingUpdate(rate))
