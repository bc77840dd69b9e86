"""The REST pipeline every ``/v5/...`` endpoint goes through.

Order of checks: injected faults → a GET carrying a body (HTTP 403, as Bybit's gateway) → IP
limit (403) → parameters → API key, timestamp and signature (10003/10002/10004) → per-UID
endpoint limit (10006) → the endpoint. Replies are the v5 envelope
``{"retCode","retMsg","result","retExtInfo","time"}``; business errors travel with HTTP 200.
Private replies carry ``X-Bapi-Limit``, ``X-Bapi-Limit-Status`` and
``X-Bapi-Limit-Reset-Timestamp``. An accepted order may then meet an ``unknown_outcome``
fault; finally ``delay_ms`` holds the reply.

Fault hosts: a rule's ``host`` selects the category of the request (``spot`` → ``spot``,
``futures`` → ``linear``); requests without a category match rules without a host only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
from aiohttp import web

from exchanges.sim.engine import SimReject
from exchanges.sim.faults import FaultRule, HttpFault, UnknownOutcomeMode

from .api_errors import BybitApiError, Category, from_reject
from .core import BybitCore
from .params import Params, parse_body, parse_query
from .ratelimit import IpBanned

__all__ = ["Call", "Endpoint", "RestHost", "Envelope", "fault_host"]

_log = logging.getLogger("exchanges.bybit.sim.rest")
_JSON = "application/json"


class Envelope(msgspec.Struct, kw_only=True):
    retCode: int
    retMsg: str
    result: object
    retExtInfo: dict[str, object]
    time: int


@dataclass(slots=True)
class Call:
    """What an endpoint handler gets: parsed parameters, the caller and the request time."""

    params: Params
    ip: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    private: bool
    handler: Callable[[Call], object]
    order: bool = False  # an order placement: subject to unknown-outcome faults
    per_category_limit: bool = False  # the UID limit key includes the category

    def limit_key(self, params: Params) -> str:
        if self.per_category_limit:
            category = params.raw("category")
            if isinstance(category, str) and category:
                return f"{self.path}:{category}"
        return self.path


def fault_host(category: object) -> str:
    if category == "spot":
        return "spot"
    if category == "linear":
        return "futures"
    return ""


def _category_hint(raw_query: str, raw_body: bytes) -> object:
    try:
        params = parse_query(raw_query) if raw_query else parse_body(raw_body)
    except BybitApiError:
        return None
    return params.get("category")


class RestHost:
    """The REST side of the venue."""

    def __init__(self, core: BybitCore, stopping: asyncio.Event) -> None:
        self.core = core
        self.stopping = stopping
        self._enc = msgspec.json.Encoder()
        self.requests = 0
        self.errors = 0

    def handler(self, ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, ep)

        return handle

    # -- replies ----------------------------------------------------------------------------

    def _reply(self, result: object, headers: dict[str, str] | None = None, status: int = 200) -> web.Response:
        body = self._enc.encode(Envelope(retCode=0, retMsg="OK", result=result, retExtInfo={}, time=self.core.now_ms()))
        return web.Response(body=body, status=status, content_type=_JSON, headers=headers)

    def error_response(self, err: BybitApiError, headers: dict[str, str] | None = None) -> web.Response:
        hdrs = dict(headers or {})
        if err.reset_ms is not None:
            hdrs["X-Bapi-Limit-Status"] = "0"
            hdrs["X-Bapi-Limit-Reset-Timestamp"] = str(err.reset_ms)
        body = self._enc.encode(
            Envelope(retCode=err.code, retMsg=err.msg, result={}, retExtInfo={}, time=self.core.now_ms())
        )
        return web.Response(body=body, status=err.http_status, content_type=_JSON, headers=hdrs)

    @staticmethod
    def forbidden(text: str = "403 Forbidden") -> web.Response:
        return web.Response(status=403, text=text, content_type="text/plain")

    def _fault_response(self, rule: FaultRule, ip: str) -> web.Response:
        now = self.core.now_ms()
        if rule.kind is HttpFault.THROTTLE:
            if rule.status == 418:  # Bybit's IP ban: HTTP 403 for the ban's duration
                self.core.limits.ban(ip, now + rule.retry_after_s * 1000)
                return self.forbidden()
            limit = self.core.limits.limit_of("/")
            headers = {"X-Bapi-Limit": str(limit)}
            return self.error_response(
                BybitApiError(10006, "Too many visits!", reset_ms=now + rule.retry_after_s * 1000), headers
            )
        if rule.status in (502, 504):
            title = "502 Bad Gateway" if rule.status == 502 else "504 Gateway Time-out"
            return web.Response(
                status=rule.status,
                content_type="text/html",
                text=f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>",
            )
        return self.error_response(BybitApiError(10016, "Server is busy, please try again later.", rule.status))

    # -- the pipeline -----------------------------------------------------------------------

    async def serve(self, request: web.Request, ep: Endpoint) -> web.StreamResponse:
        self.requests += 1
        core = self.core
        ip = request.remote or "unknown"
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.read() if request.body_exists else b""
        host = fault_host(_category_hint(raw_query, raw_body))
        faults = core.faults
        path = request.path
        for kind in (HttpFault.FAIL, HttpFault.THROTTLE):
            rule = faults.take_http(kind, host, path)
            if rule is not None:
                return self._fault_response(rule, ip)
        response, accepted = self._process(request, ep, ip, raw_query, raw_body)
        if accepted:
            rule = faults.take_http(HttpFault.UNKNOWN_OUTCOME, host, path)
            if rule is not None:
                usage = {k: v for k, v in response.headers.items() if k.lower().startswith("x-bapi-")}
                return await self._unknown_outcome(request, rule, usage)
        if faults.delay_ms:
            await self._sleep(faults.delay_ms)
        return response

    def _process(
        self, request: web.Request, ep: Endpoint, ip: str, raw_query: str, raw_body: bytes
    ) -> tuple[web.Response, bool]:
        """The reply, and whether an order was accepted (subject to unknown-outcome faults)."""
        core = self.core
        headers: dict[str, str] = {}
        try:
            if request.method == "GET" and raw_body:
                core.bad.record("rest:get-with-body", f"{request.method} {request.path_qs}")
                self.errors += 1
                return self.forbidden(), False
            try:
                core.limits.charge_ip(ip)
            except IpBanned:
                self.errors += 1
                return self.forbidden("access too frequent"), False
            params = Params(parse_query(raw_query) if request.method == "GET" else parse_body(raw_body))
            if ep.private:
                payload = raw_query.encode() if request.method == "GET" else raw_body
                core.auth.check_rest(request.headers, payload)
                key = ep.limit_key(params)
                try:
                    headers = core.limits.charge_uid(core.account, key)
                except BybitApiError:
                    headers = core.limits.peek(core.account, key)
                    raise
            result = ep.handler(Call(params, ip, core.now_ms()))
        except SimReject as exc:  # an engine refusal no endpoint translated more precisely
            category: Category = "spot" if _category_hint(raw_query, raw_body) == "spot" else "linear"
            return self._refuse(request, from_reject(category, exc), headers), False
        except BybitApiError as err:
            return self._refuse(request, err, headers), False
        except Exception:  # noqa: BLE001 - a simulator bug answers 10016 (as Bybit does), the venue serves on
            self.errors += 1
            core.bad.record("rest:internal", f"{request.method} {request.path_qs}")
            _log.exception("internal error serving %s %s", request.method, request.path)
            return self.error_response(BybitApiError(10016, "Internal System Error."), headers), False
        return self._reply(result, headers), ep.order

    def _refuse(self, request: web.Request, err: BybitApiError, headers: dict[str, str]) -> web.Response:
        self.errors += 1
        if err.code != 10006:
            self.core.bad.record(f"rest:{err.code}", f"{request.method} {request.path_qs}")
        return self.error_response(err, headers)

    async def _sleep(self, ms: int) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ms / 1000):  # not wait_for: 3.11's can lose a cancellation
                await self.stopping.wait()

    async def _unknown_outcome(
        self, request: web.Request, rule: FaultRule, headers: dict[str, str]
    ) -> web.StreamResponse:
        if rule.mode is UnknownOutcomeMode.ERROR:
            return self.error_response(BybitApiError(10016, "Internal System Error."), headers)
        if rule.mode is UnknownOutcomeMode.HANG:
            await self._sleep(self.core.options.hang_ms)
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError
