"""The REST request pipeline every endpoint goes through.

Order of checks (as Binance): injected faults → parameter parsing (-1100/-1101) → request
weight and bans (429/418) → API key (-2014/-2015) → signature and timestamp (-1102, -1021,
-1022) → unread parameters (-1104) → order-rate limits (-1015) → the endpoint. Every reply
carries ``X-MBX-USED-WEIGHT-1M`` (and the order counters on order endpoints). An order that
was accepted may then meet an ``unknown_outcome`` fault; finally ``delay_ms`` holds the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import msgspec
from aiohttp import web

from exchanges.sim.engine import SimReject
from exchanges.sim.faults import FaultRule, HttpFault, UnknownOutcomeMode

from .api_errors import BinanceApiError, Product, from_reject
from .core import BinanceCore
from .params import Params, parse_form

__all__ = ["Security", "Endpoint", "Call", "RestHost", "SIGNED_PARAMS", "unknown_error"]

_log = logging.getLogger("exchanges.binance.sim.rest")

Security = Literal["NONE", "USER_STREAM", "SIGNED"]
SIGNED_PARAMS = frozenset({"timestamp", "recvWindow", "signature"})
_JSON = "application/json"


@dataclass(slots=True)
class Call:
    """What an endpoint handler gets: parsed parameters and the caller."""

    params: Params
    ip: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    security: Security
    weight: int | Callable[[Params], int]
    handler: Callable[[Call], object]
    params: frozenset[str] = field(default_factory=frozenset)
    order: bool = False
    funding_limited: bool = False

    def weight_of(self, params: Params) -> int:
        return self.weight if isinstance(self.weight, int) else self.weight(params)


def unknown_error(product: Product) -> BinanceApiError:
    """The 503 reply of an *unknown outcome*: the request may have been executed."""
    if product == "spot":
        return BinanceApiError(
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            503,
        )
    return BinanceApiError(-1000, "Unknown error, please check your request or try again later.", 503)


def failure_error(product: Product, status: int) -> BinanceApiError:
    """A 5xx for a request that was *not* executed."""
    if status == 503:
        msg = (
            "Service Unavailable."
            if product == "futures"
            else "Internal error; unable to process your request. Please try again."
        )
        return BinanceApiError(-1001, msg, 503)
    return BinanceApiError(-1001, "Internal error; unable to process your request. Please try again.", status)


class RestHost:
    """REST pipeline of one host (spot or futures)."""

    def __init__(self, product: Product, core: BinanceCore, stopping: asyncio.Event) -> None:
        self.product = product
        self.core = core
        self.stopping = stopping
        self._enc = msgspec.json.Encoder()
        self.requests = 0
        self.errors = 0
        # the latency probe's arrival stamp for orders (None unless the bench firehose sets it):
        # called with ``query + b"&" + body`` of each order request, read, before it is handled
        self.arrival_probe: Callable[[bytes], None] | None = None

    def handler(self, ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, ep)

        return handle

    def _error_body(self, err: BinanceApiError) -> bytes:
        return self._enc.encode({"code": err.code, "msg": err.msg})

    def _response(self, status: int, body: bytes, headers: dict[str, str]) -> web.Response:
        return web.Response(body=body, status=status, content_type=_JSON, charset="UTF-8", headers=headers)

    def error_response(self, err: BinanceApiError, headers: dict[str, str] | None = None) -> web.Response:
        hdrs = dict(headers or {})
        if err.retry_after_s is not None:
            hdrs["Retry-After"] = str(err.retry_after_s)
        return self._response(err.http_status, self._error_body(err), hdrs)

    def _fault_response(self, rule: FaultRule) -> web.Response:
        if rule.kind is HttpFault.THROTTLE:
            limiter = self.core.limits[self.product]
            now = self.core.now_ms()
            if rule.status == 418:
                err = limiter.ban_error(now + rule.retry_after_s * 1000, now)
            else:
                err = limiter.weight_error(now)
            err.retry_after_s = rule.retry_after_s
            return self.error_response(err)
        if rule.status in (502, 504):
            title = "502 Bad Gateway" if rule.status == 502 else "504 Gateway Time-out"
            return web.Response(
                status=rule.status,
                content_type="text/html",
                text=f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>",
            )
        return self.error_response(failure_error(self.product, rule.status))

    async def serve(self, request: web.Request, ep: Endpoint) -> web.StreamResponse:
        self.requests += 1
        if ep.order and self.arrival_probe is not None:
            body = await request.read() if request.body_exists else b""  # aiohttp keeps it for _process
            self.arrival_probe(request.rel_url.raw_query_string.encode() + b"&" + body)
        faults = self.core.faults
        path = request.path
        for kind in (HttpFault.FAIL, HttpFault.THROTTLE):
            rule = faults.take_http(kind, self.product, path)
            if rule is not None:
                return self._fault_response(rule)
        response, accepted = await self._process(request, ep)
        if accepted:
            rule = faults.take_http(HttpFault.UNKNOWN_OUTCOME, self.product, path)
            if rule is not None:
                usage = {k: v for k, v in response.headers.items() if k.upper().startswith("X-MBX-")}
                return await self._unknown_outcome(request, rule, usage)
        if faults.delay_ms:
            await self._sleep(faults.delay_ms)
        return response

    async def _process(self, request: web.Request, ep: Endpoint) -> tuple[web.Response, bool]:
        """The reply, and whether an order was accepted (subject to unknown-outcome faults)."""
        core = self.core
        ip = request.remote or "unknown"
        limiter = core.limits[self.product]
        account = core.account if ep.order else None
        try:
            raw_query = request.rel_url.raw_query_string
            raw_body = ""
            if request.method != "GET" and request.body_exists:
                try:
                    raw_body = (await request.read()).decode("utf-8")
                except UnicodeDecodeError:
                    raise BinanceApiError(-1100, "Illegal characters found in a parameter.") from None
            params = Params.from_rest(parse_form(raw_query), parse_form(raw_body))
            limiter.charge_weight(ip, ep.weight_of(params))
            if ep.funding_limited:
                limiter.charge_funding_info(ip)
            auth = core.auth[self.product]
            if ep.security != "NONE":
                auth.check_key(request.headers.get("X-MBX-APIKEY"))
            allowed = ep.params
            if ep.security == "SIGNED":
                auth.check_rest(params, raw_query, raw_body)
                allowed = allowed | SIGNED_PARAMS
            params.check_known(allowed)
            if ep.order:
                limiter.charge_order(core.account)
            result = ep.handler(Call(params, ip, core.now_ms()))
            body = self._enc.encode(result)
        except SimReject as exc:  # an engine refusal no endpoint translated more precisely
            return self._refuse(request, from_reject(self.product, exc), limiter.headers(ip, account)), False
        except BinanceApiError as err:
            return self._refuse(request, err, limiter.headers(ip, account)), False
        except Exception:  # noqa: BLE001 - a simulator bug answers -1000 (as Binance does), the venue serves on
            self.errors += 1
            core.bad.record(f"rest:{self.product}:internal", f"{request.method} {request.path_qs}")
            _log.exception("internal error serving %s %s", request.method, request.path)
            internal = BinanceApiError(-1000, "An unknown error occurred while processing the request.", 500)
            return self.error_response(internal, limiter.headers(ip, account)), False
        return self._response(200, body, limiter.headers(ip, account)), ep.order

    def _refuse(self, request: web.Request, err: BinanceApiError, headers: dict[str, str]) -> web.Response:
        self.errors += 1
        if err.http_status not in (429, 418):
            self.core.bad.record(f"rest:{self.product}:{err.code}", f"{request.method} {request.path_qs}")
        return self.error_response(err, headers)

    async def _sleep(self, ms: int) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ms / 1000):  # not wait_for: 3.11's can lose a cancellation
                await self.stopping.wait()

    async def _unknown_outcome(
        self, request: web.Request, rule: FaultRule, headers: dict[str, str]
    ) -> web.StreamResponse:
        if rule.mode is UnknownOutcomeMode.ERROR:
            return self.error_response(unknown_error(self.product), headers)
        if rule.mode is UnknownOutcomeMode.HANG:
            await self._sleep(self.core.options.hang_ms)
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError
