"""The OKX REST host: request signing, rate-limit blocks and error translation, as the hooks
of a :class:`~exchanges.transport.http.HttpHost` (which sends, times and classifies delivery
failures).

:class:`OkxHttp` signs exactly what it sends: the GET query is encoded once and signed as part
of ``requestPath``; a POST body is serialized once and the same text is signed and sent. It:

* adds ``OK-ACCESS-KEY/-PASSPHRASE/-TIMESTAMP/-SIGN`` (and ``x-simulated-trading: 1`` for demo
  trading) to private calls;
* on a rate-limit refusal (HTTP 429, ``50011``, ``50061``) blocks *that endpoint* until the
  ``Retry-After`` (default: the 2 s window) passes: calls meanwhile fail fast with
  :class:`RateLimited` without touching the network (OKX sends no usage headers);
* translates venue errors through ``errors.map_error``; an unreadable 200 reply is an
  :class:`UnknownOutcome`;
* with a shared budget (``exchanges.transport.ratelimit``, installed by the runner; the rules in
  ``limits.py``) reserves each call on its rule's window (per user ID, IP, instrument) and a new
  order or amend on the sub-account's 1,000 per 2 s, before signing; a ``50011`` marks the rule's
  window full and a ``50061`` the sub-account's, for every process.

An order operation's envelope with ``code`` ``"1"``/``"2"`` is returned, not raised: the caller
reads each item's ``sCode``. It never retries: retry policy belongs to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from urllib.parse import urlencode, urlsplit

import httpx
import msgspec
from loguru import logger as log

from exchanges.credentials import Credentials
from exchanges.errors import AuthError, ExchangeError, IpBanned, RateLimited, UnknownOutcome
from exchanges.transport.clock import ServerClock
from exchanges.transport.http import HttpHost, retry_after_s
from exchanges.transport.ratelimit import SharedBudget, account_key, active_budgets

from .errors import DEFAULT_RETRY_AFTER_S, VENUE, map_error
from .limits import ORDERS_WINDOW, okx_route, okx_windows
from .rest_schemas import ERROR_DECODER
from .signing import iso_timestamp, sign_rest

__all__ = ["OkxHttp", "encode_query"]

# the rule window of the call this task is sending (a refusal in its reply marks it full)
_sending_group: ContextVar[str] = ContextVar("okx_limit_group", default="")

_JSON = {"Content-Type": "application/json"}
_ITEM_CODES = ("1", "2")


def encode_query(params: Mapping[str, object]) -> str:
    """URL-encode params in order, no None values, booleans as ``true``/``false``."""
    pairs = []
    for k, v in params.items():
        if v is None:
            continue
        pairs.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return urlencode(pairs)


def _code(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


class OkxHttp:
    """Sends requests to the OKX REST host; signs private ones."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        clock: ServerClock,
        *,
        simulated_trading: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._simulated = simulated_trading
        self._monotonic = monotonic
        self._host = HttpHost(VENUE, base_url, self, transport=transport, timeout_s=timeout_s)
        self.base_url = self._host.base_url
        self._blocked_until: dict[str, tuple[float, bool]] = {}
        registry = active_budgets.get()
        self.budget: SharedBudget | None = (
            registry.get(
                VENUE,
                okx_windows(),
                account=account_key(credentials),
                endpoint=urlsplit(str(self.base_url)).netloc,
                now_ms=clock.now_ms,
            )
            if registry is not None
            else None
        )

    @property
    def requests_sent(self) -> int:
        return self._host.requests_sent

    async def aclose(self) -> None:
        await self._host.aclose()

    def blocked_for_s(self, path: str) -> float:
        until, _ = self._blocked_until.get(path, (0.0, False))
        return max(0.0, until - self._monotonic())

    async def before(self, method: str, path: str) -> None:
        """Fail fast while ``path`` is blocked after a rate-limit refusal (nothing is sent)."""
        until, banned = self._blocked_until.get(path, (0.0, False))
        remaining = until - self._monotonic()
        if remaining <= 0:
            return
        cls = IpBanned if banned else RateLimited
        raise cls(
            f"{method} {path} not sent: rate limited for another {remaining:.1f}s",
            retry_after_s=remaining,
            venue=VENUE,
        )

    def _block(self, path: str, status: int, retry_after_s: float | None) -> float:
        wait = retry_after_s if retry_after_s is not None else DEFAULT_RETRY_AFTER_S
        until = self._monotonic() + wait
        old, banned = self._blocked_until.get(path, (0.0, False))
        self._blocked_until[path] = (max(old, until), banned or status == 418)
        return wait

    def _headers(self, method: str, request_path: str, body: str, signed: bool) -> dict[str, str]:
        headers: dict[str, str] = dict(_JSON) if method == "POST" else {}
        if self._simulated:
            headers["x-simulated-trading"] = "1"
        if not signed:
            return headers
        creds = self._credentials
        if creds is None:
            raise AuthError(f"{method} {request_path} needs OKX API credentials", venue=VENUE)
        ts = iso_timestamp(self._clock.now_ms())
        headers.update(
            {
                "OK-ACCESS-KEY": creds.api_key,
                "OK-ACCESS-PASSPHRASE": creds.passphrase,
                "OK-ACCESS-TIMESTAMP": ts,
                "OK-ACCESS-SIGN": sign_rest(creds.api_secret, ts, method, request_path, body),
            }
        )
        return headers

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        code: int | None = None
        msg = ""
        try:
            env = ERROR_DECODER.decode(response.content)
            code, msg = _code(env.code), env.msg
        except (msgspec.DecodeError, msgspec.ValidationError):
            msg = response.text[:200].strip()
        retry_after = retry_after_s(response.headers.get("retry-after"))
        if response.status_code in (418, 429) or code in (50011, 50061):
            retry_after = self._block(path, response.status_code, retry_after)
            self._spent(_sending_group.get(), code)
        return map_error(response.status_code, code, msg, retry_after)

    async def reserve(self, method: str, path: str, params: Mapping[str, object] | None, body: object) -> str:
        """Take the call's cost from the shared budget (waiting or refusing as it says) — a REST
        call, or an order operation on the WebSocket, which shares its REST twin's limits; the
        rule window it counted in ("" none), for :meth:`spent`."""
        if self.budget is None:
            return ""
        route, window = okx_route(method, path, params or {}, body)
        if window is not None:
            self.budget.add_window(window)
        await self.budget.take(route)
        return route.group

    def spent(self, group: str, code: int | None) -> None:
        """The venue refused with ``code`` (50011: ``group``'s window, 50061: the account's
        orders): that window is full, for every process (next reservation)."""
        self._spent(group, code)

    def _spent(self, group: str, code: int | None) -> None:
        """A refusal: the window the venue counted is full, for every process (next reservation)."""
        budget = self.budget
        if budget is None:
            return
        name = ORDERS_WINDOW.name if code == 50061 else group
        window = budget.window(name) if name else None
        if window is not None:
            budget.observe(name, window.limit)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: object | None = None,
        signed: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """Send one request; the response body when the envelope says ``0`` (or carries items).
        ``extra_headers``: unsigned headers such as ``expTime`` (the request's deadline)."""
        _sending_group.set(await self.reserve(method, path, params, body))  # before signing
        query = encode_query(params or {})
        request_path = f"{path}?{query}" if query else path
        text = msgspec.json.encode(body).decode() if body is not None else ""
        headers = self._headers(method, request_path, text, signed)
        if extra_headers:
            headers.update(extra_headers)
        return await self._host.send(method, path, query=query, body=text, headers=headers)

    def after(self, method: str, path: str, response: httpx.Response) -> bytes:
        """The body when the envelope says ``0`` (or carries items), else the mapped error."""
        if response.status_code != 200:
            err = self._error(path, response)
            log.debug("okx {} {} -> {}", method, path, err)
            raise err
        try:
            env = ERROR_DECODER.decode(response.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UnknownOutcome(f"{method} {path}: unreadable reply {response.content[:200]!r}", venue=VENUE) from exc
        if env.code == "0" or (env.code in _ITEM_CODES and b'"sCode"' in response.content):
            return response.content
        err = self._error(path, response)
        log.debug("okx {} {} -> {}", method, path, err)
        raise err
