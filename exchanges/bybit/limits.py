"""Bybit's rate limits as the shared budget counts them (``exchanges.transport.ratelimit``).

Bybit v5 limits (reference §4):

* **per IP**: 600 requests per 5 s across the REST hosts; over it HTTP 403 and the IP is banned
  for about 10 minutes (a pause of every process of the scope, as Binance's 418);
* **per UID and endpoint**: a rolling second per limit key — the path, or ``path:category``
  where spot and linear have limits of their own (``order/create`` linear 10/s, spot 20/s...).
  Every private reply says where its key stands (``X-Bapi-Limit`` cap, ``X-Bapi-Limit-Status``
  remaining, ``X-Bapi-Limit-Reset-Timestamp``); the budget takes the cap as the venue's own and
  the used count (cap − remaining) as a reconciliation; ``retCode`` 10006 means the key is spent.

The rolling second is counted as clock-aligned seconds with an edge guard of half a second (a
request counts in its second and the nearer neighbour), which never lets any rolling second
hold more than the cap — at the price of half the nominal rate shared by the processes.
"""

from __future__ import annotations

from collections.abc import Mapping

from exchanges.transport.ratelimit import Route, Window

__all__ = ["IP_WINDOW", "UID_LIMITS", "DEFAULT_UID_LIMIT", "bybit_windows", "limit_key", "bybit_route", "uid_window"]

IP_WINDOW = Window("ip_5s", "weight", 5_000, 600, per="ip")
#: per-UID requests per rolling second, by limit key (the documented defaults; a reply's
#: ``X-Bapi-Limit`` replaces them). The offline venue enforces the same table by default.
UID_LIMITS: dict[str, int] = {
    "/v5/order/create:linear": 10,
    "/v5/order/create:spot": 20,
    "/v5/order/cancel:linear": 10,
    "/v5/order/cancel:spot": 20,
    "/v5/order/cancel-all:linear": 10,
    "/v5/order/cancel-all:spot": 20,
    "/v5/order/amend": 10,
    "/v5/order/realtime": 50,
    "/v5/order/history": 50,
    "/v5/execution/list": 50,
    "/v5/position/list": 50,
    "/v5/position/set-leverage": 10,
    "/v5/position/switch-mode": 10,
    "/v5/account/wallet-balance": 50,
    "/v5/account/info": 50,
    "/v5/account/fee-rate": 10,
    "/v5/account/transaction-log": 30,
    "/v5/user/query-api": 10,
}
DEFAULT_UID_LIMIT = 50  # a private endpoint the table does not name, until its first reply says
_PER_CATEGORY = frozenset({"/v5/order/create", "/v5/order/cancel", "/v5/order/cancel-all"})
_URGENT = frozenset({"/v5/order/create", "/v5/order/cancel", "/v5/order/cancel-all", "/v5/order/amend"})


def uid_window(key: str, limit: int) -> Window:
    return Window(key, "calls", 1_000, limit, group=key, per="account")


def bybit_windows() -> list[Window]:
    return [IP_WINDOW, *(uid_window(key, limit) for key, limit in UID_LIMITS.items())]


def limit_key(path: str, params: Mapping[str, object]) -> str:
    """The per-UID limit key of a private call (as Bybit counts it)."""
    category = params.get("category")
    if path in _PER_CATEGORY and isinstance(category, str) and category:
        return f"{path}:{category}"
    return path


def bybit_route(path: str, params: Mapping[str, object], *, signed: bool) -> Route:
    """A call's cost: one request of the IP's 600/5 s and, when private, one of its UID key."""
    return Route(
        group=limit_key(path, params) if signed else "",
        order=path == "/v5/order/create",
        urgent=path in _URGENT,
    )
