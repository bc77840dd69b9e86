"""Binance Spot + USD-M Futures REST client: signing, clock, retry policy and the endpoints.

Signed calls follow reference §2: the caller's params in order, then ``recvWindow`` and
``timestamp`` (from the server clock), URL-encoded once; ``signature`` = HMAC of
``query + body`` appended last. GET/DELETE send everything in the query, POST/PUT in a form
body. The API key travels in ``X-MBX-APIKEY``; the secret never leaves :func:`sign_rest`.

Retry policy and clock upkeep: :class:`~exchanges.transport.http.RequestLoop` (``-1021``/``-5028``
re-measure the clock and resend once; ``retry=True`` calls retried for retryable classes; order
placement and cancel never retried here; 429/418 block the host until ``Retry-After``, see
``http.py``). The adapter also refreshes the clock periodically so an order never waits for a
time round trip.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Literal, TypeVar, Unpack

import httpx
import msgspec
from loguru import logger as log

from exchanges.credentials import Credentials
from exchanges.errors import (
    AuthError,
    InvalidRequest,
    ListenKeyExpired,
    MalformedPayload,
)
from exchanges.transport.clock import ServerClock
from exchanges.transport.http import RequestLoop, RetryOptions
from exchanges.transport.ratelimit import SharedBudget, Window, account_key, binance_windows

from .errors import Product
from .http import BinanceHost, HostUsage
from .rest_schemas import (
    CODE_MSG_DECODER,
    DEPTH_DECODER,
    FUNDING_INFO_DECODER,
    FUNDING_RATE_HIST_DECODER,
    FUTURES_ACCOUNT_DECODER,
    FUTURES_EXCHANGE_INFO_DECODER,
    FUTURES_ORDER_DECODER,
    FUTURES_ORDERS_DECODER,
    INCOME_DECODER,
    LEVERAGE_DECODER,
    LISTEN_KEY_DECODER,
    POSITION_RISK_V2_DECODER,
    POSITION_RISK_V3_DECODER,
    PREMIUM_INDEX_DECODER,
    PREMIUM_INDEX_LIST_DECODER,
    SERVER_TIME_DECODER,
    SPOT_ACCOUNT_DECODER,
    SPOT_EXCHANGE_INFO_DECODER,
    SPOT_ORDER_DECODER,
    SPOT_ORDERS_DECODER,
    CodeMsg,
    Depth,
    FundingInfo,
    FundingRateHist,
    FuturesAccount,
    FuturesExchangeInfo,
    FuturesOrder,
    Income,
    LeverageResponse,
    PositionRiskV2,
    PositionRiskV3,
    PremiumIndex,
    RateLimit,
    SpotAccount,
    SpotExchangeInfo,
    SpotOrder,
)
from .signing import encode_params, sign_rest
from .urls import BinanceUrls

__all__ = ["BinanceRestClient", "Auth", "SPOT_DEPTH_LIMIT_MAX", "FUTURES_DEPTH_LIMITS"]


T = TypeVar("T")
Auth = Literal["none", "key", "signed"]
Params = Mapping[str, object]

SPOT_DEPTH_LIMIT_MAX = 5000
FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_TIME_PATH: dict[Product, str] = {"spot": "/api/v3/time", "futures": "/fapi/v1/time"}


def _decode(decoder: msgspec.json.Decoder[T], raw: bytes, what: str) -> T:
    try:
        return decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedPayload(f"{what}: {exc}; body {raw[:200]!r}", venue="binance") from exc


def _query_params(symbol: str, order_id: int | str | None, client_id: str | None) -> dict[str, object]:
    if order_id is not None:
        return {"symbol": symbol, "orderId": order_id}
    if client_id:
        return {"symbol": symbol, "origClientOrderId": client_id}
    raise InvalidRequest("an order query needs order_id or client_id", venue="binance")


def _windows(limits: Sequence[RateLimit]) -> list[Window]:
    return binance_windows((r.rateLimitType, r.interval, r.intervalNum, r.limit) for r in limits)


def _drop_none(params: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in params.items() if v is not None}


class BinanceRestClient:
    """REST for both Binance products; one ``httpx.AsyncClient`` per host.

    ``sleep``, ``monotonic`` and ``jitter`` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        urls: BinanceUrls,
        credentials: Credentials | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: ServerClock | None = None,
        timeout_s: float = 10.0,
        recv_window_ms: int = 5000,
        monotonic: Callable[[], float] = time.monotonic,
        **retry: Unpack[RetryOptions],
    ) -> None:
        self.clock = clock or ServerClock()
        self.urls = urls
        self._credentials = credentials
        self.recv_window_ms = recv_window_ms
        self._loop = RequestLoop("binance", self.clock, **retry)
        hosts: tuple[tuple[Product, str], ...] = (("spot", urls.spot_rest), ("futures", urls.futures_rest))
        self._hosts: dict[Product, BinanceHost] = {
            product: BinanceHost(
                product,
                base,
                transport=transport,
                timeout_s=timeout_s,
                monotonic=monotonic,
                server_ms=self.clock.now_ms,
                account=account_key(credentials),
            )
            for product, base in hosts
        }

    # ------------------------------------------------------------------ lifecycle and state

    async def start(self) -> None:
        """Measure the clock offset (spot host)."""
        await self.sync_clock("spot")

    async def close(self) -> None:
        for host in self._hosts.values():
            await host.aclose()

    async def __aenter__(self) -> BinanceRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    def usage(self, product: Product) -> HostUsage:
        """Used weight, order counts and any Retry-After block of ``product``'s host."""
        return self._hosts[product].usage()

    def budget(self, product: Product) -> SharedBudget | None:
        """The shared rate-limit budget of ``product``'s host (None: none installed); the
        WS-API of the product counts in it too."""
        return self._hosts[product].budget

    def used_weight(self, product: Product) -> int | None:
        return self._hosts[product].usage().used_weight_1m

    def order_counts(self, product: Product) -> dict[str, int]:
        return self._hosts[product].usage().order_counts

    def backoff_s(self, attempt: int) -> float:
        return self._loop.backoff_s(attempt)

    # ------------------------------------------------------------------ clock

    async def server_time(self, product: Product = "spot") -> int:
        raw = await self._call(product, "GET", _TIME_PATH[product], retry=True)
        return _decode(SERVER_TIME_DECODER, raw, "serverTime").serverTime

    def _measure(self, product: Product) -> Callable[[], Awaitable[int]]:
        async def server_ms() -> int:
            await self._hosts[product].reserve("GET", _TIME_PATH[product], "")
            raw = await self._hosts[product].send("GET", _TIME_PATH[product])
            return _decode(SERVER_TIME_DECODER, raw, "serverTime").serverTime

        return server_ms

    async def sync_clock(self, product: Product = "spot") -> int:
        """Measure ``offset = serverTime − (t_send + t_recv) / 2``; returns the offset in ms."""
        return await self._loop.sync_clock(self._measure(product))

    # ------------------------------------------------------------------ request core

    def _api_key(self) -> str:
        if self._credentials is None:
            raise AuthError("this Binance call needs API credentials", venue="binance")
        return self._credentials.api_key

    def signed_payload(self, method: str, params: Params, *, recv_window_ms: int | None = None) -> tuple[str, str]:
        """(query, body) for a signed call, signature included; the timestamp is taken now."""
        if self._credentials is None:
            raise AuthError("signed Binance call without credentials", venue="binance")
        full = dict(params)
        full["recvWindow"] = recv_window_ms or self.recv_window_ms
        full["timestamp"] = self.clock.now_ms()
        encoded = encode_params(full)
        signature = sign_rest(self._credentials.api_secret, encoded)
        signed = f"{encoded}&signature={signature}"
        return ("", signed) if method in ("POST", "PUT") else (signed, "")

    async def _send_once(
        self,
        product: Product,
        method: str,
        path: str,
        params: Params,
        auth: Auth,
        recv_window_ms: int | None,
    ) -> bytes:
        host = self._hosts[product]
        await host.reserve(method, path, encode_params(params))
        if auth == "signed":
            query, body = self.signed_payload(method, params, recv_window_ms=recv_window_ms)
        else:
            encoded = encode_params(params)
            query, body = ("", encoded) if method in ("POST", "PUT") else (encoded, "")
        api_key = self._api_key() if auth != "none" else None
        return await host.send(method, path, query=query, body=body, api_key=api_key)

    async def _call(
        self,
        product: Product,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        auth: Auth = "none",
        retry: bool,
        recv_window_ms: int | None = None,
    ) -> bytes:
        """Send one logical call under the retry policy described in the module docstring."""
        clean = _drop_none(params or {})
        return await self._loop.call(
            lambda: self._send_once(product, method, path, clean, auth, recv_window_ms),
            what=f"{product} {path}",
            signed=auth == "signed",
            retry=retry,
            server_ms=self._measure(product),
        )

    # ------------------------------------------------------------------ market data

    async def spot_exchange_info(self, symbols: Sequence[str] | None = None) -> SpotExchangeInfo:
        params: dict[str, object] = {}
        if symbols:
            params["symbols"] = msgspec.json.encode(list(symbols)).decode()
        raw = await self._call("spot", "GET", "/api/v3/exchangeInfo", params, retry=True)
        info = _decode(SPOT_EXCHANGE_INFO_DECODER, raw, "spot exchangeInfo")
        self._hosts["spot"].use_windows(_windows(info.rateLimits))
        return info

    async def futures_exchange_info(self) -> FuturesExchangeInfo:
        raw = await self._call("futures", "GET", "/fapi/v1/exchangeInfo", retry=True)
        info = _decode(FUTURES_EXCHANGE_INFO_DECODER, raw, "futures exchangeInfo")
        self._hosts["futures"].use_windows(_windows(info.rateLimits))
        return info

    async def depth(self, product: Product, symbol: str, limit: int = 100) -> Depth:
        """Order book snapshot; futures ``limit`` must be one of ``FUTURES_DEPTH_LIMITS``."""
        path = "/api/v3/depth" if product == "spot" else "/fapi/v1/depth"
        raw = await self._call(product, "GET", path, {"symbol": symbol, "limit": limit}, retry=True)
        return _decode(DEPTH_DECODER, raw, f"{product} depth {symbol}")

    async def premium_index(self, symbol: str) -> PremiumIndex:
        raw = await self._call("futures", "GET", "/fapi/v1/premiumIndex", {"symbol": symbol}, retry=True)
        return _decode(PREMIUM_INDEX_DECODER, raw, f"premiumIndex {symbol}")

    async def premium_index_all(self) -> list[PremiumIndex]:
        raw = await self._call("futures", "GET", "/fapi/v1/premiumIndex", retry=True)
        return _decode(PREMIUM_INDEX_LIST_DECODER, raw, "premiumIndex")

    async def funding_rate_history(
        self,
        symbol: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[FundingRateHist]:
        params = {"symbol": symbol, "startTime": start_ms, "endTime": end_ms, "limit": limit}
        raw = await self._call("futures", "GET", "/fapi/v1/fundingRate", params, retry=True)
        return _decode(FUNDING_RATE_HIST_DECODER, raw, "fundingRate")

    async def funding_info(self) -> list[FundingInfo]:
        raw = await self._call("futures", "GET", "/fapi/v1/fundingInfo", retry=True)
        return _decode(FUNDING_INFO_DECODER, raw, "fundingInfo")

    # ------------------------------------------------------------------ spot orders

    async def spot_place_order(self, params: Params) -> SpotOrder:
        """``POST /api/v3/order``; never retried (unknown outcome → reconcile by client id)."""
        raw = await self._call("spot", "POST", "/api/v3/order", params, auth="signed", retry=False)
        return _decode(SPOT_ORDER_DECODER, raw, "spot order")

    async def spot_cancel_order(
        self, symbol: str, *, order_id: int | str | None = None, client_id: str | None = None
    ) -> SpotOrder:
        params = _query_params(symbol, order_id, client_id)
        raw = await self._call("spot", "DELETE", "/api/v3/order", params, auth="signed", retry=False)
        return _decode(SPOT_ORDER_DECODER, raw, "spot cancel")

    async def spot_get_order(
        self, symbol: str, *, order_id: int | str | None = None, client_id: str | None = None
    ) -> SpotOrder:
        params = _query_params(symbol, order_id, client_id)
        raw = await self._call("spot", "GET", "/api/v3/order", params, auth="signed", retry=True)
        return _decode(SPOT_ORDER_DECODER, raw, "spot order")

    async def spot_open_orders(self, symbol: str | None = None) -> list[SpotOrder]:
        raw = await self._call("spot", "GET", "/api/v3/openOrders", {"symbol": symbol}, auth="signed", retry=True)
        return _decode(SPOT_ORDERS_DECODER, raw, "spot openOrders")

    async def spot_account(self, *, omit_zero_balances: bool = True) -> SpotAccount:
        params = {"omitZeroBalances": omit_zero_balances}
        raw = await self._call("spot", "GET", "/api/v3/account", params, auth="signed", retry=True)
        return _decode(SPOT_ACCOUNT_DECODER, raw, "spot account")

    # ------------------------------------------------------------------ futures orders

    async def futures_place_order(self, params: Params) -> FuturesOrder:
        """``POST /fapi/v1/order``; never retried (unknown outcome → reconcile by client id)."""
        raw = await self._call("futures", "POST", "/fapi/v1/order", params, auth="signed", retry=False)
        return _decode(FUTURES_ORDER_DECODER, raw, "futures order")

    async def futures_cancel_order(
        self, symbol: str, *, order_id: int | str | None = None, client_id: str | None = None
    ) -> FuturesOrder:
        params = _query_params(symbol, order_id, client_id)
        raw = await self._call("futures", "DELETE", "/fapi/v1/order", params, auth="signed", retry=False)
        return _decode(FUTURES_ORDER_DECODER, raw, "futures cancel")

    async def futures_get_order(
        self, symbol: str, *, order_id: int | str | None = None, client_id: str | None = None
    ) -> FuturesOrder:
        params = _query_params(symbol, order_id, client_id)
        raw = await self._call("futures", "GET", "/fapi/v1/order", params, auth="signed", retry=True)
        return _decode(FUTURES_ORDER_DECODER, raw, "futures order")

    async def futures_open_orders(self, symbol: str | None = None) -> list[FuturesOrder]:
        raw = await self._call("futures", "GET", "/fapi/v1/openOrders", {"symbol": symbol}, auth="signed", retry=True)
        return _decode(FUTURES_ORDERS_DECODER, raw, "futures openOrders")

    async def futures_cancel_all(self, symbol: str) -> CodeMsg:
        raw = await self._call(
            "futures", "DELETE", "/fapi/v1/allOpenOrders", {"symbol": symbol}, auth="signed", retry=False
        )
        return _decode(CODE_MSG_DECODER, raw, "futures allOpenOrders")

    # ------------------------------------------------------------------ futures account

    async def futures_account(self) -> FuturesAccount:
        raw = await self._call("futures", "GET", "/fapi/v3/account", auth="signed", retry=True)
        return _decode(FUTURES_ACCOUNT_DECODER, raw, "futures account")

    async def position_risk_v2(self, symbol: str | None = None) -> list[PositionRiskV2]:
        raw = await self._call("futures", "GET", "/fapi/v2/positionRisk", {"symbol": symbol}, auth="signed", retry=True)
        return _decode(POSITION_RISK_V2_DECODER, raw, "positionRisk v2")

    async def position_risk_v3(self, symbol: str | None = None) -> list[PositionRiskV3]:
        raw = await self._call("futures", "GET", "/fapi/v3/positionRisk", {"symbol": symbol}, auth="signed", retry=True)
        return _decode(POSITION_RISK_V3_DECODER, raw, "positionRisk v3")

    async def change_leverage(self, symbol: str, leverage: int) -> LeverageResponse:
        """``POST /fapi/v1/leverage``: setting a value is idempotent, so this one is retried."""
        params = {"symbol": symbol, "leverage": leverage}
        raw = await self._call("futures", "POST", "/fapi/v1/leverage", params, auth="signed", retry=True)
        return _decode(LEVERAGE_DECODER, raw, "leverage")

    async def income(
        self,
        symbol: str | None = None,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> list[Income]:
        params = {
            "symbol": symbol,
            "incomeType": income_type,
            "startTime": start_ms,
            "endTime": end_ms,
            "page": page,
            "limit": limit,
        }
        raw = await self._call("futures", "GET", "/fapi/v1/income", params, auth="signed", retry=True)
        return _decode(INCOME_DECODER, raw, "income")

    # ------------------------------------------------------------------ futures user stream key

    async def create_listen_key(self) -> str:
        """``POST /fapi/v1/listenKey``: a new key, or the active one extended (idempotent)."""
        raw = await self._call("futures", "POST", "/fapi/v1/listenKey", auth="key", retry=True)
        return _decode(LISTEN_KEY_DECODER, raw, "listenKey").listenKey

    async def keepalive_listen_key(self, key: str) -> None:
        """``PUT /fapi/v1/listenKey``; raises :class:`ListenKeyExpired` if ``key`` is gone."""
        raw = await self._call("futures", "PUT", "/fapi/v1/listenKey", auth="key", retry=True)
        if raw.strip() in (b"", b"{}"):
            return
        current = _decode(LISTEN_KEY_DECODER, raw, "listenKey").listenKey
        if current != key:
            raise ListenKeyExpired("keepalive extended a different listenKey: the old one has expired", venue="binance")

    async def delete_listen_key(self, key: str) -> None:
        """``DELETE /fapi/v1/listenKey``; a key that is already gone counts as deleted."""
        try:
            await self._call("futures", "DELETE", "/fapi/v1/listenKey", auth="key", retry=True)
        except ListenKeyExpired:
            log.debug("listenKey {}… already gone", key[:6])
