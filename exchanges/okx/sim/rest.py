"""The REST request pipeline every OKX endpoint goes through.

Order of checks: injected faults (5xx / 429 before anything runs) → body (POST: JSON, 50002
when it is not) → security for private endpoints (501xx, HTTP 401) → rate limit (50011, 429)
→ the endpoint. Replies are the envelope ``{"code":"0","msg":"","data":[...]}``; order
operations answer per item (``sCode``) with ``code`` ``0``/``1``/``2`` and ``inTime``/``outTime``.
An order operation that was accepted may then meet an ``unknown_outcome`` fault (the reply is
``50004`` "endpoint request timeout", a hang or a dropped connection); finally ``delay_ms``
holds the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import msgspec
from aiohttp import web

from exchanges.sim.engine import SimReject
from exchanges.sim.faults import FaultRule, HttpFault, UnknownOutcomeMode

from .api_errors import EXP_TIME_PATHS, ItemError, OkxApiError, exp_time_refusal, from_reject
from .core import OkxCore
from .params import Args

__all__ = ["Endpoint", "Call", "OpResult", "RestHost", "fault_host"]

_log = logging.getLogger("exchanges.okx.sim.rest")
_JSON = "application/json"
_PARAM_CODES = frozenset({50014, 51000, 51001})


@dataclass(slots=True)
class Call:
    """What a handler gets: the query (GET) or JSON body (POST) and the caller."""

    query: Mapping[str, str]
    body: object
    ip: str
    now_ms: int
    in_time_us: int

    def args(self) -> Args:
        """GET: the query; POST: the body object (an array body is refused here)."""
        if isinstance(self.body, dict):
            return Args(self.body)
        if self.body is None:
            return Args(self.query)
        raise OkxApiError(50000, "Body for POST request cannot be an array here.", 400)

    def items(self, max_items: int) -> list[dict[str, object]]:
        """A batch body: an array of objects (1..max_items)."""
        body = self.body
        if not isinstance(body, list) or not body or not all(isinstance(i, dict) for i in body):
            raise OkxApiError(50000, "Body for POST request cannot be empty.", 400)
        if len(body) > max_items:
            raise OkxApiError(51000, f"Parameter the number of orders must be no more than {max_items}", 400)
        return [dict(i) for i in body]


@dataclass(slots=True)
class OpResult:
    """Per-item results of an order operation (``sCode`` "0" = done)."""

    items: list[object]
    ok: int

    @property
    def code(self) -> tuple[str, str]:
        if self.ok == len(self.items):
            return "0", ""
        if self.ok == 0:
            return "1", "All operations failed"
        return "2", "Bulk operation partially succeeded"


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    private: bool
    rule: str
    handler: Callable[[Call], list[object] | OpResult]
    per_inst: bool = False
    order_op: bool = False
    weight: Callable[[Call], int] | None = None
    new_orders: bool = False  # places or amends: counts in the account's 1,000 per 2 s (50061)


class _Envelope(msgspec.Struct, omit_defaults=True):
    code: str
    msg: str
    data: list[object]
    inTime: str = ""
    outTime: str = ""


class RestHost:
    """The REST pipeline of the venue's one host."""

    def __init__(self, core: OkxCore, stopping: asyncio.Event) -> None:
        self.core = core
        self.stopping = stopping
        self._enc = msgspec.json.Encoder()
        self.requests = 0
        self.errors = 0

    def handler(self, ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, ep)

        return handle

    # -- responses --------------------------------------------------------------------------

    def _response(self, status: int, envelope: _Envelope, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            body=self._enc.encode(envelope), status=status, content_type=_JSON, charset="utf-8", headers=headers
        )

    def error_response(self, err: OkxApiError) -> web.Response:
        headers = {"Retry-After": str(err.retry_after_s)} if err.retry_after_s is not None else None
        return self._response(err.http_status, _Envelope(code=str(err.code), msg=err.msg, data=[]), headers)

    def _fault_response(self, rule: FaultRule) -> web.Response:
        if rule.kind is HttpFault.THROTTLE:
            err = OkxApiError(50011, "Too Many Requests", rule.status, retry_after_s=rule.retry_after_s)
            return self.error_response(err)
        if rule.status in (502, 504):
            title = "502 Bad Gateway" if rule.status == 502 else "504 Gateway Time-out"
            return web.Response(
                status=rule.status,
                content_type="text/html",
                text=f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>",
            )
        if rule.status == 500:
            return self.error_response(OkxApiError(50026, "System error. Try again later", 500))
        return self.error_response(OkxApiError(50001, "Service temporarily unavailable. Try again later", rule.status))

    # -- pipeline ---------------------------------------------------------------------------

    async def serve(self, request: web.Request, ep: Endpoint) -> web.StreamResponse:
        self.requests += 1
        faults = self.core.faults
        path = request.path
        host = fault_host(request.query.get("instId", "") or request.query.get("instType", ""))
        if request.method == "POST" and request.body_exists:
            host = fault_host((await request.read())[:200].decode("utf-8", "replace"))
        for kind in (HttpFault.FAIL, HttpFault.THROTTLE):
            rule = faults.take_http(kind, host, path)
            if rule is not None:
                return self._fault_response(rule)
        response, accepted = await self._process(request, ep)
        if accepted:
            rule = faults.take_http(HttpFault.UNKNOWN_OUTCOME, host, path)
            if rule is not None:
                return await self._unknown_outcome(request, rule)
        if faults.delay_ms:
            await self._sleep(faults.delay_ms)
        return response

    async def _read_body(self, request: web.Request) -> tuple[bytes, object]:
        raw = await request.read() if request.body_exists else b""
        if request.method != "POST":
            return raw, None
        if not raw.strip():
            return raw, {}
        try:
            return raw, msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise OkxApiError(50002, "JSON syntax error", 400) from None

    async def _process(self, request: web.Request, ep: Endpoint) -> tuple[web.Response, bool]:
        """The reply, and whether an order operation was accepted (for unknown-outcome faults)."""
        core = self.core
        ip = request.remote or "unknown"
        in_time_us = time.time_ns() // 1000
        try:
            raw, body = await self._read_body(request)
            if ep.private:
                core.auth.check_rest(request.headers, request.method, request.raw_path, raw)
            exp_time = request.headers.get("expTime")
            if exp_time is not None and request.method == "POST" and request.path in EXP_TIME_PATHS:
                expired = exp_time_refusal(exp_time, core.now_ms(), ws=False)
                if expired is not None:
                    raise expired
            call = Call(request.query, body, ip, core.now_ms(), in_time_us)
            scope = core.options.uid if ep.private else ip
            if ep.per_inst:
                scope += "/" + _inst_scope(call)
            weight = ep.weight(call) if ep.weight is not None else 1
            core.limits.charge(ep.rule, scope, weight)
            if ep.new_orders:
                core.limits.charge_new_orders(core.options.uid, weight)
            result = ep.handler(call)
        except OkxApiError as err:
            return self._refuse(request, err), False
        except ItemError as err:
            status = 400 if err.code in _PARAM_CODES else 200
            return self._refuse(request, OkxApiError(err.code, err.msg, status)), False
        except SimReject as exc:
            err_item = from_reject(exc, settle="USDT", spend="USDT")
            return self._refuse(request, OkxApiError(err_item.code, err_item.msg, 200)), False
        except Exception:  # noqa: BLE001 - a simulator bug answers 50026 (as OKX does), the venue serves on
            self.errors += 1
            core.bad.record("rest:internal", f"{request.method} {request.path_qs}")
            _log.exception("internal error serving %s %s", request.method, request.path)
            return self.error_response(OkxApiError(50026, "System error. Try again later", 500)), False
        if isinstance(result, OpResult):
            code, msg = result.code
            out_us = str(time.time_ns() // 1000)
            env = _Envelope(code=code, msg=msg, data=result.items, inTime=str(in_time_us), outTime=out_us)
            if result.ok < len(result.items):
                core.bad.record(f"rest:order-op:{code}", f"{request.method} {request.path}")
            return self._response(200, env), result.ok > 0
        return self._response(200, _Envelope(code="0", msg="", data=result)), False

    def _refuse(self, request: web.Request, err: OkxApiError) -> web.Response:
        self.errors += 1
        if err.http_status != 429:
            self.core.bad.record(f"rest:{err.code}", f"{request.method} {request.path_qs}")
        return self.error_response(err)

    async def _sleep(self, ms: int) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ms / 1000):  # not wait_for: 3.11's can lose a cancellation
                await self.stopping.wait()

    async def _unknown_outcome(self, request: web.Request, rule: FaultRule) -> web.StreamResponse:
        if rule.mode is UnknownOutcomeMode.ERROR:
            return self.error_response(
                OkxApiError(
                    50004,
                    "API endpoint request timeout (does not mean that the request was successful or failed, "
                    "please check the request result).",
                    400,
                )
            )
        if rule.mode is UnknownOutcomeMode.HANG:
            await self._sleep(self.core.options.hang_ms)
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError


def fault_host(text: str) -> str:
    """The fault-rule ``host`` a request belongs to: ``futures`` for swaps, else ``spot``
    (the shared fault knobs name Binance's two hosts; OKX serves both kinds on one)."""
    return "futures" if "SWAP" in text else "spot"


def _inst_scope(call: Call) -> str:
    body = call.body
    if isinstance(body, dict):
        return str(body.get("instId", ""))
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("instId", ""))
    return call.query.get("instId", "")
