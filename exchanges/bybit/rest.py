"""Bybit v5 REST client: signing, clock, retry policy and the endpoints the adapter uses.

Signed calls follow reference §2: GET sends the params as a query string in the caller's
order, POST as a compact JSON body; ``X-BAPI-SIGN`` = HMAC of
``timestamp + apiKey + recvWindow + (query | body)`` exactly as sent, with the timestamp from
the server clock. The secret never leaves :func:`exchanges.bybit.signing.sign_rest`.

Retry policy (one place for every venue, :class:`~exchanges.transport.http.RequestLoop`):

* 10002 (timestamp outside recvWindow: the request was refused before processing):
  re-measure the clock and resend once — for every signed call, orders included;
* otherwise only calls marked ``retry=True`` (reads and idempotent writes) are retried, with
  exponential backoff and jitter, and only for retryable failures (not sent, unknown outcome
  of a read, service unavailable). Placement and cancel are never retried here: after an
  unknown outcome the adapter reconciles by ``orderLinkId``;
* rate limits are not retried here (``http.py`` waits for a reset it knows about).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TypeVar, Unpack

import httpx
import msgspec

from exchanges.credentials import Credentials
from exchanges.errors import (
    AuthError,
    ExchangeError,
    MalformedPayload,
)
from exchanges.transport.clock import ServerClock
from exchanges.transport.http import RequestLoop, RetryOptions
from exchanges.transport.ratelimit import account_key

from .errors import LEVERAGE_NOT_MODIFIED, VENUE
from .http import BybitHttp
from .limits import limit_key
from .rest_schemas import (
    FundingHistory,
    LinearInstrument,
    LinearInstruments,
    OrderAck,
    Orderbook,
    OrderItem,
    OrderList,
    PositionItem,
    PositionList,
    SpotInstrument,
    SpotInstruments,
    Tickers,
    TimeResult,
    WalletAccount,
    WalletBalance,
    decoder,
)
from .signing import encode_query, sign_rest

__all__ = ["BybitRestClient", "Category", "MAX_PAGES"]

T = TypeVar("T")
Category = str  # "spot" | "linear"
Params = Mapping[str, object]
MAX_PAGES = 50
_TIME_PATH = "/v5/market/time"


def _decode(result: type[T], raw: bytes, what: str) -> tuple[T, int]:
    """(result, envelope time)."""
    try:
        env = decoder(result).decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedPayload(f"{what}: {exc}; body {raw[:200]!r}", venue=VENUE) from exc
    return env.result, env.time


def _drop_none(params: Params) -> dict[str, object]:
    return {k: v for k, v in params.items() if v is not None}


class BybitRestClient:
    """The REST side of one Bybit environment (live, testnet, demo or the offline venue).

    ``sleep``, ``monotonic`` and ``jitter`` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: ServerClock | None = None,
        timeout_s: float = 10.0,
        recv_window_ms: int = 5000,
        ip_ban_s: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
        **retry: Unpack[RetryOptions],
    ) -> None:
        self.clock = clock or ServerClock()
        self._credentials = credentials
        self.recv_window_ms = recv_window_ms
        self._loop = RequestLoop(VENUE, self.clock, **retry)
        self.http = BybitHttp(
            base_url,
            transport=transport,
            timeout_s=timeout_s,
            ip_ban_s=ip_ban_s,
            server_ms=self.clock.now_ms,
            monotonic=monotonic,
            sleep=retry.get("sleep", asyncio.sleep),
            account=account_key(credentials),
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

    async def _server_ms(self) -> int:
        """One unretried time request (the loop measures around it)."""
        raw = await self.http.send("GET", _TIME_PATH)
        result, env_time = _decode(TimeResult, raw, "server time")
        return env_time or int(result.timeSecond) * 1000

    async def sync_clock(self) -> int:
        """Measure ``offset = serverTime − (t_send + t_recv) / 2``; returns the offset in ms."""
        return await self._loop.sync_clock(self._server_ms)

    async def server_time_ms(self) -> int:
        raw = await self._call("GET", _TIME_PATH, retry=True)
        result, env_time = _decode(TimeResult, raw, "server time")
        return env_time or int(result.timeSecond) * 1000

    # ------------------------------------------------------------------ request core

    def signed_headers(self, payload: str) -> dict[str, str]:
        if self._credentials is None:
            raise AuthError("this Bybit call needs API credentials", venue=VENUE)
        ts = str(self.clock.now_ms())
        window = str(self.recv_window_ms)
        key = self._credentials.api_key
        return {
            "X-BAPI-API-KEY": key,
            "X-BAPI-TIMESTAMP": ts,
            "X-BAPI-RECV-WINDOW": window,
            "X-BAPI-SIGN": sign_rest(self._credentials.api_secret, ts, key, window, payload),
            "X-BAPI-SIGN-TYPE": "2",
        }

    async def _send_once(self, method: str, path: str, params: dict[str, object], signed: bool) -> bytes:
        await self.http.reserve(path, params, signed=signed)  # before signing: a wait never stales it
        if method == "GET":
            query, body = encode_query(params), ""
        else:
            query, body = "", msgspec.json.encode(params).decode()
        headers = self.signed_headers(query if method == "GET" else body) if signed else {}
        key = limit_key(path, params) if signed else ""
        return await self.http.send(method, path, query=query, body=body, headers=headers, key=key)

    async def _call(
        self, method: str, path: str, params: Params | None = None, *, signed: bool = False, retry: bool
    ) -> bytes:
        """Send one logical call under the retry policy described in the module docstring."""
        clean = _drop_none(params or {})
        return await self._loop.call(
            lambda: self._send_once(method, path, clean, signed),
            what=path,
            signed=signed,
            retry=retry,
            server_ms=self._server_ms,
        )

    # ------------------------------------------------------------------ market data

    async def spot_instruments(self) -> list[SpotInstrument]:
        raw = await self._call("GET", "/v5/market/instruments-info", {"category": "spot"}, retry=True)
        return _decode(SpotInstruments, raw, "spot instruments-info")[0].list

    async def linear_instruments(self) -> list[LinearInstrument]:
        out: list[LinearInstrument] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = {"category": "linear", "limit": 1000, "cursor": cursor}
            raw = await self._call("GET", "/v5/market/instruments-info", params, retry=True)
            page, _ = _decode(LinearInstruments, raw, "linear instruments-info")
            out += page.list
            cursor = page.nextPageCursor or None
            if cursor is None:
                break
        return out

    async def orderbook(self, category: Category, symbol: str, limit: int) -> tuple[Orderbook, int]:
        params = {"category": category, "symbol": symbol, "limit": limit}
        raw = await self._call("GET", "/v5/market/orderbook", params, retry=True)
        return _decode(Orderbook, raw, f"{category} orderbook {symbol}")

    async def linear_tickers(self, symbol: str | None = None) -> tuple[Tickers, int]:
        raw = await self._call("GET", "/v5/market/tickers", {"category": "linear", "symbol": symbol}, retry=True)
        return _decode(Tickers, raw, "linear tickers")

    async def funding_history(
        self, symbol: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> FundingHistory:
        params = {"category": "linear", "symbol": symbol, "startTime": start_ms, "endTime": end_ms, "limit": limit}
        raw = await self._call("GET", "/v5/market/funding/history", params, retry=True)
        return _decode(FundingHistory, raw, f"funding history {symbol}")[0]

    # ------------------------------------------------------------------ orders

    async def create_order(self, params: Params) -> OrderAck:
        """``POST /v5/order/create``; never retried (unknown outcome → reconcile by orderLinkId)."""
        raw = await self._call("POST", "/v5/order/create", params, signed=True, retry=False)
        return _decode(OrderAck, raw, "order/create")[0]

    async def cancel_order(
        self, category: Category, symbol: str, *, order_id: str | None = None, link_id: str | None = None
    ) -> OrderAck:
        params = {"category": category, "symbol": symbol, "orderId": order_id or None}
        if not order_id:
            params["orderLinkId"] = link_id
        raw = await self._call("POST", "/v5/order/cancel", params, signed=True, retry=False)
        return _decode(OrderAck, raw, "order/cancel")[0]

    async def query_order(
        self,
        path: str,
        category: Category,
        symbol: str,
        *,
        order_id: str | None = None,
        link_id: str | None = None,
    ) -> list[OrderItem]:
        """One order by id from ``/v5/order/realtime`` or ``/v5/order/history``."""
        params: dict[str, object] = {"category": category, "symbol": symbol}
        if order_id:
            params["orderId"] = order_id
        else:
            params["orderLinkId"] = link_id
        raw = await self._call("GET", path, params, signed=True, retry=True)
        return _decode(OrderList, raw, path)[0].list

    async def open_orders(self, category: Category, **filters: str | None) -> list[OrderItem]:
        """Every open order of ``category`` (``symbol``/``settleCoin``/``baseCoin`` filters), all pages."""
        out: list[OrderItem] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, object] = {"category": category, **filters, "openOnly": 0, "limit": 50}
            params["cursor"] = cursor
            raw = await self._call("GET", "/v5/order/realtime", params, signed=True, retry=True)
            page, _ = _decode(OrderList, raw, "order/realtime")
            out += page.list
            cursor = page.nextPageCursor or None
            if cursor is None:
                break
        return out

    # ------------------------------------------------------------------ account

    async def wallet_balance(self) -> tuple[WalletAccount | None, int]:
        raw = await self._call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, signed=True, retry=True)
        result, ts = _decode(WalletBalance, raw, "wallet-balance")
        return (result.list[0] if result.list else None), ts

    async def positions(self, **filters: str | None) -> list[PositionItem]:
        out: list[PositionItem] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, object] = {"category": "linear", **filters, "limit": 200, "cursor": cursor}
            raw = await self._call("GET", "/v5/position/list", params, signed=True, retry=True)
            page, _ = _decode(PositionList, raw, "position/list")
            out += page.list
            cursor = page.nextPageCursor or None
            if cursor is None:
                break
        return out

    async def set_leverage(self, symbol: str, leverage: int) -> bool:
        """``POST /v5/position/set-leverage`` (idempotent, so retried); False when it already was."""
        params = {"category": "linear", "symbol": symbol, "buyLeverage": str(leverage), "sellLeverage": str(leverage)}
        try:
            await self._call("POST", "/v5/position/set-leverage", params, signed=True, retry=True)
        except ExchangeError as exc:
            if exc.venue_code == LEVERAGE_NOT_MODIFIED:
                return False
            raise
        return True
