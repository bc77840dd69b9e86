"""What one Binance REST or WS-API request costs against the shared budget
(``exchanges.transport.ratelimit``). The WS-API shares REQUEST_WEIGHT and ORDERS with REST (one
quota per IP and account): a WS-API method costs what its REST twin costs (:data:`_WS_TWINS`).

Binance publishes its limits in ``exchangeInfo.rateLimits`` but not each endpoint's weight; the
weights below are the documented ones of the endpoints ``rest.py`` calls (anything else counts 1).
An estimate that is off is corrected by the usage headers the venue returns with every response.
"""

from __future__ import annotations

from collections.abc import Container
from typing import NamedTuple
from urllib.parse import parse_qs

from .errors import Product

__all__ = ["Cost", "request_cost", "ws_api_cost"]


class Cost(NamedTuple):
    weight: int
    order: bool  # counts in the ORDERS windows (a new order)
    urgent: bool  # order placement, cancel or the user-data key: may use the order reserve, refused rather than queued
    stream_key: bool = False  # the user-data key: may pass the process's own share while Redis is away or just back


_ORDER_PATHS = frozenset({"/api/v3/order", "/fapi/v1/order"})
_CANCEL_PATHS = _ORDER_PATHS | {"/fapi/v1/allOpenOrders", "/api/v3/openOrders"}
# The user-data stream's key (create, keep alive): orders' fates arrive on that stream, so it is as
# urgent as an order — a key parked behind reconciliation reads left the stream down for a window.
_USER_STREAM_PATHS = frozenset({"/api/v3/userDataStream", "/fapi/v1/listenKey"})

# (method, path) -> weight; (weight with symbol, weight without) for the symbol-optional lists
_WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/fapi/v1/order"): 1,
    ("POST", "/fapi/v1/order"): 0,
    ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v2/positionRisk"): 5,
    ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v1/income"): 30,
    ("GET", "/fapi/v1/fundingInfo"): 0,
}
_LISTS: dict[tuple[str, str], tuple[int, int]] = {
    ("GET", "/api/v3/openOrders"): (6, 80),
    ("GET", "/fapi/v1/openOrders"): (1, 40),
    ("GET", "/fapi/v1/premiumIndex"): (1, 10),
}


def _depth_weight(product: Product, limit: int) -> int:
    if product == "futures":
        return 2 if limit <= 50 else {100: 5, 500: 10}.get(limit, 20)
    if limit <= 100:
        return 5
    return 25 if limit <= 500 else 50 if limit <= 1000 else 250


def request_cost(product: Product, method: str, path: str, params: str) -> Cost:
    """The cost of ``method path`` with the URL-encoded ``params`` (query or form body)."""
    fields = parse_qs(params) if params else {}
    limit = fields.get("limit", ["100"])[0]
    return _cost(product, method, path, fields, int(limit) if limit.isdigit() else 100)


def _cost(product: Product, method: str, path: str, fields: Container[str], depth_limit: int) -> Cost:
    order = method == "POST" and path in _ORDER_PATHS
    stream_key = method in ("POST", "PUT") and path in _USER_STREAM_PATHS
    urgent = order or (method == "DELETE" and path in _CANCEL_PATHS) or stream_key
    known = _WEIGHTS.get((method, path))
    if known is not None:
        return Cost(known, order, urgent, stream_key)
    pair = _LISTS.get((method, path))
    if pair is not None:
        return Cost(pair[0] if "symbol" in fields else pair[1], order, urgent, stream_key)
    if path.endswith("/depth"):
        return Cost(_depth_weight(product, depth_limit), order, urgent, stream_key)
    return Cost(1, order, urgent, stream_key)


# WS-API method -> its REST twin (method, spot path, futures path); "" = no such method there
_WS_TWINS: dict[str, tuple[str, str, str]] = {
    "order.place": ("POST", "/api/v3/order", "/fapi/v1/order"),
    "order.cancel": ("DELETE", "/api/v3/order", "/fapi/v1/order"),
    "order.status": ("GET", "/api/v3/order", "/fapi/v1/order"),
    "openOrders.status": ("GET", "/api/v3/openOrders", "/fapi/v1/openOrders"),
    "openOrders.cancelAll": ("DELETE", "/api/v3/openOrders", ""),
    "account.status": ("GET", "/api/v3/account", "/fapi/v3/account"),
    "v2/account.status": ("GET", "", "/fapi/v3/account"),
    "depth": ("GET", "/api/v3/depth", "/fapi/v1/depth"),
    "exchangeInfo": ("GET", "/api/v3/exchangeInfo", ""),
}
# the user-data stream's key or subscription over the WS-API: as urgent as the REST key (above)
_WS_STREAM_KEY = frozenset(
    {"userDataStream.start", "userDataStream.ping", "userDataStream.subscribe", "userDataStream.subscribe.signature"}
)
_WS_URGENT = frozenset({"order.modify", "order.cancelReplace"}) | _WS_STREAM_KEY


def ws_api_cost(product: Product, method: str, params: dict[str, object]) -> Cost:
    """The cost of the WS-API request ``method`` with ``params`` (what its REST twin costs;
    an amend or cancel-replace is urgent, the replace one new order; anything else counts 1)."""
    twin = _WS_TWINS.get(method)
    path = "" if twin is None else twin[1] if product == "spot" else twin[2]
    if twin is not None and path:
        limit = params.get("limit", 100)
        return _cost(product, twin[0], path, params, limit if isinstance(limit, int) else 100)
    return Cost(1, method == "order.cancelReplace", method in _WS_URGENT, method in _WS_STREAM_KEY)
