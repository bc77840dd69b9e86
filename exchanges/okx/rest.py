"""OKX v5 REST client: signing, clock, retry policy and the endpoints the adapter uses.

Retry policy (one place for every venue, :class:`~exchanges.transport.http.RequestLoop`):

* ``50102`` (timestamp expired; nothing was executed): re-measure the clock and resend once —
  for every signed call, orders included.
* Otherwise only calls marked ``retry=True`` (reads and idempotent writes such as
  ``set-leverage``) are retried, with exponential backoff and jitter, and only for retryable
  failures (not sent, unknown outcome of a read, service unavailable). Placing and canceling
  are never retried here: after an unknown outcome the adapter reconciles by ``clOrdId``.
* Rate-limit refusals are not retried: the endpoint is blocked until its window passes
  (``http.py``).

Order operations answer per item: :meth:`place_order` / :meth:`cancel_order` raise the mapped
error of the item's ``sCode`` when it is not ``"0"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeVar, Unpack

import httpx
import msgspec

from exchanges.credentials import Credentials
from exchanges.errors import (
    MalformedPayload,
)
from exchanges.transport.clock import ServerClock
from exchanges.transport.http import RequestLoop, RetryOptions

from .errors import VENUE, map_error
from .http import OkxHttp
from .rest_schemas import (
    AccountBalance,
    AccountConfig,
    BookSnapshot,
    Envelope,
    FundingHistory,
    FundingRateInfo,
    IndexTicker,
    InstrumentInfo,
    LeverageInfo,
    MarkPrice,
    OkxOrder,
    OpItem,
    PositionInfo,
    ServerTime,
    decoder,
)
from .urls import OkxUrls

__all__ = ["OkxRestClient", "BOOK_DEPTH_MAX"]

T = TypeVar("T")
BOOK_DEPTH_MAX = 400
_TIME_PATH = "/api/v5/public/time"


def _decode(item: type[T], raw: bytes, what: str) -> Envelope[T]:
    try:
        return decoder(item).decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedPayload(f"{what}: {exc}; body {raw[:200]!r}", venue=VENUE) from exc


def _one(env: Envelope[T], what: str) -> T:
    if not env.data:
        raise MalformedPayload(f"{what}: empty data", venue=VENUE)
    return env.data[0]


def _check_item(env: Envelope[OpItem], what: str) -> OpItem:
    item = _one(env, what)
    if item.sCode != "0":
        code = int(item.sCode) if item.sCode.isdigit() else None
        raise map_error(200, code, item.sMsg or env.msg)
    return item


class OkxRestClient:
    """The REST endpoints of OKX v5 the adapter needs. ``sleep`` and ``jitter`` are injectable
    so tests never wait for real."""

    def __init__(
        self,
        urls: OkxUrls,
        credentials: Credentials | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: ServerClock | None = None,
        timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        **retry: Unpack[RetryOptions],
    ) -> None:
        self.clock = clock or ServerClock()
        self.urls = urls
        self._credentials = credentials
        self._loop = RequestLoop(VENUE, self.clock, **retry)
        self.http = OkxHttp(
            urls.rest,
            credentials,
            self.clock,
            simulated_trading=urls.simulated_trading,
            transport=transport,
            timeout_s=timeout_s,
            monotonic=monotonic,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.sync_clock()

    async def close(self) -> None:
        await self.http.aclose()

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    def backoff_s(self, attempt: int) -> float:
        return self._loop.backoff_s(attempt)

    # ------------------------------------------------------------------ clock

    async def server_time(self) -> int:
        raw = await self._call("GET", _TIME_PATH, retry=True)
        return int(_one(_decode(ServerTime, raw, "time"), "time").ts)

    async def _server_ms(self) -> int:
        """One unretried time request (the loop measures around it)."""
        raw = await self.http.request("GET", _TIME_PATH)
        return int(_one(_decode(ServerTime, raw, "time"), "time").ts)

    async def sync_clock(self) -> int:
        """Measure ``offset = server − (t_send + t_recv) / 2``; returns the offset in ms."""
        return await self._loop.sync_clock(self._server_ms)

    # ------------------------------------------------------------------ request core

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: object | None = None,
        signed: bool = False,
        retry: bool,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        return await self._loop.call(
            lambda: self.http.request(method, path, params=params, body=body, signed=signed, extra_headers=headers),
            what=path,
            signed=signed,
            retry=retry,
            server_ms=self._server_ms,
        )

    # ------------------------------------------------------------------ public

    async def instruments(self, inst_type: str, inst_id: str | None = None) -> list[InstrumentInfo]:
        params = {"instType": inst_type, "instId": inst_id}
        raw = await self._call("GET", "/api/v5/public/instruments", params=params, retry=True)
        return _decode(InstrumentInfo, raw, f"instruments {inst_type}").data

    async def books(self, inst_id: str, depth: int = 20) -> BookSnapshot:
        raw = await self._call(
            "GET", "/api/v5/market/books", params={"instId": inst_id, "sz": min(depth, BOOK_DEPTH_MAX)}, retry=True
        )
        return _one(_decode(BookSnapshot, raw, f"books {inst_id}"), f"books {inst_id}")

    async def funding_rate(self, inst_id: str) -> FundingRateInfo:
        raw = await self._call("GET", "/api/v5/public/funding-rate", params={"instId": inst_id}, retry=True)
        return _one(_decode(FundingRateInfo, raw, "funding-rate"), f"funding-rate {inst_id}")

    async def funding_history(
        self, inst_id: str, *, before: int | None = None, after: int | None = None, limit: int = 100
    ) -> list[FundingHistory]:
        params = {"instId": inst_id, "before": before, "after": after, "limit": limit}
        raw = await self._call("GET", "/api/v5/public/funding-rate-history", params=params, retry=True)
        return _decode(FundingHistory, raw, "funding-rate-history").data

    async def mark_price(self, inst_id: str) -> MarkPrice:
        params = {"instType": "SWAP", "instId": inst_id}
        raw = await self._call("GET", "/api/v5/public/mark-price", params=params, retry=True)
        return _one(_decode(MarkPrice, raw, "mark-price"), f"mark-price {inst_id}")

    async def index_ticker(self, index_id: str) -> IndexTicker:
        raw = await self._call("GET", "/api/v5/market/index-tickers", params={"instId": index_id}, retry=True)
        return _one(_decode(IndexTicker, raw, "index-tickers"), f"index-tickers {index_id}")

    # ------------------------------------------------------------------ trade

    async def place_order(self, body: Mapping[str, object], *, exp_time_ms: int | None = None) -> OpItem:
        """``POST /api/v5/trade/order``; never retried (unknown outcome → reconcile). ``exp_time_ms``:
        the ``expTime`` header — OKX does not process the request after that time (venue clock)."""
        headers = {"expTime": str(exp_time_ms)} if exp_time_ms is not None else None
        raw = await self._call(
            "POST", "/api/v5/trade/order", body=dict(body), signed=True, retry=False, headers=headers
        )
        return _check_item(_decode(OpItem, raw, "order"), "order")

    async def cancel_order(self, body: Mapping[str, object]) -> OpItem:
        raw = await self._call("POST", "/api/v5/trade/cancel-order", body=dict(body), signed=True, retry=False)
        return _check_item(_decode(OpItem, raw, "cancel-order"), "cancel-order")

    async def get_order(self, inst_id: str, *, ord_id: str | None = None, cl_ord_id: str | None = None) -> OkxOrder:
        params = {"instId": inst_id, "ordId": ord_id or None, "clOrdId": None if ord_id else cl_ord_id}
        raw = await self._call("GET", "/api/v5/trade/order", params=params, signed=True, retry=True)
        return _one(_decode(OkxOrder, raw, "order"), "order")

    async def orders_pending(self, inst_type: str | None = None, inst_id: str | None = None) -> list[OkxOrder]:
        """Every open order, following OKX's pages (100 per page, ``after`` = last ``ordId``)."""
        out: list[OkxOrder] = []
        after: str | None = None
        while True:
            params = {"instType": inst_type, "instId": inst_id, "after": after, "limit": 100}
            raw = await self._call("GET", "/api/v5/trade/orders-pending", params=params, signed=True, retry=True)
            page = _decode(OkxOrder, raw, "orders-pending").data
            out += page
            if len(page) < 100:
                return out
            after = page[-1].ordId

    # ------------------------------------------------------------------ account

    async def balance(self, ccy: str | None = None) -> AccountBalance:
        raw = await self._call("GET", "/api/v5/account/balance", params={"ccy": ccy}, signed=True, retry=True)
        return _one(_decode(AccountBalance, raw, "balance"), "balance")

    async def positions(self, inst_type: str = "SWAP") -> list[PositionInfo]:
        params = {"instType": inst_type}
        raw = await self._call("GET", "/api/v5/account/positions", params=params, signed=True, retry=True)
        return _decode(PositionInfo, raw, "positions").data

    async def set_leverage(self, inst_id: str, lever: int, mgn_mode: str = "cross") -> LeverageInfo:
        """Setting a value is idempotent, so this one is retried."""
        body = {"instId": inst_id, "lever": str(lever), "mgnMode": mgn_mode}
        raw = await self._call("POST", "/api/v5/account/set-leverage", body=body, signed=True, retry=True)
        return _one(_decode(LeverageInfo, raw, "set-leverage"), "set-leverage")

    async def leverage_info(self, inst_id: str, mgn_mode: str = "cross") -> list[LeverageInfo]:
        params = {"instId": inst_id, "mgnMode": mgn_mode}
        raw = await self._call("GET", "/api/v5/account/leverage-info", params=params, signed=True, retry=True)
        return _decode(LeverageInfo, raw, "leverage-info").data

    async def account_config(self) -> AccountConfig:
        raw = await self._call("GET", "/api/v5/account/config", signed=True, retry=True)
        return _one(_decode(AccountConfig, raw, "config"), "config")
